//! `/healthz` (the process is up), `/readyz` (models loaded and warmed) and `/metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// 200 while the process runs.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "up"}))
}

/// 200 once every model is loaded and warmed; 503 before.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let models = state.models.len();
    if state.is_ready() {
        (StatusCode::OK, Json(json!({"status": "ready", "models": models})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "loading", "models": models})))
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}
