//! Exports for data scientists: captures with their feature rows and predictions, and predictions, read in
//! keyset-paged chunks (by row id) so an export of any size streams with bounded memory.

use chrono::{DateTime, Utc};

use crate::connect::on_pool;
use crate::json::decode_pairs;
use crate::time::Ts;
use crate::{Store, StoreError};

/// Which rows an export takes. Every filter is optional; time bounds are `[from, to)` on the observation time
/// (a capture's capture time, a prediction's `observed_at`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportFilter {
    /// Only this asset.
    pub asset_id: Option<String>,
    /// Only this site.
    pub site: Option<String>,
    /// Observed at or after.
    pub from: Option<DateTime<Utc>>,
    /// Observed before.
    pub to: Option<DateTime<Utc>>,
}

/// One capture with one of its feature rows and the prediction made from the capture (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureFeaturesRow {
    /// Capture id (the keyset cursor).
    pub id: i64,
    /// Where the capture came from (its file stem path).
    pub source: String,
    /// Capture time.
    pub captured_at: DateTime<Utc>,
    /// Site.
    pub site: String,
    /// Camera.
    pub camera: String,
    /// Wheel id.
    pub asset_id: String,
    /// Feature set name.
    pub feature_set: String,
    /// Feature names and values in order (non-finite values as NaN).
    pub features: Vec<(String, f64)>,
    /// The model's predicted label, if a prediction was stored.
    pub predicted_label: Option<String>,
    /// The health score, if a prediction was stored.
    pub health_score: Option<f64>,
    /// `model@version`, if a prediction was stored.
    pub model: Option<String>,
}

/// One prediction with its asset's site.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionExportRow {
    /// Prediction id (the keyset cursor).
    pub id: i64,
    /// Asset.
    pub asset_id: String,
    /// The asset's site.
    pub site: String,
    /// The capture it scored, if any.
    pub capture_id: Option<i64>,
    /// Model name.
    pub model: String,
    /// Model version.
    pub model_version: String,
    /// Health score.
    pub health_score: f64,
    /// Predicted label.
    pub label: String,
    /// Class probabilities.
    pub probabilities: Vec<(String, f64)>,
    /// When the input was observed.
    pub observed_at: DateTime<Utc>,
    /// When it was scored.
    pub scored_at: DateTime<Utc>,
}

/// One inverter window feature row, with the number of readings stored in its window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFeaturesRow {
    /// Feature row id (the keyset cursor).
    pub id: i64,
    /// The inverter.
    pub asset_id: String,
    /// Its site.
    pub site: String,
    /// Window start (inclusive).
    pub window_start: DateTime<Utc>,
    /// Window end (exclusive).
    pub window_end: DateTime<Utc>,
    /// Readings of the inverter stored in the window.
    pub readings: i64,
    /// Feature names and values in order (non-finite values as NaN).
    pub features: Vec<(String, f64)>,
}

#[derive(sqlx::FromRow)]
struct WindowFeaturesSql {
    id: i64,
    asset_id: String,
    site: String,
    window_start: Ts,
    window_end: Ts,
    feature_values: String,
    readings: i64,
}

