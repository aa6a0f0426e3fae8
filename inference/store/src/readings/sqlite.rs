//! [`Store::insert_readings`](crate::Store::insert_readings) and
//! [`Store::record_windows`](crate::Store::record_windows) on SQLite: the same rows as the shared multi-row
//! statements write on PostgreSQL, one prepared single-row statement each, through [`crate::bulk::write`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use prognos_core::{Metric, Reading};

use super::{
    AssetSpan, Encoded, InverterDay, NewWindowRow, INSERT_READINGS, INSERT_SITE_INVERTERS, UPSERT_ASSETS,
    UPSERT_ASSETS_CONFLICT, UPSERT_DAY_CONFLICT, UPSERT_SITE,
};
use crate::bulk::ForeignKeys;
use crate::time::Ts;
use crate::{AssetKind, NewPrediction, StoreError};

/// The SQLite text of a timestamp.
fn text(at: DateTime<Utc>) -> Result<String, StoreError> {
    Ts::new(at).to_sqlite_text().map_err(|e| StoreError::InvalidInput(e.to_string()))
}

/// Stores one site's readings (see [`crate::Store::insert_readings`]); returns how many were new.
pub(super) async fn insert_readings(
    pool: &sqlx::SqlitePool,
    site: &str,
    assets: &[AssetSpan<'_>],
    readings: &[Reading],
    (first, last): (DateTime<Utc>, DateTime<Utc>),
) -> Result<u64, StoreError> {
    let site = site.to_string();
    let span = (text(first)?, text(last)?);
    let assets: Vec<(String, String, String)> = assets
        .iter()
        .map(|(a, (from, to))| Ok((a.to_string(), text(*from)?, text(*to)?)))
        .collect::<Result<_, StoreError>>()?;
    let index: HashMap<&str, usize> = assets.iter().enumerate().map(|(i, a)| (a.0.as_str(), i)).collect();
    let rows: Vec<(usize, String, [Option<f64>; Metric::COUNT])> = readings
        .iter()
        .map(|r| Ok((index[r.asset.as_str()], text(r.ts)?, r.values)))
        .collect::<Result<_, StoreError>>()?;
    // The site and every inverter of the batch are written first, in the same transaction: each reading's
    // parents exist, and looking them up per reading is skipped.
    crate::bulk::write(pool, ForeignKeys::WrittenFirst, move |db| {
        // UPSERT_SITE's `$N` appear in order: they bind by position.
        db.execute(UPSERT_SITE, rusqlite::params![site, span.0, span.1])?;
        let mut upsert =
            db.prepare(&format!("{UPSERT_ASSETS} VALUES (?1, ?2, ?3, ?4, ?5) {UPSERT_ASSETS_CONFLICT}"))?;
        let mut listed =
            db.prepare(&format!("{INSERT_SITE_INVERTERS} VALUES (?1, ?2) ON CONFLICT (site, asset_id) DO NOTHING"))?;
        for (asset, from, to) in &assets {
            let params = rusqlite::params![asset, AssetKind::Inverter.as_str(), site, from, to];
            let kind: String = upsert.query_row(params, |row| row.get(1))?;
            if kind != AssetKind::Inverter.as_str() {
                return Err(StoreError::InvalidInput(format!("asset {asset} is stored as a {kind}, not an inverter")));
            }
            listed.execute(rusqlite::params![site, asset])?;
        }
        let mut insert = db.prepare(&format!(
            "{INSERT_READINGS} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
             ON CONFLICT (asset_id, ts) DO NOTHING"
        ))?;
        let mut inserted = 0u64;
        for (asset, ts, values) in &rows {
            insert.raw_bind_parameter(1, assets[*asset].0.as_str())?;
            insert.raw_bind_parameter(2, ts.as_str())?;
            insert.raw_bind_parameter(3, site.as_str())?;
            for (i, v) in values.iter().enumerate() {
                insert.raw_bind_parameter(4 + i, v)?;
            }
            inserted += insert.raw_execute()? as u64;
        }
        Ok(inserted)
    })
    .await
}

/// A window row as SQLite binds it: text timestamps, encoded JSON, owned (it crosses to a blocking thread).
struct Window {
    asset_id: String,
    feature_set: String,
    start: String,
    end: String,
    features: String,
    verdict: Option<Verdict>,
}

/// A window's prediction as SQLite binds it.
struct Verdict {
    prediction: NewPrediction,
    probabilities: String,
    scored_at: String,
    explanation: Option<String>,
}

/// Stores the windows `keep` picks from `rows` (with their JSON in `encoded`) and `site`'s daily aggregates
/// (see [`crate::Store::record_windows`]).
pub(super) async fn record_windows(
    pool: &sqlx::SqlitePool,
    rows: &[NewWindowRow],
    keep: &[usize],
    encoded: Vec<Encoded>,
    site: &str,
    days: &[InverterDay],
) -> Result<u64, StoreError> {
    let mut encoded: Vec<Option<Encoded>> = encoded.into_iter().map(Some).collect();
    let mut windows = Vec::with_capacity(keep.len());
    for &i in keep {
        let w = &rows[i];
        let Some(Encoded { features, probabilities, explanation }) = encoded[i].take() else { continue };
        let verdict = match (&w.prediction, probabilities) {
            (Some(p), Some(probabilities)) => {
                Some(Verdict { prediction: p.clone(), probabilities, scored_at: text(p.scored_at)?, explanation })
            }
            _ => None,
        };
        windows.push(Window {
            asset_id: w.asset_id.clone(),
            feature_set: w.feature_set.clone(),
            start: text(w.window_start)?,
            end: text(w.window_end)?,
            features,
            verdict,
        });
    }
    let days: Vec<(String, String, [f64; 4])> = days
        .iter()
        .map(|d| Ok((d.asset_id.clone(), text(d.day)?, [d.ac_sum, d.expected_sum, d.peer_ac_sum, d.peer_sum])))
        .collect::<Result<_, StoreError>>()?;
    let site = site.to_string();
    let n = rows.len() as u64;
    crate::bulk::write(pool, ForeignKeys::Checked, move |db| {
        // A window stored for the first time gets a new id (AUTOINCREMENT: never one an earlier prediction
        // points to); only a window stored before is updated and loses its earlier prediction. An insert that
        // does nothing on a conflict, then `last_insert_rowid`, is much cheaper than an upsert with `RETURNING`.
        let mut insert = db.prepare(
            "INSERT INTO feature_rows (capture_id, asset_id, window_start, window_end, feature_set, feature_values, \
             observed_at) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?3) \
             ON CONFLICT (asset_id, feature_set, window_start) WHERE capture_id IS NULL DO NOTHING",
        )?;
        let mut update = db.prepare(
            "UPDATE feature_rows SET window_end = ?3, feature_values = ?4, observed_at = ?3 \
             WHERE asset_id = ?1 AND feature_set = ?5 AND window_start = ?2 AND capture_id IS NULL RETURNING id",
        )?;
        let mut unscore = db.prepare("DELETE FROM predictions WHERE feature_row_id = ?1")?;
        // observed_at is the window's end, what the insert trigger would look up.
        let mut score = db.prepare(
            "INSERT INTO predictions (asset_id, capture_id, feature_row_id, model, model_version, health_score, label, \
             probabilities, scored_at, explanation, observed_at) VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for w in &windows {
            let id = if insert.execute(rusqlite::params![w.asset_id, w.start, w.end, w.feature_set, w.features])? == 1 {
                db.last_insert_rowid()
            } else {
                let params = rusqlite::params![w.asset_id, w.start, w.end, w.features, w.feature_set];
                let id: i64 = update.query_row(params, |row| row.get(0))?;
                unscore.execute([id])?;
                id
            };
            if let Some(v) = &w.verdict {
                let p = &v.prediction;
                score.execute(rusqlite::params![
                    w.asset_id,
                    id,
                    p.model,
                    p.model_version,
                    p.health_score,
                    p.label,
                    v.probabilities,
                    v.scored_at,
                    v.explanation,
                    w.end
                ])?;
            }
        }
        let mut day = db.prepare(&format!(
            "INSERT INTO inverter_days (asset_id, day, site, ac_sum, expected_sum, peer_ac_sum, peer_sum) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) {UPSERT_DAY_CONFLICT}"
        ))?;
        for (asset, at, [ac, expected, peer_ac, peer]) in &days {
            day.execute(rusqlite::params![asset, at, site, ac, expected, peer_ac, peer])?;
        }
        Ok(n)
    })
    .await
}
