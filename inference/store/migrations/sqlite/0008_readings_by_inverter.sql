-- Readings are found by inverter only (sqlite flavour; keep in step with ../postgres/0008_readings_by_inverter.sql).
-- The index on (site, ts) was a second B-tree written for every reading, about as much work again as the table
-- itself on the ingest path. A site's readings over a time range are now read through the inverters the site
-- has readings of (site_inverters, written with each batch) and the primary key (asset_id, ts), one contiguous
-- range per inverter; readings.site still decides, for an inverter that moved between sites.
CREATE TABLE site_inverters (
    site      TEXT NOT NULL REFERENCES sites (id),
    asset_id  TEXT NOT NULL REFERENCES assets (id),
    PRIMARY KEY (site, asset_id)
) WITHOUT ROWID;
INSERT INTO site_inverters (site, asset_id) SELECT DISTINCT site, asset_id FROM readings;
DROP INDEX readings_site_time;
