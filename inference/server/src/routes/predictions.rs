//! `GET /v1/predictions`: stored predictions, newest observation first, with filters (asset, site, model,
//! version, time range) and keyset paging (`after` = the `next` of the previous page).

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use prognos_store::{PredictionCursor, PredictionFilter, PredictionRecord};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::ApiError;
use crate::state::AppState;

/// Query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionQuery {
    /// Only this asset (a wheel or inverter id).
    pub asset: Option<String>,
    /// Only assets of this site.
    pub site: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Only this model version.
    pub model_version: Option<String>,
    /// Observed at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Observed before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most this many (default 100, at most 10,000).
    pub limit: Option<i64>,
}

/// One prediction as the API shows it.
pub fn prediction_json(p: PredictionRecord) -> Value {
    json!({
        "id": p.id,
        "asset": p.asset_id,
        "capture_id": p.capture_id,
        "model": p.model,
        "model_version": p.model_version,
        "health_score": p.health_score,
        "label": p.label,
        "probabilities": p.probabilities.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<String, Value>>(),
        "observed_at": p.observed_at.to_rfc3339(),
        "scored_at": p.scored_at.to_rfc3339(),
        "explanation": p.explanation,
    })
}

/// Lists predictions: `{"predictions": [...], "next": cursor or null}` (`next` is null on the last page).
pub async fn list(State(state): State<AppState>, Query(q): Query<PredictionQuery>) -> Result<Json<Value>, ApiError> {
    let limit = super::page_limit(q.limit)?;
    let after = q.after.as_deref().map(PredictionCursor::parse).transpose()?;
    let filter = PredictionFilter {
        asset_id: q.asset,
        site: q.site,
        model: q.model,
        model_version: q.model_version,
        from: q.from,
        to: q.to,
        after,
        limit,
    };
    let rows = state.store.list_predictions(&filter).await?;
    let next =
        (rows.len() as i64 == limit).then(|| rows.last().map(|p| PredictionCursor::after(p).to_string())).flatten();
    let predictions: Vec<Value> = rows.into_iter().map(prediction_json).collect();
    Ok(Json(json!({ "predictions": predictions, "next": next })))
}
