-- Trends, retention and replica coordination, SQLite flavour (keep in step with ../postgres/0003_trends.sql).

-- When the scored input was observed: a wheel capture's capture time, an inverter window's end. Trends bucket by
-- it, so a replayed 2020 plant charts in 2020 whatever `scored_at` says. Writers set it; a row inserted without
-- it gets it from its capture, else its feature row (window end, else observed_at), else `scored_at` (trigger).
ALTER TABLE predictions ADD COLUMN observed_at TEXT CHECK (observed_at IS NULL OR length(observed_at) = 27);
UPDATE predictions SET observed_at = COALESCE(
    (SELECT c.captured_at FROM captures c WHERE c.id = predictions.capture_id),
    (SELECT COALESCE(f.window_end, f.observed_at) FROM feature_rows f WHERE f.id = predictions.feature_row_id),
    scored_at);
CREATE TRIGGER predictions_fill_observed_at AFTER INSERT ON predictions
WHEN NEW.observed_at IS NULL
BEGIN
    UPDATE predictions SET observed_at = COALESCE(
        (SELECT c.captured_at FROM captures c WHERE c.id = NEW.capture_id),
        (SELECT COALESCE(f.window_end, f.observed_at) FROM feature_rows f WHERE f.id = NEW.feature_row_id),
        NEW.scored_at)
    WHERE id = NEW.id;
END;
-- The trend query reads only this index (covering: asset, time, score); listings page through it newest first.
CREATE INDEX predictions_asset_observed ON predictions (asset_id, observed_at, health_score);
CREATE INDEX predictions_observed ON predictions (observed_at);

-- Per asset, per UTC day, per metric: kept for good. Trends read them for days before the asset's raw data
-- (see `retention_watermarks`). `day` is midnight UTC. `metric` is health_score, mean_height, mean_intensity or
-- `<feature_set>:<feature>` for window feature rows.
CREATE TABLE daily_aggregates (
    asset_id  TEXT NOT NULL,
    metric    TEXT NOT NULL,
    day       TEXT NOT NULL CHECK (length(day) = 27),
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    sum       REAL NOT NULL,
    count     INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (asset_id, metric, day)
);

-- How far retention has aggregated and deleted: raw rows observed before `until` are gone (their days live in
-- daily_aggregates). One row per retention job (`predictions`, or a declared table).
CREATE TABLE retention_watermarks (
    name   TEXT PRIMARY KEY NOT NULL,
    until  TEXT NOT NULL CHECK (length(until) = 27)
);

-- Work claimed by one replica: a capture's content hash (or any key) while it is being scored. A claim whose
-- `expires_at` has passed belongs to a replica that died and may be taken over.
CREATE TABLE work_claims (
    key         TEXT PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL,
    claimed_at  TEXT NOT NULL CHECK (length(claimed_at) = 27),
    expires_at  TEXT NOT NULL CHECK (length(expires_at) = 27)
);
CREATE INDEX work_claims_expiry ON work_claims (expires_at);
