//! The HTTP API: routes, their access rules, and the request metrics around them.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{self, Access};
use crate::state::AppState;

/// A listing's page size: `limit` (default 100), 1 to 10,000.
pub fn page_limit(limit: Option<i64>) -> Result<i64, crate::api_error::ApiError> {
    let limit = limit.unwrap_or(100);
    if (1..=10_000).contains(&limit) {
        Ok(limit)
    } else {
        Err(crate::api_error::ApiError::Invalid {
            code: "invalid_query",
            message: format!("limit must be 1 to 10000, got {limit}"),
        })
    }
}

pub mod alerts;
pub mod assets;
pub mod exports;
pub mod health;
pub mod ingest;
pub mod models;
pub mod predictions;
pub mod score;
pub mod score_input;

/// The full router.
pub fn router(state: AppState) -> Router {
    let read = Router::new()
        .route("/v1/score/{model}", post(score::score))
        .route("/v1/models", get(models::list))
        .route("/v1/inspections", get(crate::model_ops::inspections::list))
        .route("/v1/predictions", get(predictions::list))
        .route("/v1/assets", get(assets::list_assets))
        .route("/v1/assets/{id}", get(assets::get_asset))
        .route("/v1/assets/{id}/trend", get(assets::trend))
        .route("/v1/alerts", get(alerts::list_alerts))
        .route("/v1/notifications", get(alerts::list_notifications))
        .route("/v1/silences", get(alerts::list_silences))
        .route("/v1/alerts/notifiers", get(alerts::notifiers))
        .route("/v1/exports/{file}", get(exports::export))
        .route_layer(from_fn_with_state((state.clone(), Access::Read), auth::require));
    let operate = Router::new()
        .route("/v1/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/v1/silences", post(alerts::create_silence))
        .route("/v1/alerts/routes/{route}/test", post(alerts::test_send))
        .route("/v1/inspections", post(crate::model_ops::inspections::record))
        .route_layer(from_fn_with_state((state.clone(), Access::Operate), auth::require));
    let ingest = Router::new()
        .route("/v1/ingest/{pipeline}", post(ingest::ingest))
        .route_layer(from_fn_with_state((state.clone(), Access::Ingest), auth::require));
    Router::new()
        .merge(read)
        .merge(operate)
        .merge(models::routes(state.clone()))
        .merge(ingest)
        .merge(crate::dashboard::router(state.clone()))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(from_fn(record_request))
        .layer(DefaultBodyLimit::max(state.settings.server.body_limit_bytes))
        .with_state(state)
}

/// Counts every request and records its latency, by route template, method and status.
async fn record_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let secs = started.elapsed().as_secs_f64();
    metrics::counter!("prognos_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("prognos_http_request_duration_seconds", "route" => route, "method" => method).record(secs);
    resp
}
