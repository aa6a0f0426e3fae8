-- Daily performance aggregates per inverter (postgres flavour; keep in step with ../sqlite/0007_inverter_days.sql).
-- prognos_features::inverter::DailyPerformance: the sums behind degradation_pct_per_year (performance index)
-- and peer_trend_pct_per_day (peer ratio). The live path recomputes only the windows a batch touches; the
-- slow features need every earlier day, which it reads from here instead of re-reading months of raw
-- readings. A day recomputed after late readings replaces its row. Kept for good (retention keeps daily
-- aggregates).
CREATE TABLE inverter_days (
    asset_id     TEXT NOT NULL REFERENCES assets (id),
    day          TIMESTAMPTZ NOT NULL,
    site         TEXT NOT NULL REFERENCES sites (id),
    ac_sum       DOUBLE PRECISION NOT NULL,
    expected_sum DOUBLE PRECISION NOT NULL,
    peer_ac_sum  DOUBLE PRECISION NOT NULL,
    peer_sum     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (asset_id, day)
);
CREATE INDEX inverter_days_site_day ON inverter_days (site, day);
