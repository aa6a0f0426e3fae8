//! Model operations (tables from `0005_model_ops.sql`): the version each model serves as chosen by an operator,
//! kept across restarts, and inspection outcomes joined to stored feature rows for retraining.

use chrono::{DateTime, Utc};

use crate::connect::on_pool;
use crate::json::decode_pairs;
use crate::time::Ts;
use crate::{AssetKind, Store, StoreError};

/// The version a model serves, as last chosen (activate, rollback, promote, upload).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSelection {
    /// The model name.
    pub model: String,
    /// The version to serve.
    pub active_version: String,
    /// The version a rollback returns to.
    pub previous_version: Option<String>,
    /// The version scoring in the shadow of the active one.
    pub shadow_version: Option<String>,
    /// When it was chosen.
    pub updated_at: DateTime<Utc>,
    /// Who chose it (token name, or `cli`).
    pub updated_by: String,
}

/// An inspection to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInspection {
    /// Wheel or inverter id.
    pub asset_id: String,
    /// Wheel or inverter.
    pub asset_kind: AssetKind,
    /// When the asset was inspected.
    pub inspected_at: DateTime<Utc>,
    /// `healthy`, or the failure found (a failure mode such as `flat_spot`).
    pub outcome: String,
    /// How bad the failure was, 0..1 (0 for healthy), when the inspector judged it.
    pub severity: Option<f64>,
    /// Free text.
    pub notes: String,
    /// Who recorded it.
    pub recorded_by: String,
}