#[derive(sqlx::FromRow)]
struct CaptureFeaturesSql {
    id: i64,
    source: String,
    captured_at: Ts,
    site: String,
    camera: String,
    asset_id: String,
    feature_set: String,
    feature_values: String,
    label: Option<String>,
    health_score: Option<f64>,
    model: Option<String>,
    model_version: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PredictionSql {
    id: i64,
    asset_id: String,
    site: String,
    capture_id: Option<i64>,
    model: String,
    model_version: String,
    health_score: f64,
    label: String,
    probabilities: String,
    observed_at: Ts,
    scored_at: Ts,
}

fn check_chunk(limit: i64) -> Result<(), StoreError> {
    if !(1..=100_000).contains(&limit) {
        return Err(StoreError::InvalidInput(format!("chunk size {limit} is not within 1..=100000")));
    }
    Ok(())
}

impl Store {
    /// Up to `limit` captures with id greater than `after` (0 for the first chunk) that match `filter`, each
    /// with its `feature_set` row and the prediction made from it, in id order. Pass the last id as `after` for
    /// the next chunk; a chunk shorter than `limit` is the last.
    pub async fn export_capture_features(
        &self,
        filter: &ExportFilter,
        feature_set: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<CaptureFeaturesRow>, StoreError> {
        check_chunk(limit)?;
        const SQL: &str = "SELECT c.id, c.source, c.captured_at, c.site, c.camera, c.asset_id, f.feature_set, \
            f.feature_values, p.label, p.health_score, p.model, p.model_version \
            FROM captures c JOIN feature_rows f ON f.capture_id = c.id AND f.feature_set = $1 \
            LEFT JOIN predictions p ON p.id = (SELECT MAX(p2.id) FROM predictions p2 WHERE p2.capture_id = c.id) \
            WHERE c.id > $2 AND ($3 IS NULL OR c.asset_id = $3) AND ($4 IS NULL OR c.site = $4) \
            AND ($5 IS NULL OR c.captured_at >= $5) AND ($6 IS NULL OR c.captured_at < $6) \
            ORDER BY c.id LIMIT $7";
        let rows: Vec<CaptureFeaturesSql> = on_pool!(self, pool => {
            sqlx::query_as(SQL)
                .bind(feature_set)
                .bind(after)
                .bind(filter.asset_id.as_deref())
                .bind(filter.site.as_deref())
                .bind(filter.from.map(Ts::new))
                .bind(filter.to.map(Ts::new))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(CaptureFeaturesRow {
                    features: decode_pairs("feature_rows.feature_values", &r.feature_values)?,
                    id: r.id,
                    source: r.source,
                    captured_at: r.captured_at.0,
                    site: r.site,
                    camera: r.camera,
                    asset_id: r.asset_id,
                    feature_set: r.feature_set,
                    predicted_label: r.label,
                    health_score: r.health_score,
                    model: r.model.zip(r.model_version).map(|(m, v)| format!("{m}@{v}")),
                })
            })
            .collect()
    }

    /// Up to `limit` inverter window rows of `feature_set` with id greater than `after` (0 for the first chunk)
    /// that match `filter` (time on the window start), in id order, each with its readings count.
    pub async fn export_window_features(
        &self,
        filter: &ExportFilter,
        feature_set: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<WindowFeaturesRow>, StoreError> {
        check_chunk(limit)?;
        const SQL: &str = "SELECT f.id, f.asset_id, a.site, f.window_start, f.window_end, f.feature_values, \
            (SELECT COUNT(*) FROM readings r WHERE r.asset_id = f.asset_id AND r.ts >= f.window_start \
            AND r.ts < f.window_end) AS readings \
            FROM feature_rows f JOIN assets a ON a.id = f.asset_id \
            WHERE f.capture_id IS NULL AND f.feature_set = $1 AND f.id > $2 AND ($3 IS NULL OR f.asset_id = $3) \
            AND ($4 IS NULL OR a.site = $4) AND ($5 IS NULL OR f.window_start >= $5) \
            AND ($6 IS NULL OR f.window_start < $6) ORDER BY f.id LIMIT $7";
        let rows: Vec<WindowFeaturesSql> = on_pool!(self, pool => {
            sqlx::query_as(SQL)
                .bind(feature_set)
                .bind(after)
                .bind(filter.asset_id.as_deref())
                .bind(filter.site.as_deref())
                .bind(filter.from.map(Ts::new))
                .bind(filter.to.map(Ts::new))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(WindowFeaturesRow {
                    features: decode_pairs("feature_rows.feature_values", &r.feature_values)?,
                    id: r.id,
                    asset_id: r.asset_id,
                    site: r.site,
                    window_start: r.window_start.0,
                    window_end: r.window_end.0,
                    readings: r.readings,
                })
            })
            .collect()
    }

    /// Up to `limit` predictions with id greater than `after` that match `filter` (time on `observed_at`), in
    /// id order, each with its asset's site.
    pub async fn export_predictions(
        &self,
        filter: &ExportFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PredictionExportRow>, StoreError> {
        check_chunk(limit)?;
        const SQL: &str = "SELECT p.id, p.asset_id, a.site, p.capture_id, p.model, p.model_version, \
            p.health_score, p.label, p.probabilities, p.observed_at, p.scored_at \
            FROM predictions p JOIN assets a ON a.id = p.asset_id \
            WHERE p.id > $1 AND ($2 IS NULL OR p.asset_id = $2) AND ($3 IS NULL OR a.site = $3) \
            AND ($4 IS NULL OR p.observed_at >= $4) AND ($5 IS NULL OR p.observed_at < $5) \
            ORDER BY p.id LIMIT $6";
        let rows: Vec<PredictionSql> = on_pool!(self, pool => {
            sqlx::query_as(SQL)
                .bind(after)
                .bind(filter.asset_id.as_deref())
                .bind(filter.site.as_deref())
                .bind(filter.from.map(Ts::new))
                .bind(filter.to.map(Ts::new))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(PredictionExportRow {
                    probabilities: decode_pairs("predictions.probabilities", &r.probabilities)?,
                    id: r.id,
                    asset_id: r.asset_id,
                    site: r.site,
                    capture_id: r.capture_id,
                    model: r.model,
                    model_version: r.model_version,
                    health_score: r.health_score,
                    label: r.label,
                    observed_at: r.observed_at.0,
                    scored_at: r.scored_at.0,
                })
            })
            .collect()
    }
}
