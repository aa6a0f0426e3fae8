//! The one error type at the HTTP edge: every variant maps to a status code and a JSON body
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prognos_scoring::ScoringError;
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not valid JSON of the expected shape.
    MalformedJson(String),
    /// 422: the request is well-formed but its content does not fit (missing feature, NaN, wrong count...).
    Invalid {
        /// A stable machine-readable code.
        code: &'static str,
        /// What is wrong, naming the row and feature.
        message: String,
    },
    /// 401: no token, or an unknown one.
    Unauthorized(&'static str),
    /// 403: the token's role may not do this.
    Forbidden(String),
    /// 404: no such model (or resource).
    NotFound(String),
    /// 413: the body is larger than `server.body_limit_bytes`.
    PayloadTooLarge(String),
    /// 503: the model's queue is full; retry.
    Overloaded(String),
    /// 503: the service is shutting down or not ready.
    Unavailable(String),
    /// 500: a fault on our side (the message is logged; the client gets a generic one).
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::MalformedJson(m) => (StatusCode::BAD_REQUEST, "malformed_json", m.clone()),
            ApiError::Invalid { code, message } => (StatusCode::UNPROCESSABLE_ENTITY, code, message.clone()),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", (*m).to_string()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m.clone()),
            ApiError::Overloaded(m) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded", m.clone()),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m.clone()),
            ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the service log".to_string())
            }
        }
    }
}

impl From<ScoringError> for ApiError {
    fn from(e: ScoringError) -> Self {
        match e {
            ScoringError::UnknownModel(m) => ApiError::NotFound(format!("no model named {m}")),
            ScoringError::Input(m) => ApiError::Invalid { code: "invalid_batch", message: m },
            ScoringError::Overloaded(_) => ApiError::Overloaded(e.to_string()),
            ScoringError::WorkerGone(_) => ApiError::Unavailable(e.to_string()),
            ScoringError::RuntimeMissing { .. }
            | ScoringError::Card { .. }
            | ScoringError::Mismatch { .. }
            | ScoringError::Load { .. }
            | ScoringError::Inference { .. }
            | ScoringError::Registry { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<prognos_store::StoreError> for ApiError {
    fn from(e: prognos_store::StoreError) -> Self {
        match e {
            // A filter, cursor or limit the store refused: the client's to fix.
            prognos_store::StoreError::InvalidInput(message) => ApiError::Invalid { code: "invalid_query", message },
            e => ApiError::Internal(format!("store: {e}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let mut resp = (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response();
        match self {
            ApiError::Unauthorized(_) => {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Overloaded(_) => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        resp
    }
}
