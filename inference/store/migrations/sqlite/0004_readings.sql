-- Raw inverter readings, SQLite flavour (keep in step with ../postgres/0004_readings.sql).
-- One row per inverter and instant, one REAL column per canonical metric (prognos_core::Metric, NULL = not
-- reported). The primary key (asset_id, ts) makes ingestion idempotent: a repeated reading is not stored twice.
CREATE TABLE readings (
    asset_id         TEXT NOT NULL REFERENCES assets (id),
    ts               TEXT NOT NULL CHECK (length(ts) = 27),
    site             TEXT NOT NULL REFERENCES sites (id),
    ac_power_w       REAL,
    ac_current_a     REAL,
    ac_voltage_v     REAL,
    ac_frequency_hz  REAL,
    energy_total_wh  REAL,
    dc_power_w       REAL,
    dc_current_a     REAL,
    dc_voltage_v     REAL,
    inverter_temp_c  REAL,
    module_temp_c    REAL,
    ambient_temp_c   REAL,
    irradiance_w_m2  REAL,
    status           REAL,
    events           REAL,
    PRIMARY KEY (asset_id, ts)
) WITHOUT ROWID;
CREATE INDEX readings_site_time ON readings (site, ts);