/// A stored inspection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InspectionRecord {
    /// Row id.
    pub id: i64,
    /// Wheel or inverter id.
    pub asset_id: String,
    /// `wheel` or `inverter`.
    pub asset_kind: String,
    /// When the asset was inspected.
    pub inspected_at: DateTime<Utc>,
    /// `healthy` or the failure found.
    pub outcome: String,
    /// 0..1, if judged.
    pub severity: Option<f64>,
    /// Free text.
    pub notes: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The feature row an inspection labels: the newest one of the asset observed at or before the inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRow {
    /// The inspection.
    pub inspection: InspectionRecord,
    /// The feature set of the row (`wheel-v1`, ...).
    pub feature_set: String,
    /// Feature names and values, in the stored order.
    pub features: Vec<(String, f64)>,
    /// When the row was observed (capture time, or window end).
    pub observed_at: DateTime<Utc>,
    /// The capture's source name (file stem), for capture rows.
    pub source: Option<String>,
    /// The capture's camera, for capture rows.
    pub camera: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SelectionRow {
    model: String,
    active_version: String,
    previous_version: Option<String>,
    shadow_version: Option<String>,
    updated_at: Ts,
    updated_by: String,
}

impl From<SelectionRow> for ModelSelection {
    fn from(r: SelectionRow) -> Self {
        ModelSelection {
            model: r.model,
            active_version: r.active_version,
            previous_version: r.previous_version,
            shadow_version: r.shadow_version,
            updated_at: r.updated_at.0,
            updated_by: r.updated_by,
        }
    }
}

#[derive(sqlx::FromRow)]
struct InspectionRow {
    id: i64,
    asset_id: String,
    asset_kind: String,
    inspected_at: Ts,
    outcome: String,
    severity: Option<f64>,
    notes: String,
    recorded_by: String,
    recorded_at: Ts,
}

impl From<InspectionRow> for InspectionRecord {
    fn from(r: InspectionRow) -> Self {
        InspectionRecord {
            id: r.id,
            asset_id: r.asset_id,
            asset_kind: r.asset_kind,
            inspected_at: r.inspected_at.0,
            outcome: r.outcome,
            severity: r.severity,
            notes: r.notes,
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct NearestRow {
    feature_set: String,
    feature_values: String,
    observed_at: Ts,
    source: Option<String>,
    camera: Option<String>,
}

const SELECTION_COLUMNS: &str = "model, active_version, previous_version, shadow_version, updated_at, updated_by";
const INSPECTION_COLUMNS: &str =
    "id, asset_id, asset_kind, inspected_at, outcome, severity, notes, recorded_by, recorded_at";

const UPSERT_SELECTION: &str = "\
INSERT INTO model_selections (model, active_version, previous_version, shadow_version, updated_at, updated_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (model) DO UPDATE SET active_version = excluded.active_version,
    previous_version = excluded.previous_version, shadow_version = excluded.shadow_version,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by";

const INSERT_INSPECTION: &str = "\
INSERT INTO inspections (asset_id, asset_kind, inspected_at, outcome, severity, notes, recorded_by, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id";

/// The newest feature row of an asset and feature set observed at or before a time, and no older than a bound.
const NEAREST_ROW: &str = "\
SELECT f.feature_set, f.feature_values, f.observed_at, c.source, c.camera
FROM feature_rows f LEFT JOIN captures c ON c.id = f.capture_id
WHERE f.asset_id = $1 AND f.feature_set = $2 AND f.observed_at <= $3 AND f.observed_at >= $4
ORDER BY f.observed_at DESC, f.id DESC
LIMIT 1";

/// Checks an inspection before it is written.
fn check(inspection: &NewInspection) -> Result<(), StoreError> {
    let bad = |m: String| Err(StoreError::InvalidInput(m));
    if inspection.asset_id.trim().is_empty() {
        return bad("asset id is empty".into());
    }
    let outcome = inspection.outcome.trim();
    if outcome.is_empty() || outcome.len() > 64 || !outcome.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad(format!(
            "outcome {:?} must be `healthy` or a failure mode such as `flat_spot` (letters, digits, _)",
            inspection.outcome
        ));
    }
    if let Some(s) = inspection.severity {
        if !(0.0..=1.0).contains(&s) {
            return bad(format!("severity {s} is outside 0..1"));
        }
        if outcome == "healthy" && s > 0.0 {
            return bad(format!("a healthy inspection has severity 0, not {s}"));
        }
    }
    Ok(())
}

impl Store {
    /// Records the version a model serves (and its rollback target and shadow), replacing the previous choice.
    pub async fn set_model_selection(&self, selection: &ModelSelection) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query(UPSERT_SELECTION)
                .bind(&selection.model)
                .bind(&selection.active_version)
                .bind(&selection.previous_version)
                .bind(&selection.shadow_version)
                .bind(Ts::new(selection.updated_at))
                .bind(&selection.updated_by)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The recorded choice for a model, if any.
    pub async fn model_selection(&self, model: &str) -> Result<Option<ModelSelection>, StoreError> {
        let sql = format!("SELECT {SELECTION_COLUMNS} FROM model_selections WHERE model = $1");
        let row: Option<SelectionRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(model).fetch_optional(pool).await?
        });
        Ok(row.map(Into::into))
    }

    /// Records an inspection; returns its id.
    pub async fn record_inspection(&self, inspection: &NewInspection) -> Result<i64, StoreError> {
        check(inspection)?;
        let id: i64 = on_pool!(self, pool => {
            sqlx::query_scalar(INSERT_INSPECTION)
                .bind(inspection.asset_id.trim())
                .bind(inspection.asset_kind.as_str())
                .bind(Ts::new(inspection.inspected_at))
                .bind(inspection.outcome.trim())
                .bind(inspection.severity)
                .bind(&inspection.notes)
                .bind(&inspection.recorded_by)
                .bind(Ts::new(Utc::now()))
                .fetch_one(pool)
                .await?
        });
        Ok(id)
    }

    /// Inspections, newest first, optionally of one asset.
    pub async fn inspections(&self, asset: Option<&str>, limit: i64) -> Result<Vec<InspectionRecord>, StoreError> {
        let sql = format!(
            "SELECT {INSPECTION_COLUMNS} FROM inspections WHERE ($1 IS NULL OR asset_id = $1) \
             ORDER BY inspected_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<InspectionRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(asset).bind(limit.max(0)).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Every inspection with the feature row it labels: for each inspection, the newest `feature_set` row of the
    /// asset observed at or before the inspection and at most `max_age` before it. Inspections without such a
    /// row come back in the second list.
    pub async fn labelled_feature_rows(
        &self,
        feature_set: &str,
        max_age: chrono::Duration,
    ) -> Result<(Vec<LabelledRow>, Vec<InspectionRecord>), StoreError> {
        let sql = format!("SELECT {INSPECTION_COLUMNS} FROM inspections ORDER BY inspected_at, id");
        let inspections: Vec<InspectionRow> = on_pool!(self, pool => { sqlx::query_as(&sql).fetch_all(pool).await? });
        let mut labelled = Vec::new();
        let mut unmatched = Vec::new();
        for row in inspections {
            let inspection = InspectionRecord::from(row);
            let at = inspection.inspected_at;
            let nearest: Option<NearestRow> = on_pool!(self, pool => {
                sqlx::query_as(NEAREST_ROW)
                    .bind(&inspection.asset_id)
                    .bind(feature_set)
                    .bind(Ts::new(at))
                    .bind(Ts::new(at - max_age))
                    .fetch_optional(pool)
                    .await?
            });
            match nearest {
                Some(n) => labelled.push(LabelledRow {
                    features: decode_pairs("feature_rows.feature_values", &n.feature_values)?,
                    feature_set: n.feature_set,
                    observed_at: n.observed_at.0,
                    source: n.source,
                    camera: n.camera,
                    inspection,
                }),
                None => unmatched.push(inspection),
            }
        }
        Ok((labelled, unmatched))
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::testing::TestDb;
    use crate::{FeatureValues, NewCapture, NewPrediction};

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
    }

    async fn capture(store: &Store, wheel: &str, hour: u32, value: f32) {
        let c = NewCapture {
            content_hash: format!("{wheel}-{hour}"),
            site: "park".into(),
            camera: "Cam_01".into(),
            asset_id: wheel.into(),
            run_count: None,
            captured_at: at(hour),
            source: format!("Cam_01_{hour}_{wheel}"),
            width: 1,
            profiles: 1,
            height_units: "mm".into(),
            mean_height: 1.0,
            mean_intensity: 1.0,
        };
        let f = FeatureValues {
            feature_set: "wheel-v1".into(),
            names: vec!["a".into(), "b".into()],
            values: vec![value, 1.0],
        };
        let p = NewPrediction {
            model: "m".into(),
            model_version: "1.0.0".into(),
            health_score: 90.0,
            label: "healthy".into(),
            probabilities: vec![("healthy".into(), 0.9), ("defect".into(), 0.1)],
            scored_at: at(hour),
        };
        store.record_scored_capture(&c, &f, &p).await.unwrap();
    }

    fn inspection(wheel: &str, hour: u32, outcome: &str) -> NewInspection {
        NewInspection {
            asset_id: wheel.into(),
            asset_kind: AssetKind::Wheel,
            inspected_at: at(hour),
            outcome: outcome.into(),
            severity: None,
            notes: String::new(),
            recorded_by: "test".into(),
        }
    }

    async fn labels_join_the_nearest_capture_before_the_inspection(db: &TestDb) {
        let store = Store::connect(&db.url).await.unwrap();
        capture(&store, "W01", 1, 1.0).await;
        capture(&store, "W01", 3, 3.0).await;
        capture(&store, "W01", 5, 5.0).await; // after the inspection: never its label
        store.record_inspection(&inspection("W01", 4, "flat_spot")).await.unwrap();
        store.record_inspection(&inspection("W02", 4, "healthy")).await.unwrap(); // no capture
        store.record_inspection(&inspection("W01", 12, "healthy")).await.unwrap(); // 7 h after: too old
        let (rows, unmatched) = store.labelled_feature_rows("wheel-v1", chrono::Duration::hours(6)).await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].features[0], ("a".to_string(), 3.0));
        assert_eq!(rows[0].observed_at, at(3));
        assert_eq!(rows[0].source.as_deref(), Some("Cam_01_3_W01"));
        assert_eq!(rows[0].inspection.outcome, "flat_spot");
        assert_eq!(unmatched.iter().map(|i| i.asset_id.as_str()).collect::<Vec<_>>(), ["W02", "W01"]);
        assert!(store.record_inspection(&inspection("W01", 4, "no good!")).await.is_err());
        let mut bad = inspection("W01", 4, "healthy");
        bad.severity = Some(0.5);
        assert!(store.record_inspection(&bad).await.is_err());
        assert_eq!(store.inspections(Some("W01"), 10).await.unwrap().len(), 2);
        store.close().await;
    }

    async fn a_model_selection_survives_reconnecting(db: &TestDb) {
        let store = Store::connect(&db.url).await.unwrap();
        assert!(store.model_selection("m").await.unwrap().is_none());
        let mut sel = ModelSelection {
            model: "m".into(),
            active_version: "1.1.0".into(),
            previous_version: Some("1.0.0".into()),
            shadow_version: None,
            updated_at: at(1),
            updated_by: "alice".into(),
        };
        store.set_model_selection(&sel).await.unwrap();
        sel.active_version = "1.0.0".into();
        sel.previous_version = Some("1.1.0".into());
        sel.shadow_version = Some("1.2.0".into());
        store.set_model_selection(&sel).await.unwrap();
        store.close().await;
        let store = Store::connect(&db.url).await.unwrap();
        assert_eq!(store.model_selection("m").await.unwrap(), Some(sel));
        store.close().await;
    }

    crate::on_both_backends!(
        labels_join_the_nearest_capture_before_the_inspection,
        a_model_selection_survives_reconnecting
    );
}
