//! Building and running the application: one settings struct in, the port bound first (so tests can use port
//! 0), models loaded and warmed in the background, one cancellation token for shutdown.

use std::sync::Arc;
use std::time::Duration;

use prognos_core::Settings;
use prognos_scoring::{DriftOptions, RuntimeLocator, SessionOptions, WorkerOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use prognos_core::{PipelineFile, PipelineKind};
use prognos_store::Store;

use crate::alerting::Alerting;
use crate::auth::load_tokens;
use crate::ingest::wheels::WheelPipeline;
use crate::state::AppState;
use crate::{routes, telemetry};

/// A built, bound, not yet running application.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
    pipelines: Vec<tokio::task::JoinHandle<()>>,
}

/// Session options from settings.
pub fn session_options(settings: &Settings) -> SessionOptions {
    SessionOptions {
        intra_threads: settings.models.intra_threads,
        locator: RuntimeLocator {
            configured: settings.models.ort_dylib_path.clone(),
            python_env: settings.models.python_env.clone(),
        },
    }
}

/// Worker options from settings.
pub fn worker_options(settings: &Settings) -> WorkerOptions {
    WorkerOptions {
        workers: settings.models.workers,
        max_batch_rows: settings.models.max_batch_rows,
        queue_capacity: settings.models.queue_capacity,
        drift: DriftOptions {
            window_rows: settings.models.drift_window_rows,
            min_rows: settings.models.drift_min_rows,
        },
    }
}

impl Application {
    /// Binds the port, prepares tokens and metrics, and starts loading models.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let tokens = load_tokens(&settings)?;
        let pipeline_files = if settings.pipelines.disabled {
            Vec::new()
        } else {
            PipelineFile::load_dir(&settings.pipelines.dir)?
                .into_iter()
                .filter(|(_, f)| {
                    settings.pipelines.enabled.is_empty() || settings.pipelines.enabled.contains(&f.pipeline.name)
                })
                .collect()
        };
        if pipeline_files.is_empty() && !settings.pipelines.disabled {
            tracing::warn!(dir = %settings.pipelines.dir.display(), "no pipeline files: serving the API only");
        }
        let store = Store::connect(&settings.store_url())
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the store {}: {e}", redact_url(&settings.store_url())))?;
        let files: Vec<PipelineFile> = pipeline_files.iter().map(|(_, f)| f.clone()).collect();
        let alerting = Alerting::from_settings(&settings, &files, &store)?;
        let engine = alerting.as_ref().map(|a| Arc::clone(&a.engine));
        let mut state = AppState::new(Arc::new(settings), tokens, telemetry::metrics_handle(), store);
        state.alerts = alerting.as_ref().map(Alerting::api);
        let s = &state.settings.server;
        let listener = TcpListener::bind((s.host.as_str(), s.port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind {}:{}: {e}", s.host, s.port))?;
        let loader = state.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || crate::model_ops::startup::load_all(&loader, &runtime));
        let mut pipelines = match alerting {
            Some(a) => a.spawn(shutdown.clone()),
            None => Vec::new(),
        };
        pipelines.push(crate::model_ops::watch::spawn(state.clone(), shutdown.clone())?);
        pipelines.push(crate::drift::spawn(state.clone(), engine.clone(), &files, shutdown.clone()));
        let kept = &state.settings.store;
        pipelines.extend(crate::retention::spawn(
            state.store.clone(),
            kept.retention_days,
            kept.retention_interval_s,
            shutdown.clone(),
        ));
        let mut inverter_files = Vec::new();
        for (path, file) in pipeline_files {
            match file.pipeline.kind {
                PipelineKind::WheelCameras => {
                    let mut pipeline = WheelPipeline::new(
                        file,
                        &state.settings.data_dir,
                        state.store.clone(),
                        state.models.clone(),
                        engine.clone(),
                    )
                    .map_err(|e| anyhow::anyhow!("pipeline {}: {e}", path.display()))?;
                    pipeline.explain_top = state.settings.models.explain_top;
                    pipeline.claim_lease =
                        chrono::Duration::seconds(state.settings.pipelines.claim_lease_s.clamp(1, 86_400) as i64);
                    pipelines.push(tokio::spawn(Arc::new(pipeline).run(shutdown.clone())));
                }
                PipelineKind::InverterMetrics => inverter_files.push(file),
            }
        }
        pipelines.extend(crate::ingest::inverters::start(inverter_files, &state, engine.clone(), &shutdown)?);
        Ok(Self { listener, state, shutdown, pipelines })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the shutdown token is cancelled, then gives in-flight requests
    /// `server.shutdown_grace_seconds` to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let grace = Duration::from_secs(self.state.settings.server.shutdown_grace_seconds);
        let router = routes::router(self.state.clone());
        let token = self.shutdown.clone();
        let serve = axum::serve(self.listener, router).with_graceful_shutdown(token.clone().cancelled_owned());
        let deadline = async move {
            token.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            r = serve => r,
            _ = deadline => {
                tracing::warn!(seconds = grace.as_secs(), "shutdown grace period over; dropping open connections");
                Ok(())
            }
        };
        // Sources finish the capture in hand, then stop.
        let pipelines = futures_join(self.pipelines);
        if tokio::time::timeout(grace, pipelines).await.is_err() {
            tracing::warn!("pipelines did not stop within the grace period");
        }
        self.state.store.close().await;
        result
    }
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(super::redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact_url("sqlite://data/p.db"), "sqlite://data/p.db");
    }
}
