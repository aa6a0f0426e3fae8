//! Model operations: hot swap (upload, reload, a version folder renamed into place), versions (activate, roll
//! back, kept across restarts in the store), shadow scoring and promotion.
//!
//! Every operation on a model runs under that model's lock, so two swaps never interleave. A version is loaded
//! and warmed off the async runtime and checked against its card and the features of every pipeline that uses
//! the model *before* the served set changes; the change itself is a pointer swap in [`prognos_scoring::ModelSet`].
//! Requests that already hold the old version finish on it. When anything fails, the old version keeps serving,
//! and the failure is answered, logged, counted in `prognos_model_swaps_total{outcome="refused"}` and kept for
//! `GET /v1/models/{name}/versions`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use prognos_core::{PipelineFile, Settings};
use prognos_scoring::{ModelCard, ModelHandle};
use prognos_store::{ModelSelection, StoreError};
use serde::Serialize;

use crate::startup::{session_options, worker_options};
use crate::state::{AppState, RefusedModel};

pub mod export;
pub mod inspections;
pub mod startup;
pub mod upload;
pub mod watch;

/// Why a model operation did not happen. The served set is unchanged in every case.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// No such model or version.
    #[error("{0}")]
    NotFound(String),
    /// The version failed its checks (card, graph, warm-up, pipeline features): it is not served.
    #[error("{model}@{version} refused: {reason}")]
    Refused {
        /// The model name.
        model: String,
        /// The version.
        version: String,
        /// The exact reason.
        reason: String,
    },
    /// The request conflicts with what exists (the version is already in the registry, ...).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The choice could not be recorded in the store.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Writing the registry failed.
    #[error("model registry: {0}")]
    Io(String),
}

/// What an operation did.
#[derive(Debug, Clone, Serialize)]
pub struct SwapReport {
    /// The model name.
    pub model: String,
    /// The version the operation was about.
    pub version: String,
    /// `activated`, `shadowing`, `unchanged` or `installed`.
    pub action: &'static str,
    /// The active version now.
    pub active: Option<String>,
    /// The rollback target now.
    pub previous: Option<String>,
    /// The shadow candidate now.
    pub shadow: Option<String>,
    /// Milliseconds spent loading and warming (0 when the version was already loaded).
    pub load_ms: f64,
    /// Milliseconds from the start of the operation to the new state serving.
    pub total_ms: f64,
}

/// The last failed operation of a model.
#[derive(Debug, Clone, Serialize)]
pub struct SwapFailure {
    /// The version that was refused.
    pub version: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Per-model locks, the versions already seen on disk, and the last failure of each model.
#[derive(Debug, Default)]
pub struct ModelOps {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    known: Mutex<HashMap<String, BTreeSet<String>>>,
    failures: Mutex<HashMap<String, SwapFailure>>,
}

impl ModelOps {
    /// Takes the lock of one model's operations.
    pub async fn lock(&self, model: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(locks.entry(model.to_string()).or_default())
        };
        lock.lock_owned().await
    }

    /// Marks a version as seen on disk; returns whether it was new.
    pub fn mark_known(&self, model: &str, version: &str) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(model.to_string())
            .or_default()
            .insert(version.into())
    }

    /// The last failure of a model.
    pub fn last_failure(&self, model: &str) -> Option<SwapFailure> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).get(model).cloned()
    }

    fn fail(&self, model: &str, version: &str, reason: &str) {
        tracing::error!(model, version, reason, "model swap refused; the current version keeps serving");
        metrics::counter!("prognos_model_swaps_total", "model" => model.to_string(), "outcome" => "refused")
            .increment(1);
        let failure = SwapFailure { version: version.to_string(), reason: reason.to_string(), at: Utc::now() };
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).insert(model.to_string(), failure);
    }
}

/// `models/<name>/<version>/`.
pub fn version_dir(settings: &Settings, model: &str, version: &str) -> PathBuf {
    settings.models.dir.join(model).join(version)
}

/// Checks that every pipeline feeding `card.name` produces the features the card needs.
pub fn check_pipelines(settings: &Settings, card: &ModelCard) -> Result<(), String> {
    if settings.pipelines.disabled || !settings.pipelines.dir.is_dir() {
        return Ok(());
    }
    let files = PipelineFile::load_dir(&settings.pipelines.dir).map_err(|e| e.to_string())?;
    for (path, file) in files {
        if file.model.name != card.name
            || !(settings.pipelines.enabled.is_empty() || settings.pipelines.enabled.contains(&file.pipeline.name))
        {
            continue;
        }
        let set = file.pipeline.feature_set.as_str();
        let available: &[&str] = if set == prognos_features::FEATURE_SET_VERSION {
            &prognos_features::FEATURE_NAMES
        } else {
            tracing::warn!(pipeline = %path.display(), feature_set = set, "feature set unknown here: not checked");
            continue;
        };
        prognos_scoring::contract::check_feature_schema(card, set, available)
            .map_err(|e| format!("pipeline {}: {e}", file.pipeline.name))?;
    }
    Ok(())
}

