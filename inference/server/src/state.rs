//! What every request handler shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use metrics_exporter_prometheus::PrometheusHandle;
use prognos_core::Settings;
use prognos_scoring::ModelSet;
use prognos_store::Store;

use crate::auth::TokenTable;

/// A model version found on disk that was not served, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RefusedModel {
    /// The version folder.
    pub dir: String,
    /// Why it was refused.
    pub reason: String,
}

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The effective settings.
    pub settings: Arc<Settings>,
    /// Served models.
    pub models: Arc<ModelSet>,
    /// Models on disk that failed validation.
    pub refused: Arc<RwLock<Vec<RefusedModel>>>,
    /// API tokens.
    pub tokens: Arc<TokenTable>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Captures, features, predictions.
    pub store: Store,
    /// The alerts layer's API handle (test sends, notifier health); `None` when `[alerts]` is not configured.
    pub alerts: Option<crate::alerting::AlertsApi>,
    /// Model operations: per-model locks, versions seen on disk, the last failed swap.
    pub ops: Arc<crate::model_ops::ModelOps>,
    /// Running inverter pipelines by name (for `POST /v1/ingest/{pipeline}`).
    pub inverters: crate::ingest::inverters::Registry,
    ready: Arc<AtomicBool>,
}

impl AppState {
    /// A new state; not ready until [`AppState::set_ready`].
    pub fn new(settings: Arc<Settings>, tokens: TokenTable, metrics: PrometheusHandle, store: Store) -> Self {
        Self {
            settings,
            models: Arc::new(ModelSet::default()),
            refused: Arc::new(RwLock::new(Vec::new())),
            tokens: Arc::new(tokens),
            metrics,
            store,
            alerts: None,
            ops: Arc::default(),
            inverters: Default::default(),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the models are loaded and warmed.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the service ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }
}
