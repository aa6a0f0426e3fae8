-- Raw inverter readings, PostgreSQL flavour (keep in step with ../sqlite/0004_readings.sql).
-- One row per inverter and instant, one column per canonical metric (prognos_core::Metric, NULL = not
-- reported). The primary key (asset_id, ts) makes ingestion idempotent: a repeated reading is not stored twice.
CREATE TABLE readings (
    asset_id         TEXT NOT NULL REFERENCES assets (id),
    ts               TIMESTAMPTZ NOT NULL,
    site             TEXT NOT NULL REFERENCES sites (id),
    ac_power_w       DOUBLE PRECISION,
    ac_current_a     DOUBLE PRECISION,
    ac_voltage_v     DOUBLE PRECISION,
    ac_frequency_hz  DOUBLE PRECISION,
    energy_total_wh  DOUBLE PRECISION,
    dc_power_w       DOUBLE PRECISION,
    dc_current_a     DOUBLE PRECISION,
    dc_voltage_v     DOUBLE PRECISION,
    inverter_temp_c  DOUBLE PRECISION,
    module_temp_c    DOUBLE PRECISION,
    ambient_temp_c   DOUBLE PRECISION,
    irradiance_w_m2  DOUBLE PRECISION,
    status           DOUBLE PRECISION,
    events           DOUBLE PRECISION,
    PRIMARY KEY (asset_id, ts)
);
CREATE INDEX readings_site_time ON readings (site, ts);
