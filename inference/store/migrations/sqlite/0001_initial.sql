-- Prognos store, SQLite flavour (keep in step with ../postgres/0001_initial.sql).
-- Timestamps are UTC RFC 3339 text with exactly six fractional digits and a trailing Z
-- ("2024-05-01T12:00:00.000000Z", 27 characters), so text order is time order; the CHECKs keep it so.
-- JSON columns are TEXT holding one object whose key order is meaningful (feature order, class order).

CREATE TABLE sites (
    id          TEXT PRIMARY KEY NOT NULL,
    first_seen  TEXT NOT NULL CHECK (length(first_seen) = 27),
    last_seen   TEXT NOT NULL CHECK (length(last_seen) = 27)
);

CREATE TABLE assets (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('wheel', 'inverter')),
    site        TEXT NOT NULL REFERENCES sites (id),
    first_seen  TEXT NOT NULL CHECK (length(first_seen) = 27),
    last_seen   TEXT NOT NULL CHECK (length(last_seen) = 27)
);
CREATE INDEX assets_site ON assets (site);

CREATE TABLE captures (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash    TEXT NOT NULL UNIQUE,
    site            TEXT NOT NULL REFERENCES sites (id),
    camera          TEXT NOT NULL,
    asset_id        TEXT NOT NULL REFERENCES assets (id),
    run_count       INTEGER,
    captured_at     TEXT NOT NULL CHECK (length(captured_at) = 27),
    received_at     TEXT NOT NULL CHECK (length(received_at) = 27),
    source          TEXT NOT NULL,
    width           INTEGER NOT NULL,
    profiles        INTEGER NOT NULL,
    height_units    TEXT NOT NULL,
    mean_height     REAL NOT NULL,
    mean_intensity  REAL NOT NULL
);
CREATE INDEX captures_asset_time ON captures (asset_id, captured_at);
CREATE INDEX captures_site_camera_time ON captures (site, camera, captured_at);

-- One row per capture (capture_id set) or per reading window of an asset (window_start/window_end set).
CREATE TABLE feature_rows (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    capture_id      INTEGER REFERENCES captures (id) ON DELETE CASCADE,
    asset_id        TEXT NOT NULL REFERENCES assets (id),
    window_start    TEXT CHECK (length(window_start) = 27),
    window_end      TEXT CHECK (length(window_end) = 27),
    feature_set     TEXT NOT NULL,
    feature_values  TEXT NOT NULL,
    observed_at     TEXT NOT NULL CHECK (length(observed_at) = 27),
    CHECK ((capture_id IS NOT NULL AND window_start IS NULL AND window_end IS NULL)
        OR (capture_id IS NULL AND window_start IS NOT NULL AND window_end IS NOT NULL))
);
CREATE UNIQUE INDEX feature_rows_capture ON feature_rows (capture_id, feature_set) WHERE capture_id IS NOT NULL;
CREATE UNIQUE INDEX feature_rows_window ON feature_rows (asset_id, feature_set, window_start) WHERE capture_id IS NULL;
CREATE INDEX feature_rows_asset_time ON feature_rows (asset_id, feature_set, observed_at);

CREATE TABLE predictions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_id        TEXT NOT NULL REFERENCES assets (id),
    capture_id      INTEGER REFERENCES captures (id) ON DELETE CASCADE,
    feature_row_id  INTEGER REFERENCES feature_rows (id) ON DELETE CASCADE,
    model           TEXT NOT NULL,
    model_version   TEXT NOT NULL,
    health_score    REAL NOT NULL,
    label           TEXT NOT NULL,
    probabilities   TEXT NOT NULL,
    scored_at       TEXT NOT NULL CHECK (length(scored_at) = 27)
);
CREATE INDEX predictions_asset_time ON predictions (asset_id, scored_at);
CREATE INDEX predictions_time ON predictions (scored_at);
CREATE INDEX predictions_capture ON predictions (capture_id);
CREATE INDEX predictions_feature_row ON predictions (feature_row_id);

CREATE TABLE quarantine (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    source  TEXT NOT NULL,
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL CHECK (length(at) = 27)
);
CREATE INDEX quarantine_at ON quarantine (at);
