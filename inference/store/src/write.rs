//! Writes: a scored capture in one transaction, and quarantined inputs.

use chrono::{DateTime, Utc};

use crate::connect::{on_pool, Pool};
use crate::json::{encode_explanation, encode_pairs};
use crate::time::Ts;
use crate::{AssetKind, Contribution, FeatureValues, NewCapture, NewPrediction, RecordOutcome, Store, StoreError};

/// Creates the site or widens its first/last-seen span.
const UPSERT_SITE: &str = "\
INSERT INTO sites (id, first_seen, last_seen) VALUES ($1, $2, $2)
ON CONFLICT (id) DO UPDATE SET
    first_seen = CASE WHEN excluded.first_seen < sites.first_seen THEN excluded.first_seen ELSE sites.first_seen END,
    last_seen = CASE WHEN excluded.last_seen > sites.last_seen THEN excluded.last_seen ELSE sites.last_seen END";

/// Creates the asset or widens its span; its site follows the newest observation. Returns the stored kind.
const UPSERT_ASSET: &str = "\
INSERT INTO assets (id, kind, site, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)
ON CONFLICT (id) DO UPDATE SET
    site = CASE WHEN excluded.last_seen >= assets.last_seen THEN excluded.site ELSE assets.site END,
    first_seen = CASE WHEN excluded.first_seen < assets.first_seen THEN excluded.first_seen ELSE assets.first_seen END,
    last_seen = CASE WHEN excluded.last_seen > assets.last_seen THEN excluded.last_seen ELSE assets.last_seen END
RETURNING kind";

/// Inserts the capture unless its hash is stored: then no row comes back.
const INSERT_CAPTURE: &str = "\
INSERT INTO captures (content_hash, site, camera, asset_id, run_count, captured_at, received_at, source, width,
    profiles, height_units, mean_height, mean_intensity)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (content_hash) DO NOTHING
RETURNING id";

const INSERT_CAPTURE_FEATURES: &str = "\
INSERT INTO feature_rows (capture_id, asset_id, feature_set, feature_values, observed_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING id";

const INSERT_PREDICTION: &str = "\
INSERT INTO predictions (asset_id, capture_id, feature_row_id, model, model_version, health_score, label,
    probabilities, scored_at, observed_at, explanation)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

pub(crate) const CAPTURE_ID_BY_HASH: &str = "SELECT id FROM captures WHERE content_hash = $1";

const INSERT_QUARANTINE: &str = "INSERT INTO quarantine (source, reason, at) VALUES ($1, $2, $3)";

impl Pool {
    /// The statement that opens a write transaction. On SQLite it takes the write lock at once, so that the busy
    /// timeout applies and no transaction fails later on a stale snapshot; PostgreSQL's row locks need nothing.
    pub(crate) fn begin_write(&self) -> &'static str {
        match self {
            Pool::Sqlite(_) => "BEGIN IMMEDIATE",
            Pool::Postgres(_) => "BEGIN",
        }
    }
}

fn check(capture: &NewCapture, features: &FeatureValues, prediction: &NewPrediction) -> Result<(), StoreError> {
    let empty = [
        ("content_hash", &capture.content_hash),
        ("site", &capture.site),
        ("camera", &capture.camera),
        ("asset_id", &capture.asset_id),
        ("feature_set", &features.feature_set),
        ("model", &prediction.model),
        ("model_version", &prediction.model_version),
    ]
    .into_iter()
    .find(|(_, value)| value.is_empty());
    if let Some((field, _)) = empty {
        return Err(StoreError::InvalidInput(format!("{field} is empty")));
    }
    if features.names.len() != features.values.len() {
        return Err(StoreError::InvalidInput(format!(
            "feature set {}: {} names but {} values",
            features.feature_set,
            features.names.len(),
            features.values.len()
        )));
    }
    if !prediction.health_score.is_finite() {
        return Err(StoreError::InvalidInput(format!("health score {} is not finite", prediction.health_score)));
    }
    Ok(())
}