/// Loads and warms a version folder (blocking): a registry folder, or with `staged` an upload not yet in place.
pub fn load_blocking(settings: &Settings, dir: &Path, staged: Option<(&str, &str)>) -> Result<ModelHandle, String> {
    let session = session_options(settings);
    let workers = worker_options(settings);
    let handle = match staged {
        Some((name, version)) => prognos_scoring::serve_staged(dir, name, version, &session, workers),
        None => prognos_scoring::serve(dir, &session, workers),
    }
    .map_err(|e| e.to_string())?;
    check_pipelines(settings, handle.card())?;
    Ok(handle)
}

/// Loads a version off the async runtime.
pub async fn load(state: &AppState, model: &str, version: &str) -> Result<(ModelHandle, f64), OpsError> {
    let dir = version_dir(&state.settings, model, version);
    if !dir.is_dir() {
        return Err(OpsError::NotFound(format!("no version folder {}", dir.display())));
    }
    let settings = Arc::clone(&state.settings);
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || load_blocking(&settings, &dir, None))
        .await
        .unwrap_or_else(|e| Err(format!("loading task failed: {e}")));
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(h) if h.card().name == model && h.version() == version => Ok((h, ms)),
        Ok(h) => Err(refuse(state, model, version, format!("the folder holds {}", h.card().id()))),
        Err(reason) => Err(refuse(state, model, version, reason)),
    }
}

fn refuse(state: &AppState, model: &str, version: &str, reason: String) -> OpsError {
    state.ops.fail(model, version, &reason);
    let dir = version_dir(&state.settings, model, version).display().to_string();
    if let Ok(mut refused) = state.refused.write() {
        refused.retain(|r| r.dir != dir);
        refused.push(RefusedModel { dir, reason: reason.clone() });
    }
    OpsError::Refused { model: model.to_string(), version: version.to_string(), reason }
}

/// Loads `version` unless it is loaded already; returns the load time in milliseconds.
async fn ensure_loaded(state: &AppState, model: &str, version: &str) -> Result<f64, OpsError> {
    if state.models.is_loaded(model, version) {
        return Ok(0.0);
    }
    let (handle, ms) = load(state, model, version).await?;
    state.models.insert_inactive(handle);
    Ok(ms)
}

/// Records the current choice of a model in the store, so a restart serves the same versions.
pub async fn persist(state: &AppState, model: &str, by: &str) -> Result<(), OpsError> {
    let Some(active) = state.models.active_version(model) else {
        return Ok(());
    };
    let selection = ModelSelection {
        model: model.to_string(),
        active_version: active,
        previous_version: state.models.previous_version(model),
        shadow_version: state.models.shadow_version(model),
        updated_at: Utc::now(),
        updated_by: by.to_string(),
    };
    state.store.set_model_selection(&selection).await?;
    Ok(())
}

fn report(state: &AppState, model: &str, version: &str, action: &'static str, load_ms: f64, t: Instant) -> SwapReport {
    SwapReport {
        model: model.to_string(),
        version: version.to_string(),
        action,
        active: state.models.active_version(model),
        previous: state.models.previous_version(model),
        shadow: state.models.shadow_version(model),
        load_ms,
        total_ms: t.elapsed().as_secs_f64() * 1000.0,
    }
}

/// After a change: unloads what is neither active, previous nor shadow, records the choice, counts the swap.
async fn settle(state: &AppState, model: &str, by: &str, outcome: &'static str) -> Result<(), OpsError> {
    let dropped = state.models.retain(model, &[]);
    if !dropped.is_empty() {
        tracing::info!(model, versions = ?dropped, "unloaded versions no longer active, previous or shadow");
    }
    metrics::gauge!("prognos_models_served").set(state.models.len() as f64);
    metrics::counter!("prognos_model_swaps_total", "model" => model.to_string(), "outcome" => outcome).increment(1);
    persist(state, model, by).await
}

