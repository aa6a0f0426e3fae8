//! Loading the models at start-up: for each model, the version chosen last (from the store) or else the highest
//! version that validates, plus the rollback target and the shadow candidate when one was chosen. Other versions
//! stay on disk, listed by `GET /v1/models/{name}/versions`, and load when activated.

use std::collections::BTreeMap;

use prognos_scoring::RegistryEntry;

use super::{load_blocking, persist};
use crate::state::{AppState, RefusedModel};

/// Loads every model's versions to serve (blocking: run it on a blocking thread inside the runtime); refuses,
/// logs and lists the versions that do not validate; marks the service ready when at least one model serves.
pub fn load_all(state: &AppState, runtime: &tokio::runtime::Handle) {
    let settings = &state.settings;
    let entries = match prognos_scoring::scan(&settings.models.dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the model registry");
            return;
        }
    };
    let mut by_model: BTreeMap<String, Vec<RegistryEntry>> = BTreeMap::new();
    for entry in entries {
        if !settings.models.serve.is_empty() && !settings.models.serve.contains(&entry.name) {
            continue;
        }
        state.ops.mark_known(&entry.name, &entry.version);
        by_model.entry(entry.name.clone()).or_default().push(entry);
    }
    let mut refused = Vec::new();
    for (model, versions) in by_model {
        let chosen = match runtime.block_on(state.store.model_selection(&model)) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(model, error = %e, "cannot read the chosen version; serving the highest");
                None
            }
        };
        let mut try_load = |entry: &RegistryEntry| -> bool {
            let result = match &entry.card {
                Ok(_) => load_blocking(settings, &entry.dir, None),
                Err(reason) => Err(reason.clone()),
            };
            match result {
                Ok(handle) => {
                    state.models.insert_inactive(handle);
                    true
                }
                Err(reason) => {
                    tracing::error!(model = %entry.dir.display(), %reason, "model refused");
                    metrics::counter!("prognos_models_refused_total").increment(1);
                    refused.push(RefusedModel { dir: entry.dir.display().to_string(), reason });
                    false
                }
            }
        };
        let find = |v: &str| versions.iter().find(|e| e.version == v);
        // The chosen version, else the highest that validates.
        let chosen_active = chosen.as_ref().and_then(|c| find(&c.active_version));
        let active = match chosen_active {
            Some(entry) if try_load(entry) => Some(entry.version.clone()),
            _ => versions.iter().rev().find(|e| try_load(e)).map(|e| e.version.clone()),
        };
        let Some(active) = active else { continue };
        if let Err(e) = state.models.activate(&model, &active) {
            tracing::error!(model, error = %e, "cannot activate the loaded version");
            continue;
        }
        if let Some(c) = &chosen {
            if let Some(prev) = c.previous_version.as_deref().and_then(find) {
                if prev.version != active && try_load(prev) {
                    state.models.set_previous(&model, Some(&prev.version));
                }
            }
            if let Some(shadow) = c.shadow_version.as_deref().and_then(find) {
                if shadow.version != active && (state.models.is_loaded(&model, &shadow.version) || try_load(shadow)) {
                    if let Err(e) = state.models.set_shadow(&model, Some(&shadow.version)) {
                        tracing::warn!(model, error = %e, "the chosen shadow cannot score beside the active version");
                    }
                }
            }
            if c.active_version != active {
                tracing::warn!(model, chosen = c.active_version, serving = active, "the chosen version cannot serve");
                if let Err(e) = runtime.block_on(persist(state, &model, "startup")) {
                    tracing::error!(model, error = %e, "cannot record the served version");
                }
            }
        } else {
            state.models.set_previous(&model, None);
        }
        tracing::info!(model, version = active, shadow = ?state.models.shadow_version(&model), "model serving");
    }
    if let Ok(mut r) = state.refused.write() {
        *r = refused;
    }
    metrics::gauge!("prognos_models_served").set(state.models.len() as f64);
    if state.models.is_empty() {
        tracing::warn!(dir = %settings.models.dir.display(), "no model could be served; /readyz stays 503");
    } else {
        state.set_ready(true);
        tracing::info!(models = state.models.len(), "ready");
    }
}
