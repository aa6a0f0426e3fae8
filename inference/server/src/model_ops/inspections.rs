//! `POST /v1/inspections` (operator, admin) and `GET /v1/inspections`: what an inspection of a wheel or an
//! inverter found, the labels that flow back into training data.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use prognos_store::{AssetKind, NewInspection};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::ApiError;
use crate::auth::Caller;
use crate::state::AppState;

/// The body of `POST /v1/inspections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionBody {
    /// Wheel or inverter id.
    pub asset: String,
    /// `wheel` (default) or `inverter`.
    #[serde(default)]
    pub asset_kind: Option<String>,
    /// When it was inspected (RFC 3339); default now.
    #[serde(default)]
    pub inspected_at: Option<DateTime<Utc>>,
    /// `healthy`, or the failure found (`flat_spot`, `cracks`, ...).
    pub outcome: String,
    /// How bad, 0..1, if judged.
    #[serde(default)]
    pub severity: Option<f64>,
    /// Free text.
    #[serde(default)]
    pub notes: String,
}

/// Parses `wheel` / `inverter`.
pub fn parse_kind(kind: Option<&str>) -> Result<AssetKind, String> {
    let kind = kind.unwrap_or("wheel");
    AssetKind::parse(kind).ok_or_else(|| format!("asset_kind {kind:?} must be wheel or inverter"))
}

/// Records an inspection.
pub async fn record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<InspectionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::MalformedJson(e.body_text()))?;
    let invalid = |message: String| ApiError::Invalid { code: "invalid_inspection", message };
    let inspection = NewInspection {
        asset_kind: parse_kind(body.asset_kind.as_deref()).map_err(invalid)?,
        asset_id: body.asset,
        inspected_at: body.inspected_at.unwrap_or_else(Utc::now),
        outcome: body.outcome,
        severity: body.severity,
        notes: body.notes,
        recorded_by: caller.name,
    };
    let id = state.store.record_inspection(&inspection).await.map_err(|e| match e {
        prognos_store::StoreError::InvalidInput(m) => invalid(m),
        other => other.into(),
    })?;
    tracing::info!(id, asset = inspection.asset_id, outcome = inspection.outcome, "inspection recorded");
    metrics::counter!("prognos_inspections_total", "outcome" => if inspection.outcome == "healthy" { "healthy" } else { "failure" })
        .increment(1);
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

/// `?asset=&limit=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only this asset.
    pub asset: Option<String>,
    /// At most this many (default 100, at most 10 000).
    pub limit: Option<i64>,
}

/// Lists inspections, newest first.
pub async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let rows = state.store.inspections(q.asset.as_deref(), limit).await?;
    Ok(Json(json!({"inspections": rows})))
}
