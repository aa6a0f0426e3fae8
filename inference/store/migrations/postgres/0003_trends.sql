-- Trends, retention and replica coordination, PostgreSQL flavour (keep in step with ../sqlite/0003_trends.sql,
-- which explains each table).

ALTER TABLE predictions ADD COLUMN observed_at TIMESTAMPTZ;
UPDATE predictions SET observed_at = COALESCE(
    (SELECT c.captured_at FROM captures c WHERE c.id = predictions.capture_id),
    (SELECT COALESCE(f.window_end, f.observed_at) FROM feature_rows f WHERE f.id = predictions.feature_row_id),
    scored_at);
CREATE FUNCTION predictions_fill_observed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.observed_at IS NULL THEN
        NEW.observed_at := COALESCE(
            (SELECT c.captured_at FROM captures c WHERE c.id = NEW.capture_id),
            (SELECT COALESCE(f.window_end, f.observed_at) FROM feature_rows f WHERE f.id = NEW.feature_row_id),
            NEW.scored_at);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER predictions_fill_observed_at BEFORE INSERT ON predictions
    FOR EACH ROW WHEN (NEW.observed_at IS NULL) EXECUTE FUNCTION predictions_fill_observed_at();
ALTER TABLE predictions ALTER COLUMN observed_at SET NOT NULL;
CREATE INDEX predictions_asset_observed ON predictions (asset_id, observed_at) INCLUDE (health_score);
CREATE INDEX predictions_observed ON predictions (observed_at);

CREATE TABLE daily_aggregates (
    asset_id  TEXT NOT NULL,
    metric    TEXT NOT NULL,
    day       TIMESTAMPTZ NOT NULL,
    min       DOUBLE PRECISION NOT NULL,
    max       DOUBLE PRECISION NOT NULL,
    sum       DOUBLE PRECISION NOT NULL,
    count     BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (asset_id, metric, day)
);

CREATE TABLE retention_watermarks (
    name   TEXT PRIMARY KEY,
    until  TIMESTAMPTZ NOT NULL
);

CREATE TABLE work_claims (
    key         TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    claimed_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX work_claims_expiry ON work_claims (expires_at);
