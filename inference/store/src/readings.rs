//! Inverter readings: idempotent batch inserts (one transaction; `ON CONFLICT DO NOTHING` on `(asset_id, ts)`;
//! multi-row statements on PostgreSQL, one prepared statement per row on SQLite, see `readings/sqlite.rs`), reads of a site over a time range, and window feature rows with their
//! predictions (recomputed windows replace their earlier row and prediction).

mod sqlite;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use prognos_core::{Metric, Reading};
use sqlx::{QueryBuilder, Row};

use crate::connect::{on_pool, Pool};
use crate::json::{check_names, decode_pairs, encode_checked_pairs, encode_explanation, encode_pairs};
use crate::time::Ts;
use crate::{AssetKind, Contribution, NewPrediction, Store, StoreError};

/// Readings per multi-row `INSERT` (17 bound values each: well under both engines' parameter limits).
const ROWS_PER_STATEMENT: usize = 500;

const UPSERT_SITE: &str = "\
INSERT INTO sites (id, first_seen, last_seen) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET
    first_seen = CASE WHEN excluded.first_seen < sites.first_seen THEN excluded.first_seen ELSE sites.first_seen END,
    last_seen = CASE WHEN excluded.last_seen > sites.last_seen THEN excluded.last_seen ELSE sites.last_seen END";

// Every inverter of a batch in one statement (values pushed by the caller).
const UPSERT_ASSETS: &str = "INSERT INTO assets (id, kind, site, first_seen, last_seen) ";

const UPSERT_ASSETS_CONFLICT: &str = " \
ON CONFLICT (id) DO UPDATE SET
    site = CASE WHEN excluded.last_seen >= assets.last_seen THEN excluded.site ELSE assets.site END,
    first_seen = CASE WHEN excluded.first_seen < assets.first_seen THEN excluded.first_seen ELSE assets.first_seen END,
    last_seen = CASE WHEN excluded.last_seen > assets.last_seen THEN excluded.last_seen ELSE assets.last_seen END
RETURNING id, kind";

const INSERT_READINGS: &str = "INSERT INTO readings (asset_id, ts, site, ac_power_w, ac_current_a, ac_voltage_v, \
ac_frequency_hz, energy_total_wh, dc_power_w, dc_current_a, dc_voltage_v, inverter_temp_c, module_temp_c, \
ambient_temp_c, irradiance_w_m2, status, events) ";

// The site's inverters (site_inverters), then each one's range of the primary key (asset_id, ts).
const SELECT_READINGS: &str = "SELECT r.asset_id, r.ts, r.ac_power_w, r.ac_current_a, r.ac_voltage_v, \
r.ac_frequency_hz, r.energy_total_wh, r.dc_power_w, r.dc_current_a, r.dc_voltage_v, r.inverter_temp_c, \
r.module_temp_c, r.ambient_temp_c, r.irradiance_w_m2, r.status, r.events FROM site_inverters s \
JOIN readings r ON r.asset_id = s.asset_id WHERE s.site = $1 AND r.site = $1 AND r.ts >= $2 AND r.ts < $3 \
ORDER BY r.ts, r.asset_id";

const COUNT_READINGS_IN_RANGE: &str = "SELECT COUNT(*) FROM site_inverters s JOIN readings r \
ON r.asset_id = s.asset_id WHERE s.site = $1 AND r.site = $1 AND r.ts >= $2 AND r.ts < $3";

const COUNT_SITE_READINGS: &str = "SELECT COUNT(*) FROM site_inverters s JOIN readings r \
ON r.asset_id = s.asset_id WHERE s.site = $1 AND r.site = $1";

// The batch's inverters as readings of the site (values pushed by the caller).
const INSERT_SITE_INVERTERS: &str = "INSERT INTO site_inverters (site, asset_id) ";

/// What [`Store::insert_readings`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadingsOutcome {
    /// Readings stored now.
    pub inserted: u64,
    /// Readings whose asset + timestamp was already stored (not written again).
    pub duplicate: u64,
}