impl Store {
    /// One transaction: upsert the site and the asset (a wheel), insert the capture, its feature row and its
    /// prediction. The prediction's `observed_at` is the capture time (`captured_at`), which trends bucket by.
    ///
    /// A capture whose `content_hash` is already stored is not inserted again, nor is anything else written:
    /// this returns [`RecordOutcome::Duplicate`] with the existing id. The check is the `UNIQUE` constraint
    /// itself (`ON CONFLICT DO NOTHING`), so two processes recording the same capture at once cannot both
    /// insert it: the second waits for the first to commit and then sees its row.
    pub async fn record_scored_capture(
        &self,
        capture: &NewCapture,
        features: &FeatureValues,
        prediction: &NewPrediction,
    ) -> Result<RecordOutcome, StoreError> {
        self.record_explained_capture(capture, features, prediction, None).await
    }

    /// Like [`Store::record_scored_capture`], with the features that pulled the score down most stored with the
    /// prediction (`predictions.explanation`).
    pub async fn record_explained_capture(
        &self,
        capture: &NewCapture,
        features: &FeatureValues,
        prediction: &NewPrediction,
        explanation: Option<&[Contribution]>,
    ) -> Result<RecordOutcome, StoreError> {
        check(capture, features, prediction)?;
        let explanation_json = encode_explanation(explanation)?;
        let feature_json = encode_pairs(
            "feature names",
            features.names.iter().map(String::as_str).zip(features.values.iter().copied()),
        )?;
        let probabilities_json =
            encode_pairs("class probabilities", prediction.probabilities.iter().map(|(c, p)| (c.as_str(), *p)))?;
        let captured_at = Ts::new(capture.captured_at);
        let received_at = Ts::new(Utc::now());
        let begin = self.pool.begin_write();

        on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(UPSERT_SITE).bind(&capture.site).bind(captured_at).execute(&mut *tx).await?;
            let kind: String = sqlx::query_scalar(UPSERT_ASSET)
                .bind(&capture.asset_id)
                .bind(AssetKind::Wheel.as_str())
                .bind(&capture.site)
                .bind(captured_at)
                .fetch_one(&mut *tx)
                .await?;
            if kind != AssetKind::Wheel.as_str() {
                return Err(StoreError::InvalidInput(format!(
                    "asset {} is stored as a {kind}, not a wheel",
                    capture.asset_id
                )));
            }
            let inserted: Option<i64> = sqlx::query_scalar(INSERT_CAPTURE)
                .bind(&capture.content_hash)
                .bind(&capture.site)
                .bind(&capture.camera)
                .bind(&capture.asset_id)
                .bind(capture.run_count)
                .bind(captured_at)
                .bind(received_at)
                .bind(&capture.source)
                .bind(capture.width)
                .bind(capture.profiles)
                .bind(&capture.height_units)
                .bind(capture.mean_height)
                .bind(capture.mean_intensity)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(capture_id) = inserted else {
                // Conflict: the row is committed (PostgreSQL waited for its writer; READ COMMITTED lets this
                // statement see it) or was there before our write lock (SQLite).
                let existing: i64 =
                    sqlx::query_scalar(CAPTURE_ID_BY_HASH).bind(&capture.content_hash).fetch_one(&mut *tx).await?;
                tx.rollback().await?;
                return Ok(RecordOutcome::Duplicate(existing));
            };
            let feature_row_id: i64 = sqlx::query_scalar(INSERT_CAPTURE_FEATURES)
                .bind(capture_id)
                .bind(&capture.asset_id)
                .bind(&features.feature_set)
                .bind(&feature_json)
                .bind(captured_at)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(INSERT_PREDICTION)
                .bind(&capture.asset_id)
                .bind(capture_id)
                .bind(feature_row_id)
                .bind(&prediction.model)
                .bind(&prediction.model_version)
                .bind(prediction.health_score)
                .bind(&prediction.label)
                .bind(&probabilities_json)
                .bind(Ts::new(prediction.scored_at))
                .bind(captured_at)
                .bind(&explanation_json)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(RecordOutcome::Inserted(capture_id))
        })
    }

    /// Records an input that could not be ingested, with the reason.
    pub async fn record_quarantine(&self, source: &str, reason: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query(INSERT_QUARANTINE).bind(source).bind(reason).bind(Ts::new(at)).execute(pool).await?;
        });
        Ok(())
    }
}
