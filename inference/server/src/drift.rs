//! Input drift of the served models: every `models.drift_check_ms` the active version of each model reports the
//! population stability index of each feature over its recent scored rows (see `prognos_scoring::drift`); the
//! values go to `/metrics` as `prognos_model_feature_psi{model,version,feature}`, and the highest one to the alert
//! engine's drift rule whenever new rows came in. The API (`GET /v1/models/{name}/drift`) and the dashboard's
//! model page read the same report.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prognos_alerts::engine::{AlertEngine, DriftRule};
use prognos_core::PipelineFile;
use prognos_scoring::DriftReport;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// What the API and the dashboard show for one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelDrift {
    /// The model.
    pub model: String,
    /// The active version, whose inputs are measured.
    pub version: String,
    /// `unknown` (the card has no training distribution), `collecting` (fewer rows than needed), `ok` or
    /// `drifting` (some feature above the threshold).
    pub status: &'static str,
    /// The PSI above which inputs count as drifting (the alert rule's threshold).
    pub threshold: f64,
    /// The highest per-feature PSI, when reported.
    pub max_psi: Option<f64>,
    /// The feature with the highest PSI, when reported.
    pub worst_feature: Option<String>,
    /// The window and its values; `None` when unknown.
    pub report: Option<DriftReport>,
}

/// The drift threshold in force: the alert rule's, or its default when alerting is off.
pub fn threshold(state: &AppState) -> f64 {
    state.alerts.as_ref().map(|a| a.engine.config().drift.threshold).unwrap_or_else(|| DriftRule::default().threshold)
}

/// The drift of `name`'s active version; `None` when no such model is served.
pub fn model_drift(state: &AppState, name: &str) -> Option<ModelDrift> {
    let handle = state.models.resolve(name).ok()?;
    let threshold = threshold(state);
    let report = handle.drift_report();
    let worst = report.as_ref().and_then(|r| r.worst().cloned());
    let status = match (&report, &worst) {
        (None, _) => "unknown",
        (Some(_), None) => "collecting",
        (Some(_), Some(w)) if w.psi > threshold => "drifting",
        _ => "ok",
    };
    Some(ModelDrift {
        model: name.to_string(),
        version: handle.version().to_string(),
        status,
        threshold,
        max_psi: worst.as_ref().map(|w| w.psi),
        worst_feature: worst.map(|w| w.feature),
        report,
    })
}

/// Starts the drift loop; it stops on `shutdown`.
pub fn spawn(
    state: AppState,
    engine: Option<Arc<AlertEngine>>,
    pipelines: &[PipelineFile],
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    // The pipeline (and its site) each model serves, for the alert's wording and silences.
    let mut served_by: HashMap<String, (String, String)> = HashMap::new();
    for file in pipelines {
        served_by
            .entry(file.model.name.clone())
            .or_insert_with(|| (file.pipeline.name.clone(), file.pipeline.site.clone()));
    }
    let every = Duration::from_millis(state.settings.models.drift_check_ms.max(50));
    tokio::spawn(async move {
        let mut judged: HashMap<String, (String, u64)> = HashMap::new();
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            for name in state.models.names() {
                let Some(drift) = model_drift(&state, &name) else { continue };
                let Some(report) = &drift.report else { continue };
                for f in &report.features {
                    metrics::gauge!("prognos_model_feature_psi", "model" => name.clone(),
                        "version" => report.version.clone(), "feature" => f.feature.clone())
                    .set(f.psi);
                }
                metrics::gauge!("prognos_model_drift_rows", "model" => name.clone(), "version" => report.version.clone())
                    .set(report.rows as f64);
                let (Some(engine), Some(psi), Some(feature)) = (&engine, drift.max_psi, &drift.worst_feature) else {
                    continue;
                };
                // Judge only when new rows came in since the last judgement of this version.
                let seen = (report.version.clone(), report.rows_total);
                if judged.get(&name) == Some(&seen) {
                    continue;
                }
                let (pipeline, site) = served_by.get(&name).cloned().unwrap_or_default();
                let at = chrono::Utc::now();
                match engine.observe_drift(&pipeline, &site, &name, &report.version, feature, psi, at).await {
                    Ok(()) => {
                        judged.insert(name.clone(), seen);
                    }
                    Err(e) => tracing::warn!(model = %name, error = %e, "drift check could not be judged"),
                }
                if psi > drift.threshold {
                    tracing::debug!(model = %name, version = %report.version, feature = %feature, psi, rows = report.rows,
                        "model inputs drift from the training distribution");
                }
            }
        }
    })
}