/// One window's feature row for an inverter, with its prediction when the window was scored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWindowRow {
    /// The inverter.
    pub asset_id: String,
    /// Feature set (the scored window's set, e.g. `inverter-v1`, or a per-length variant).
    pub feature_set: String,
    /// Feature names in order.
    pub names: Vec<String>,
    /// One value per name; NaN is stored as JSON null.
    pub values: Vec<f64>,
    /// Window start (inclusive).
    pub window_start: DateTime<Utc>,
    /// Window end (exclusive); also the row's `observed_at`.
    pub window_end: DateTime<Utc>,
    /// The model's verdict, if scored.
    pub prediction: Option<NewPrediction>,
    /// The features that pulled the verdict's score down most (`predictions.explanation`), if explained.
    pub explanation: Option<Vec<Contribution>>,
}

/// One inverter's daily performance aggregates (the sums of `prognos_features::inverter::DailyPerformance`).
#[derive(Debug, Clone, PartialEq)]
pub struct InverterDay {
    /// The inverter.
    pub asset_id: String,
    /// Start of the day (the site's local midnight).
    pub day: DateTime<Utc>,
    /// AC power summed over daylight readings with irradiance.
    pub ac_sum: f64,
    /// Irradiance / 1000 x AC limit over the same readings.
    pub expected_sum: f64,
    /// AC power summed over daylight readings with a peer median.
    pub peer_ac_sum: f64,
    /// The peer median over the same readings.
    pub peer_sum: f64,
}

/// Window rows (and days) per multi-row statement (at most 9 bound values each).
const WINDOWS_PER_STATEMENT: usize = 500;

const UPSERT_DAY_CONFLICT: &str = " \
ON CONFLICT (asset_id, day) DO UPDATE SET
    site = excluded.site, ac_sum = excluded.ac_sum, expected_sum = excluded.expected_sum,
    peer_ac_sum = excluded.peer_ac_sum, peer_sum = excluded.peer_sum";

const SELECT_WINDOWS: &str = "\
SELECT f.asset_id, f.window_start, f.window_end, f.feature_values FROM feature_rows f JOIN assets a ON a.id = f.asset_id
WHERE a.site = $1 AND f.feature_set = $2 AND f.capture_id IS NULL ORDER BY f.asset_id, f.window_start";

/// A stored window feature row of an inverter.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWindow {
    /// The inverter.
    pub asset_id: String,
    /// Window start (inclusive).
    pub window_start: DateTime<Utc>,
    /// Window end (exclusive).
    pub window_end: DateTime<Utc>,
    /// (feature name, value) in the stored order; NaN where the value was undefined.
    pub values: Vec<(String, f64)>,
}

// Per inverter of the site, through the (asset_id, ts) key: a few index probes whatever the history's length.
const SELECT_LAST_BEFORE: &str = "\
SELECT a.id, (SELECT MAX(r.ts) FROM readings r WHERE r.asset_id = a.id AND r.ts < $2) FROM assets a
WHERE a.site = $1 AND a.kind = 'inverter' ORDER BY a.id";

const SELECT_DAYS_BEFORE: &str = "\
SELECT asset_id, day, ac_sum, expected_sum, peer_ac_sum, peer_sum FROM inverter_days
WHERE site = $1 AND day < $2 ORDER BY asset_id, day";

/// A window row's JSON columns, encoded once for either backend.
struct Encoded {
    /// `feature_rows.feature_values`.
    features: String,
    /// `predictions.probabilities`, when scored.
    probabilities: Option<String>,
    /// `predictions.explanation`, when explained.
    explanation: Option<String>,
}

/// An inverter of a batch with the span of its readings there.
type AssetSpan<'a> = (&'a str, (DateTime<Utc>, DateTime<Utc>));