/// Makes `version` active (loading it first when needed). Caller holds the model's lock.
async fn activate_locked(state: &AppState, model: &str, version: &str, by: &str) -> Result<SwapReport, OpsError> {
    let t = Instant::now();
    if state.models.active_version(model).as_deref() == Some(version) {
        return Ok(report(state, model, version, "unchanged", 0.0, t));
    }
    let load_ms = ensure_loaded(state, model, version).await?;
    let activation = state.models.activate(model, version).map_err(|e| OpsError::NotFound(e.to_string()))?;
    metrics::histogram!("prognos_model_swap_seconds", "model" => model.to_string()).record(t.elapsed().as_secs_f64());
    tracing::info!(model, version, previous = ?activation.previous.map(|v| v.to_string()), by, "model version activated");
    settle(state, model, by, "activated").await?;
    Ok(report(state, model, version, "activated", load_ms, t))
}

/// Activates a version of a model.
pub async fn activate(state: &AppState, model: &str, version: &str, by: &str) -> Result<SwapReport, OpsError> {
    let _guard = state.ops.lock(model).await;
    activate_locked(state, model, version, by).await
}

/// Returns to the version that was active before the last activation.
pub async fn rollback(state: &AppState, model: &str, by: &str) -> Result<SwapReport, OpsError> {
    let _guard = state.ops.lock(model).await;
    let previous = state
        .models
        .previous_version(model)
        .ok_or_else(|| OpsError::Conflict(format!("{model} has no previous version to roll back to")))?;
    activate_locked(state, model, &previous, by).await
}

/// Starts shadow scoring `version` beside the active version (`None` stops it).
pub async fn shadow(state: &AppState, model: &str, version: Option<&str>, by: &str) -> Result<SwapReport, OpsError> {
    let _guard = state.ops.lock(model).await;
    let t = Instant::now();
    let load_ms = match version {
        Some(v) => ensure_loaded(state, model, v).await?,
        None => 0.0,
    };
    state.models.set_shadow(model, version).map_err(|e| OpsError::Invalid(e.to_string()))?;
    tracing::info!(model, shadow = ?version, by, "shadow scoring changed");
    settle(state, model, by, "shadow").await?;
    Ok(report(state, model, version.unwrap_or_default(), "shadowing", load_ms, t))
}

/// Makes the shadow candidate the active version in one call.
pub async fn promote(state: &AppState, model: &str, by: &str) -> Result<SwapReport, OpsError> {
    let _guard = state.ops.lock(model).await;
    let candidate = state
        .models
        .shadow_version(model)
        .ok_or_else(|| OpsError::Conflict(format!("{model} has no shadow candidate to promote")))?;
    activate_locked(state, model, &candidate, by).await
}

/// One model's outcome of a reload.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadOutcome {
    /// The model.
    pub model: String,
    /// New versions found on disk.
    pub new_versions: Vec<String>,
    /// What happened: the swap, or why the new version was refused.
    pub result: Result<Option<SwapReport>, String>,
}

/// Looks for version folders that appeared since they were last looked at (in every model, or one). The
/// highest new valid version becomes active when it is higher than the active one; lower new versions are only
/// listed (activate them explicitly).
pub async fn reload(state: &AppState, only: Option<&str>, by: &str) -> Result<Vec<ReloadOutcome>, OpsError> {
    let dir = state.settings.models.dir.clone();
    let entries = tokio::task::spawn_blocking(move || prognos_scoring::scan(&dir))
        .await
        .map_err(|e| OpsError::Io(e.to_string()))?
        .map_err(|e| OpsError::Io(e.to_string()))?;
    let serve = &state.settings.models.serve;
    let mut by_model: HashMap<String, Vec<String>> = HashMap::new();
    for e in entries {
        if only.is_some_and(|m| m != e.name) || !(serve.is_empty() || serve.contains(&e.name)) {
            continue;
        }
        by_model.entry(e.name.clone()).or_default().push(e.version.clone());
    }
    let mut out = Vec::new();
    for (model, versions) in by_model {
        let _guard = state.ops.lock(&model).await;
        let new: Vec<String> = versions.into_iter().filter(|v| state.ops.mark_known(&model, v)).collect();
        let Some(highest) = new.last().cloned() else {
            continue;
        };
        let active = state.models.active_version(&model);
        let higher = active
            .as_deref()
            .is_none_or(|a| prognos_scoring::version_order(&highest, a) == std::cmp::Ordering::Greater);
        let result = if higher {
            activate_locked(state, &model, &highest, by).await.map(Some).map_err(|e| e.to_string())
        } else {
            Ok(None)
        };
        if let Err(e) = &result {
            tracing::warn!(model, version = highest, error = %e, "reload: new version not served");
        }
        out.push(ReloadOutcome { model, new_versions: new, result });
    }
    if !state.models.is_empty() {
        state.set_ready(true);
    }
    Ok(out)
}
