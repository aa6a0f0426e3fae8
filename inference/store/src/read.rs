//! Reads: look-ups by hash and id, newest predictions, per-asset histories and time ranges, counts.

use crate::connect::on_pool;
use crate::json::decode_pairs;
use crate::time::Ts;
use crate::write::CAPTURE_ID_BY_HASH;
use crate::{
    AssetKind, AssetRecord, CaptureRecord, FeatureValues, NewCapture, PredictionRecord, QuarantineRecord, Store,
    StoreError,
};

pub(crate) const PREDICTION_COLUMNS: &str =
    "id, asset_id, capture_id, model, model_version, health_score, label, probabilities, scored_at, observed_at, \
     explanation";

#[derive(sqlx::FromRow)]
pub(crate) struct PredictionRow {
    id: i64,
    asset_id: String,
    capture_id: Option<i64>,
    model: String,
    model_version: String,
    health_score: f64,
    label: String,
    probabilities: String,
    scored_at: Ts,
    observed_at: Ts,
    explanation: Option<String>,
}

/// Reads a stored explanation (`predictions.explanation`).
pub(crate) fn decode_explanation(text: Option<&str>) -> Result<Option<Vec<crate::Contribution>>, StoreError> {
    text.map(|t| {
        serde_json::from_str(t)
            .map_err(|e| StoreError::Corrupt { what: "predictions.explanation", detail: e.to_string() })
    })
    .transpose()
}

impl TryFrom<PredictionRow> for PredictionRecord {
    type Error = StoreError;

    fn try_from(row: PredictionRow) -> Result<Self, StoreError> {
        Ok(PredictionRecord {
            probabilities: decode_pairs("predictions.probabilities", &row.probabilities)?,
            id: row.id,
            asset_id: row.asset_id,
            capture_id: row.capture_id,
            model: row.model,
            model_version: row.model_version,
            health_score: row.health_score,
            label: row.label,
            scored_at: row.scored_at.0,
            observed_at: row.observed_at.0,
            explanation: decode_explanation(row.explanation.as_deref())?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CaptureRow {
    id: i64,
    content_hash: String,
    site: String,
    camera: String,
    asset_id: String,
    run_count: Option<i64>,
    captured_at: Ts,
    received_at: Ts,
    source: String,
    width: i64,
    profiles: i64,
    height_units: String,
    mean_height: f64,
    mean_intensity: f64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AssetRow {
    id: String,
    kind: String,
    site: String,
    first_seen: Ts,
    last_seen: Ts,
}

#[derive(sqlx::FromRow)]
struct FeatureRow {
    feature_set: String,
    feature_values: String,
}

#[derive(sqlx::FromRow)]
struct QuarantineRow {
    id: i64,
    source: String,
    reason: String,
    at: Ts,
}

pub(crate) fn check_limit(limit: i64) -> Result<(), StoreError> {
    if limit < 0 {
        return Err(StoreError::InvalidInput(format!("limit {limit} is negative")));
    }
    Ok(())
}

pub(crate) fn predictions(rows: Vec<PredictionRow>) -> Result<Vec<PredictionRecord>, StoreError> {
    rows.into_iter().map(PredictionRecord::try_from).collect()
}

impl Store {
    /// The id of the stored capture with this content hash, if any.
    pub async fn capture_by_hash(&self, content_hash: &str) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(CAPTURE_ID_BY_HASH).bind(content_hash).fetch_optional(pool).await?
        }))
    }

    /// A stored capture by id.
    pub async fn capture(&self, id: i64) -> Result<Option<CaptureRecord>, StoreError> {
        const SQL: &str = "SELECT id, content_hash, site, camera, asset_id, run_count, captured_at, received_at, \
            source, width, profiles, height_units, mean_height, mean_intensity FROM captures WHERE id = $1";
        let row: Option<CaptureRow> = on_pool!(self, pool => {
            sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?
        });
        Ok(row.map(|r| CaptureRecord {
            id: r.id,
            capture: NewCapture {
                content_hash: r.content_hash,
                site: r.site,
                camera: r.camera,
                asset_id: r.asset_id,
                run_count: r.run_count,
                captured_at: r.captured_at.0,
                source: r.source,
                width: r.width,
                profiles: r.profiles,
                height_units: r.height_units,
                mean_height: r.mean_height,
                mean_intensity: r.mean_intensity,
            },
            received_at: r.received_at.0,
        }))
    }

    /// The feature rows stored for a capture, by feature set name. Non-finite values read back as NaN.
    pub async fn features_for_capture(&self, capture_id: i64) -> Result<Vec<FeatureValues>, StoreError> {
        const SQL: &str =
            "SELECT feature_set, feature_values FROM feature_rows WHERE capture_id = $1 ORDER BY feature_set";
        let rows: Vec<FeatureRow> = on_pool!(self, pool => {
            sqlx::query_as(SQL).bind(capture_id).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| {
                let pairs = decode_pairs("feature_rows.feature_values", &row.feature_values)?;
                let (names, values) = pairs.into_iter().map(|(name, value)| (name, value as f32)).unzip();
                Ok(FeatureValues { feature_set: row.feature_set, names, values })
            })
            .collect()
    }

    /// A stored asset by id.
    pub async fn asset(&self, id: &str) -> Result<Option<AssetRecord>, StoreError> {
        const SQL: &str = "SELECT id, kind, site, first_seen, last_seen FROM assets WHERE id = $1";
        let row: Option<AssetRow> = on_pool!(self, pool => {
            sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?
        });
        row.map(|r| {
            let kind = AssetKind::parse(&r.kind).ok_or_else(|| StoreError::Corrupt {
                what: "assets.kind",
                detail: format!("unknown kind {:?}", r.kind),
            })?;
            Ok(AssetRecord { id: r.id, kind, site: r.site, first_seen: r.first_seen.0, last_seen: r.last_seen.0 })
        })
        .transpose()
    }

    /// The `limit` most recent predictions over all assets, newest first (by `scored_at`, then id).
    pub async fn latest_predictions(&self, limit: i64) -> Result<Vec<PredictionRecord>, StoreError> {
        check_limit(limit)?;
        let sql = format!("SELECT {PREDICTION_COLUMNS} FROM predictions ORDER BY scored_at DESC, id DESC LIMIT $1");
        let rows: Vec<PredictionRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(limit).fetch_all(pool).await?
        });
        predictions(rows)
    }