impl Store {
    /// Stores a batch of one site's readings in one transaction: the site and each inverter (asset kind
    /// `inverter`) are created or have their first/last-seen span widened, each inverter is recorded as one
    /// the site has readings of, then every reading is inserted unless its `(asset, ts)` is already stored.
    /// Timestamps are kept to the microsecond.
    ///
    /// Fails without writing anything if an asset id is already stored as another kind (a wheel).
    pub async fn insert_readings(&self, site: &str, readings: &[Reading]) -> Result<ReadingsOutcome, StoreError> {
        if readings.is_empty() {
            return Ok(ReadingsOutcome::default());
        }
        if site.is_empty() {
            return Err(StoreError::InvalidInput("site is empty".into()));
        }
        let mut spans: HashMap<&str, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
        for r in readings {
            if r.asset.is_empty() {
                return Err(StoreError::InvalidInput("a reading has an empty asset id".into()));
            }
            let e = spans.entry(r.asset.as_str()).or_insert((r.ts, r.ts));
            e.0 = e.0.min(r.ts);
            e.1 = e.1.max(r.ts);
        }
        let first = spans.values().map(|s| s.0).min().expect("non-empty");
        let last = spans.values().map(|s| s.1).max().expect("non-empty");
        let mut assets: Vec<AssetSpan> = spans.into_iter().collect();
        assets.sort_by(|a, b| a.0.cmp(b.0));
        let pool = match &self.pool {
            Pool::Sqlite(pool) => {
                let inserted = sqlite::insert_readings(pool, site, &assets, readings, (first, last)).await?;
                return Ok(ReadingsOutcome { inserted, duplicate: readings.len() as u64 - inserted });
            }
            Pool::Postgres(pool) => pool,
        };
        let mut inserted = 0u64;
        let mut tx = pool.begin().await?;
        sqlx::query(UPSERT_SITE).bind(site).bind(Ts::new(first)).bind(Ts::new(last)).execute(&mut *tx).await?;
        for chunk in assets.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(UPSERT_ASSETS);
            q.push_values(chunk, |mut b, (asset, (from, to))| {
                b.push_bind(*asset)
                    .push_bind(AssetKind::Inverter.as_str())
                    .push_bind(site)
                    .push_bind(Ts::new(*from))
                    .push_bind(Ts::new(*to));
            });
            q.push(UPSERT_ASSETS_CONFLICT);
            for row in q.build().fetch_all(&mut *tx).await? {
                let (asset, kind): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                if kind != AssetKind::Inverter.as_str() {
                    return Err(StoreError::InvalidInput(format!(
                        "asset {asset} is stored as a {kind}, not an inverter"
                    )));
                }
            }
            let mut q = QueryBuilder::new(INSERT_SITE_INVERTERS);
            q.push_values(chunk, |mut b, (asset, _)| {
                b.push_bind(site).push_bind(*asset);
            });
            q.push(" ON CONFLICT (site, asset_id) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        for chunk in readings.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(INSERT_READINGS);
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.asset.as_str()).push_bind(Ts::new(r.ts)).push_bind(site);
                for v in r.values {
                    b.push_bind(v);
                }
            });
            q.push(" ON CONFLICT (asset_id, ts) DO NOTHING");
            inserted += q.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(ReadingsOutcome { inserted, duplicate: readings.len() as u64 - inserted })
    }

    /// A site's readings with `from <= ts < to`, oldest first (then by asset).
    pub async fn readings_in_range(
        &self,
        site: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Reading>, StoreError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(SELECT_READINGS)
                .bind(site)
                .bind(Ts::new(from))
                .bind(Ts::new(to))
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let asset: String = row.try_get(0)?;
                let ts: Ts = row.try_get(1)?;
                let mut r = Reading::new(asset, ts.0);
                for i in 0..Metric::COUNT {
                    r.values[i] = row.try_get::<Option<f64>, _>(i + 2)?;
                }
                out.push(r);
            }
            Ok(out)
        })
    }

    /// How many readings `site` has with `from <= ts < to`.
    pub async fn count_readings_in_range(
        &self,
        site: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        on_pool!(self, pool => {
            let n: i64 = sqlx::query_scalar(COUNT_READINGS_IN_RANGE)
                .bind(site)
                .bind(Ts::new(from))
                .bind(Ts::new(to))
                .fetch_one(pool)
                .await?;
            Ok(n)
        })
    }

    /// How many readings are stored for `site` (every site when `None`).
    pub async fn count_readings(&self, site: Option<&str>) -> Result<i64, StoreError> {
        on_pool!(self, pool => {
            let n: i64 = match site {
                Some(s) => sqlx::query_scalar(COUNT_SITE_READINGS).bind(s).fetch_one(pool).await?,
                None => sqlx::query_scalar("SELECT COUNT(*) FROM readings").fetch_one(pool).await?,
            };
            Ok(n)
        })
    }

    /// Every stored window row of `site`'s inverters in `feature_set`, by inverter then window start.
    pub async fn windows_of_site(&self, site: &str, feature_set: &str) -> Result<Vec<StoredWindow>, StoreError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(SELECT_WINDOWS).bind(site).bind(feature_set).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let (start, end): (Ts, Ts) = (row.try_get(1)?, row.try_get(2)?);
                let values: String = row.try_get(3)?;
                out.push(StoredWindow {
                    asset_id: row.try_get(0)?,
                    window_start: start.0,
                    window_end: end.0,
                    values: decode_pairs("feature_rows.feature_values", &values)?,
                });
            }
            Ok(out)
        })
    }

    /// Per inverter of `site`, the time of its last reading before `before` (inverters without one are left
    /// out).
    pub async fn last_readings_before(
        &self,
        site: &str,
        before: DateTime<Utc>,
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(SELECT_LAST_BEFORE).bind(site).bind(Ts::new(before)).fetch_all(pool).await?;
            let mut out = HashMap::with_capacity(rows.len());
            for row in rows {
                if let Some(ts) = row.try_get::<Option<Ts>, _>(1)? {
                    out.insert(row.try_get(0)?, ts.0);
                }
            }
            Ok(out)
        })
    }

    /// The daily aggregates of `site`'s inverters for days starting before `before`, by inverter then day.
    pub async fn inverter_days_before(
        &self,
        site: &str,
        before: DateTime<Utc>,
    ) -> Result<Vec<InverterDay>, StoreError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(SELECT_DAYS_BEFORE).bind(site).bind(Ts::new(before)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let day: Ts = row.try_get(1)?;
                out.push(InverterDay {
                    asset_id: row.try_get(0)?,
                    day: day.0,
                    ac_sum: row.try_get(2)?,
                    expected_sum: row.try_get(3)?,
                    peer_ac_sum: row.try_get(4)?,
                    peer_sum: row.try_get(5)?,
                });
            }
            Ok(out)
        })
    }

    /// Stores window feature rows (and their predictions) and `site`'s daily aggregates `days` in one
    /// transaction. A window already stored for the same asset, feature set and start is replaced, and its
    /// earlier prediction with it: a window recomputed after late readings arrive keeps one row and one verdict.
    /// A day already stored for the inverter is replaced likewise.
    pub async fn record_windows(
        &self,
        rows: &[NewWindowRow],
        site: &str,
        days: &[InverterDay],
    ) -> Result<u64, StoreError> {
        if let Some(d) =
            days.iter().find(|d| ![d.ac_sum, d.expected_sum, d.peer_ac_sum, d.peer_sum].iter().all(|v| v.is_finite()))
        {
            return Err(StoreError::InvalidInput(format!(
                "daily aggregates of {} on {} are not finite",
                d.asset_id, d.day
            )));
        }
        let mut encoded = Vec::with_capacity(rows.len());
        // Rows of a feature set share their names: each distinct list is checked once.
        let mut checked: Option<&[String]> = None;
        for w in rows {
            if w.names.len() != w.values.len() {
                return Err(StoreError::InvalidInput(format!(
                    "feature set {}: {} names but {} values",
                    w.feature_set,
                    w.names.len(),
                    w.values.len()
                )));
            }
            if checked != Some(w.names.as_slice()) {
                check_names("feature names", w.names.iter().map(String::as_str))?;
                checked = Some(&w.names);
            }
            let features = encode_checked_pairs(
                "feature names",
                w.names.iter().map(String::as_str).zip(w.values.iter().copied()),
            )?;
            let probabilities = match &w.prediction {
                Some(p) => {
                    if !p.health_score.is_finite() {
                        return Err(StoreError::InvalidInput(format!("health score {} is not finite", p.health_score)));
                    }
                    Some(encode_pairs("class probabilities", p.probabilities.iter().map(|(c, v)| (c.as_str(), *v)))?)
                }
                None => None,
            };
            let explanation = encode_explanation(w.explanation.as_deref())?;
            encoded.push(Encoded { features, probabilities, explanation });
        }
        // One window per (asset, feature set, start): a repeat in the input replaces the earlier one, as
        // consecutive upserts would.
        let mut last: HashMap<(&str, &str, i64), usize> = HashMap::with_capacity(rows.len());
        for (i, w) in rows.iter().enumerate() {
            last.insert((w.asset_id.as_str(), w.feature_set.as_str(), w.window_start.timestamp_micros()), i);
        }
        let keep: Vec<usize> = (0..rows.len())
            .filter(|i| {
                let w = &rows[*i];
                last[&(w.asset_id.as_str(), w.feature_set.as_str(), w.window_start.timestamp_micros())] == *i
            })
            .collect();
        let pool = match &self.pool {
            Pool::Sqlite(pool) => return sqlite::record_windows(pool, rows, &keep, encoded, site, days).await,
            Pool::Postgres(pool) => pool,
        };
        let mut tx = pool.begin().await?;
        // Multi-row statements: per chunk one upsert of the feature rows (returning their ids), one delete of
        // their earlier predictions and one insert of the new ones, instead of three statements per window.
        for chunk in keep.chunks(WINDOWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO feature_rows (capture_id, asset_id, window_start, window_end, feature_set, \
                 feature_values, observed_at) ",
            );
            q.push_values(chunk, |mut b, &i| {
                let w = &rows[i];
                b.push("NULL")
                    .push_bind(w.asset_id.as_str())
                    .push_bind(Ts::new(w.window_start))
                    .push_bind(Ts::new(w.window_end))
                    .push_bind(w.feature_set.as_str())
                    .push_bind(encoded[i].features.as_str())
                    .push_bind(Ts::new(w.window_end));
            });
            q.push(
                " ON CONFLICT (asset_id, feature_set, window_start) WHERE capture_id IS NULL DO UPDATE SET \
                 window_end = excluded.window_end, feature_values = excluded.feature_values, \
                 observed_at = excluded.observed_at RETURNING id, asset_id, feature_set, window_start",
            );
            let mut ids: HashMap<(String, String, i64), i64> = HashMap::with_capacity(chunk.len());
            for row in q.build().fetch_all(&mut *tx).await? {
                let start: Ts = row.try_get(3)?;
                ids.insert((row.try_get(1)?, row.try_get(2)?, start.0.timestamp_micros()), row.try_get(0)?);
            }
            let id_of = |i: usize| {
                let w = &rows[i];
                ids.get(&(w.asset_id.clone(), w.feature_set.clone(), w.window_start.timestamp_micros())).copied()
            };
            let mut chunk_ids = Vec::with_capacity(chunk.len());
            for &i in chunk {
                chunk_ids.push(id_of(i).ok_or_else(|| {
                    StoreError::InvalidInput(format!(
                        "window {} {} was not stored",
                        rows[i].asset_id, rows[i].window_start
                    ))
                })?);
            }
            let mut q = QueryBuilder::new("DELETE FROM predictions WHERE feature_row_id IN (");
            let mut list = q.separated(", ");
            for id in &chunk_ids {
                list.push_bind(*id);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
            let scored: Vec<(usize, i64)> = chunk
                .iter()
                .zip(&chunk_ids)
                .filter(|(i, _)| rows[**i].prediction.is_some())
                .map(|(i, id)| (*i, *id))
                .collect();
            if !scored.is_empty() {
                let mut q = QueryBuilder::new(
                    "INSERT INTO predictions (asset_id, capture_id, feature_row_id, model, model_version, \
                     health_score, label, probabilities, scored_at, explanation) ",
                );
                q.push_values(&scored, |mut b, &(i, id)| {
                    let w = &rows[i];
                    if let (Some(p), Some(probs)) = (&w.prediction, &encoded[i].probabilities) {
                        b.push_bind(w.asset_id.as_str())
                            .push("NULL")
                            .push_bind(id)
                            .push_bind(p.model.as_str())
                            .push_bind(p.model_version.as_str())
                            .push_bind(p.health_score)
                            .push_bind(p.label.as_str())
                            .push_bind(probs.as_str())
                            .push_bind(Ts::new(p.scored_at))
                            .push_bind(encoded[i].explanation.as_deref());
                    }
                });
                q.build().execute(&mut *tx).await?;
            }
        }
        for chunk in days.chunks(WINDOWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO inverter_days (asset_id, day, site, ac_sum, expected_sum, peer_ac_sum, peer_sum) ",
            );
            q.push_values(chunk, |mut b, d| {
                b.push_bind(d.asset_id.as_str())
                    .push_bind(Ts::new(d.day))
                    .push_bind(site)
                    .push_bind(d.ac_sum)
                    .push_bind(d.expected_sum)
                    .push_bind(d.peer_ac_sum)
                    .push_bind(d.peer_sum);
            });
            q.push(UPSERT_DAY_CONFLICT);
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }
}

#[cfg(test)]
mod tests;
