//! Installing an uploaded version: the files are written and fsynced into a dot-folder beside the target
//! (`models/<name>/.upload-*`, which the registry and the watcher ignore), loaded, warmed and checked there, and
//! only then renamed into `models/<name>/<version>/`. A refused upload leaves nothing in the registry.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use prognos_scoring::{ModelCard, CARD_FILE, MODEL_FILE};

use super::{load_blocking, report, settle, version_dir, OpsError, SwapReport};
use crate::state::AppState;

/// What to do with an uploaded version once it validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadMode {
    /// Serve it as the active version at once (the default).
    Activate,
    /// Score it in the shadow of the active version.
    Shadow,
    /// Only install it in the registry (validated, then unloaded): activate or shadow it later.
    Install,
}

/// An uploaded version: the card's text and the graph's bytes.
#[derive(Debug)]
pub struct Upload {
    /// `card.toml`.
    pub card: String,
    /// `model.onnx`.
    pub model: Vec<u8>,
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// Removes a staging folder, logging (not failing) when it cannot.
fn discard(staging: &Path) {
    if let Err(e) = std::fs::remove_dir_all(staging) {
        tracing::warn!(path = %staging.display(), error = %e, "could not remove an upload staging folder");
    }
}

/// Installs an upload as `model`'s new version.
pub async fn install(
    state: &AppState,
    model: &str,
    upload: Upload,
    mode: UploadMode,
    by: &str,
) -> Result<SwapReport, OpsError> {
    let t = Instant::now();
    let card: ModelCard =
        toml::from_str(&upload.card).map_err(|e| OpsError::Invalid(format!("{CARD_FILE} does not parse: {e}")))?;
    card.check().map_err(|e| OpsError::Invalid(format!("{CARD_FILE}: {e}")))?;
    if card.name != model {
        return Err(OpsError::Invalid(format!("the card names model {:?}, uploaded to {model:?}", card.name)));
    }
    if upload.model.is_empty() {
        return Err(OpsError::Invalid(format!("{MODEL_FILE} is empty")));
    }
    let version = card.version.clone();
    let _guard = state.ops.lock(model).await;
    let target = version_dir(&state.settings, model, &version);
    if target.exists() || state.models.is_loaded(model, &version) {
        return Err(OpsError::Conflict(format!(
            "{model}@{version} already exists; versions are immutable, upload a new version"
        )));
    }
    let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
    let staging = parent.join(format!(".upload-{version}-{:016x}", rand::random::<u64>()));
    let settings = Arc::clone(&state.settings);
    let (name, ver) = (model.to_string(), version.clone());
    let staged: PathBuf = staging.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&staged).map_err(|e| format!("cannot create {}: {e}", staged.display()))?;
        write_synced(&staged.join(MODEL_FILE), &upload.model)
            .and_then(|()| write_synced(&staged.join(CARD_FILE), upload.card.as_bytes()))
            .and_then(|()| sync_dir(&staged))
            .map_err(|e| format!("cannot write the upload: {e}"))?;
        let started = Instant::now();
        let handle = load_blocking(&settings, &staged, Some((&name, &ver)))?;
        Ok::<_, String>((handle, started.elapsed().as_secs_f64() * 1000.0))
    })
    .await
    .unwrap_or_else(|e| Err(format!("upload task failed: {e}")));
    let (handle, load_ms) = match loaded {
        Ok(l) => l,
        Err(reason) => {
            discard(&staging);
            state.ops.fail(model, &version, &reason);
            return Err(OpsError::Refused { model: model.to_string(), version, reason });
        }
    };
    // Into place: one rename within the model's folder, then the folder's entry is made durable.
    if let Err(e) = std::fs::rename(&staging, &target).and_then(|()| sync_dir(&parent)) {
        discard(&staging);
        let reason = format!("cannot move the upload into {}: {e}", target.display());
        state.ops.fail(model, &version, &reason);
        return Err(OpsError::Io(reason));
    }
    state.ops.mark_known(model, &version);
    state.models.insert_inactive(handle);
    let action = match mode {
        UploadMode::Activate => {
            state.models.activate(model, &version).map_err(|e| OpsError::NotFound(e.to_string()))?;
            metrics::histogram!("prognos_model_swap_seconds", "model" => model.to_string())
                .record(t.elapsed().as_secs_f64());
            "activated"
        }
        UploadMode::Shadow => {
            state.models.set_shadow(model, Some(&version)).map_err(|e| OpsError::Invalid(e.to_string()))?;
            "shadowing"
        }
        UploadMode::Install => "installed",
    };
    tracing::info!(model, version, action, by, load_ms, "model version uploaded");
    state.set_ready(true);
    settle(state, model, by, action).await?;
    Ok(report(state, model, &version, action, load_ms, t))
}
