-- Model operations, SQLite flavour (keep in step with ../postgres/0005_model_ops.sql).
-- model_selections: the version each model serves, chosen by an operator (activate, rollback, promote), so that a
-- restart keeps it; the previous version (the rollback target) and the shadow candidate travel with it.
-- inspections: what an inspection of an asset found; the labels `prognos export training-data` joins to the
-- stored feature rows.

CREATE TABLE model_selections (
    model             TEXT PRIMARY KEY NOT NULL,
    active_version    TEXT NOT NULL,
    previous_version  TEXT,
    shadow_version    TEXT,
    updated_at        TEXT NOT NULL CHECK (length(updated_at) = 27),
    updated_by        TEXT NOT NULL
);

CREATE TABLE inspections (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_id      TEXT NOT NULL,
    asset_kind    TEXT NOT NULL CHECK (asset_kind IN ('wheel', 'inverter')),
    inspected_at  TEXT NOT NULL CHECK (length(inspected_at) = 27),
    outcome       TEXT NOT NULL CHECK (length(outcome) > 0),
    severity      REAL CHECK (severity IS NULL OR (severity >= 0 AND severity <= 1)),
    notes         TEXT NOT NULL,
    recorded_by   TEXT NOT NULL,
    recorded_at   TEXT NOT NULL CHECK (length(recorded_at) = 27)
);
CREATE INDEX inspections_asset_time ON inspections (asset_id, inspected_at);
CREATE INDEX inspections_time ON inspections (inspected_at);