    /// The `limit` most recent predictions for one asset, newest first (by `scored_at`, then id).
    pub async fn predictions_for_asset(&self, asset_id: &str, limit: i64) -> Result<Vec<PredictionRecord>, StoreError> {
        check_limit(limit)?;
        let sql = format!(
            "SELECT {PREDICTION_COLUMNS} FROM predictions WHERE asset_id = $1 \
             ORDER BY scored_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<PredictionRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(asset_id).bind(limit).fetch_all(pool).await?
        });
        predictions(rows)
    }

    /// The predictions of one capture, newest first (one per capture today).
    pub async fn predictions_for_capture(&self, capture_id: i64) -> Result<Vec<PredictionRecord>, StoreError> {
        let sql = format!("SELECT {PREDICTION_COLUMNS} FROM predictions WHERE capture_id = $1 ORDER BY id DESC");
        let rows: Vec<PredictionRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(capture_id).fetch_all(pool).await?
        });
        predictions(rows)
    }

    /// The `limit` most recent quarantined inputs, newest first.
    pub async fn recent_quarantine(&self, limit: i64) -> Result<Vec<QuarantineRecord>, StoreError> {
        check_limit(limit)?;
        const SQL: &str = "SELECT id, source, reason, at FROM quarantine ORDER BY at DESC, id DESC LIMIT $1";
        let rows: Vec<QuarantineRow> = on_pool!(self, pool => {
            sqlx::query_as(SQL).bind(limit).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|r| QuarantineRecord { id: r.id, source: r.source, reason: r.reason, at: r.at.0 })
            .collect())
    }

    /// How many captures are stored.
    pub async fn count_captures(&self) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM captures").await
    }

    /// How many predictions are stored.
    pub async fn count_predictions(&self) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM predictions").await
    }

    /// How many feature rows are stored.
    pub async fn count_feature_rows(&self) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM feature_rows").await
    }

    /// How many quarantined inputs are stored.
    pub async fn count_quarantine(&self) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM quarantine").await
    }

    async fn count(&self, sql: &'static str) -> Result<i64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }
}
