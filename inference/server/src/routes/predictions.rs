//! `GET /v1/predictions`: stored predictions, newest first, optionally for one asset.

use axum::extract::{Query, State};
use axum::Json;
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
    /// At most this many (default 100, at most 10,000).
    pub limit: Option<i64>,
}

/// Lists predictions.
pub async fn list(State(state): State<AppState>, Query(q): Query<PredictionQuery>) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let rows = match &q.asset {
        Some(asset) => state.store.predictions_for_asset(asset, limit).await,
        None => state.store.latest_predictions(limit).await,
    }?;
    let predictions: Vec<Value> = rows
        .into_iter()
        .map(|p| {
            json!({
                "id": p.id,
                "asset": p.asset_id,
                "capture_id": p.capture_id,
                "model": p.model,
                "model_version": p.model_version,
                "health_score": p.health_score,
                "label": p.label,
                "probabilities": p.probabilities.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<String, Value>>(),
                "scored_at": p.scored_at.to_rfc3339(),
                "explanation": p.explanation,
            })
        })
        .collect();
    Ok(Json(json!({ "predictions": predictions })))
}
