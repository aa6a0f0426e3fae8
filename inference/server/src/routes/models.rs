//! `/v1/models`: what is served (each card's contract and provenance, what was refused), and the model
//! operations of the data-scientist role: upload, reload, activate, roll back, shadow and promote.

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::ApiError;
use crate::auth::{self, Access, Caller};
use crate::model_ops::upload::{Upload, UploadMode};
use crate::model_ops::{self, OpsError};
use crate::state::AppState;

/// The largest model upload accepted (the service's general body limit does not apply to uploads).
pub const UPLOAD_LIMIT_BYTES: usize = 512 * 1024 * 1024;

/// The model-operation routes: reading for every role, changes for data scientists and admins.
pub fn routes(state: AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/v1/models/{name}/versions", get(versions))
        .route("/v1/models/{name}/shadow", get(shadow_report))
        .route("/v1/models/{name}/drift", get(drift))
        .route_layer(from_fn_with_state((state.clone(), Access::Read), auth::require));
    let manage = Router::new()
        .route("/v1/models/{name}/versions", post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT_BYTES)))
        .route("/v1/models/reload", post(reload))
        .route("/v1/models/{name}/activate", post(activate))
        .route("/v1/models/{name}/rollback", post(rollback))
        .route("/v1/models/{name}/shadow", post(start_shadow).delete(stop_shadow))
        .route("/v1/models/{name}/promote", post(promote))
        .route_layer(from_fn_with_state((state, Access::ManageModels), auth::require));
    read.merge(manage)
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::NotFound(m) => ApiError::NotFound(m),
            OpsError::Refused { .. } => ApiError::Invalid { code: "model_refused", message: e.to_string() },
            OpsError::Conflict(m) => ApiError::Invalid { code: "conflict", message: m },
            OpsError::Invalid(m) => ApiError::Invalid { code: "invalid_model_request", message: m },
            OpsError::Store(_) | OpsError::Io(_) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Lists served model versions and refused folders.
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let models: Vec<Value> = state
        .models
        .list()
        .into_iter()
        .map(|v| {
            let c = &v.card;
            json!({
                "name": c.name,
                "version": c.version,
                "active": v.active,
                "shadow": v.shadow,
                "description": c.description,
                "features": c.input.features,
                "classes": c.output.classes,
                "healthy_class": c.output.healthy_class,
                "threshold": c.alert.threshold,
                "provenance": c.provenance,
            })
        })
        .collect();
    let refused = state.refused.read().map(|r| r.clone()).unwrap_or_default();
    Json(json!({"models": models, "refused": refused}))
}

/// Every version of a model in the registry, which are loaded, active, previous (the rollback target) and
/// shadow, and the last refused operation.
pub async fn versions(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let dir = state.settings.models.dir.clone();
    let entries = tokio::task::spawn_blocking(move || prognos_scoring::scan(&dir))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let m = &state.models;
    let (active, previous, shadow) = (m.active_version(&name), m.previous_version(&name), m.shadow_version(&name));
    let versions: Vec<Value> = entries
        .iter()
        .filter(|e| e.name == name)
        .map(|e| {
            let v = Some(e.version.clone());
            json!({
                "version": e.version,
                "loaded": m.is_loaded(&name, &e.version),
                "active": v == active,
                "previous": v == previous,
                "shadow": v == shadow,
                "card_error": e.card.as_ref().err(),
                "trained_at": e.card.as_ref().ok().map(|c| c.provenance.trained_at.clone()),
                "metrics": e.card.as_ref().ok().map(|c| c.provenance.metrics.clone()),
            })
        })
        .collect();
    if versions.is_empty() && active.is_none() {
        return Err(ApiError::NotFound(format!("no model named {name}")));
    }
    Ok(Json(json!({
        "model": name, "active": active, "previous": previous, "shadow": shadow,
        "versions": versions, "last_failure": state.ops.last_failure(&name),
    })))
}

/// `?mode=activate|shadow|install`.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// What to do once the upload validates (default: activate).
    pub mode: Option<UploadMode>,
}

/// Uploads a version as multipart form data with the parts `card` (card.toml) and `model` (model.onnx).
pub async fn upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(q): Query<UploadQuery>,
    mut form: Multipart,
) -> Result<Json<Value>, ApiError> {
    let bad = |m: String| ApiError::Invalid { code: "invalid_upload", message: m };
    let (mut card, mut model) = (None, None);
    while let Some(field) = form.next_field().await.map_err(|e| bad(format!("multipart body: {e}")))? {
        let part = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| bad(format!("part {part:?}: {e}")))?;
        match part.as_str() {
            "card" => card = Some(String::from_utf8(bytes.to_vec()).map_err(|_| bad("card is not UTF-8".into()))?),
            "model" => model = Some(bytes.to_vec()),
            other => return Err(bad(format!("unknown part {other:?}; send `card` and `model`"))),
        }
    }
    let (Some(card), Some(model)) = (card, model) else {
        return Err(bad("send both parts: `card` (card.toml) and `model` (model.onnx)".into()));
    };
    let mode = q.mode.unwrap_or(UploadMode::Activate);
    let report = model_ops::upload::install(&state, &name, Upload { card, model }, mode, &caller.name).await?;
    Ok(Json(json!(report)))
}

/// `{"model": NAME}` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadBody {
    /// Only this model.
    pub model: Option<String>,
}

/// Picks up version folders that appeared in the registry.
pub async fn reload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ReloadBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::MalformedJson(e.to_string()))?
    };
    let outcomes = model_ops::reload(&state, body.model.as_deref(), &caller.name).await?;
    Ok(Json(json!({"reloaded": outcomes})))
}

/// `{"version": "X.Y.Z"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionBody {
    /// The version.
    pub version: String,
}

fn version_body(body: Result<Json<VersionBody>, axum::extract::rejection::JsonRejection>) -> Result<String, ApiError> {
    body.map(|Json(b)| b.version).map_err(|e| ApiError::MalformedJson(e.body_text()))
}

/// Makes a version active.
pub async fn activate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<VersionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let version = version_body(body)?;
    Ok(Json(json!(model_ops::activate(&state, &name, &version, &caller.name).await?)))
}

/// Returns to the previous version.
pub async fn rollback(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(model_ops::rollback(&state, &name, &caller.name).await?)))
}

/// Starts shadow scoring a version.
pub async fn start_shadow(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<VersionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let version = version_body(body)?;
    Ok(Json(json!(model_ops::shadow(&state, &name, Some(&version), &caller.name).await?)))
}

/// Stops shadow scoring.
pub async fn stop_shadow(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(model_ops::shadow(&state, &name, None, &caller.name).await?)))
}

/// Makes the shadow candidate active.
pub async fn promote(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(model_ops::promote(&state, &name, &caller.name).await?)))
}

/// The shadow comparison: agreement, score distributions, the alerts the candidate would have raised.
pub async fn shadow_report(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    state
        .models
        .shadow_report(&name)
        .map(|r| Json(json!(r)))
        .ok_or_else(|| ApiError::NotFound(format!("{name} has no shadow candidate")))
}

/// The input drift of the active version: PSI per feature over the recent scored rows, against the card's
/// training distribution (`status` is `unknown` when the card has none).
pub async fn drift(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    crate::drift::model_drift(&state, &name)
        .map(|d| Json(json!(d)))
        .ok_or_else(|| ApiError::NotFound(format!("no model {name} is served")))
}
