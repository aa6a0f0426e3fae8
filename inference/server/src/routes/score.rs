//! `POST /v1/score/{model}`: JSON rows in, health scores and class probabilities out.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api_error::ApiError;
use crate::routes::score_input::parse_rows;
use crate::state::AppState;

/// One scored row.
#[derive(Debug, Serialize)]
pub struct Prediction<'a> {
    /// P(healthy) x 100.
    pub health_score: f32,
    /// Whether the score is below the model's alert threshold.
    pub below_threshold: bool,
    /// The most probable class.
    pub label: &'a str,
    /// Every class's probability.
    pub probabilities: BTreeMap<&'a str, f32>,
}

/// The response body.
#[derive(Debug, Serialize)]
pub struct ScoreResponse<'a> {
    /// Model name.
    pub model: &'a str,
    /// Model version that scored the rows.
    pub version: &'a str,
    /// The model's alert threshold.
    pub threshold: f64,
    /// One per request row, in order.
    pub predictions: Vec<Prediction<'a>>,
}

/// Scores the rows of the body with `model` (`name` or `name@version`).
pub async fn score(
    State(state): State<AppState>,
    Path(model): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "the body is larger than server.body_limit_bytes ({} bytes)",
                state.settings.server.body_limit_bytes
            ))
        } else {
            ApiError::MalformedJson(e.body_text())
        }
    })?;
    let handle = state.models.resolve(&model)?;
    let card = handle.card().clone();
    let batch = parse_rows(&body, &card, state.settings.server.max_rows_per_request)?;
    let scores = handle.score(batch).await?;
    let threshold = card.alert.threshold;
    let classes = &card.output.classes;
    let predictions = (0..scores.rows())
        .map(|i| {
            let row = scores.row(i);
            let best = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(j, _)| j).unwrap_or(0);
            let health = scores.health(i);
            Prediction {
                health_score: health,
                below_threshold: f64::from(health) < threshold,
                label: &classes[best],
                probabilities: classes.iter().map(String::as_str).zip(row.iter().copied()).collect(),
            }
        })
        .collect();
    let response = ScoreResponse { model: &card.name, version: &card.version, threshold, predictions };
    let bytes = serde_json::to_vec(&response).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}
