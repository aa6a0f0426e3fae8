//! Wires the alerts layer from the `[alerts]` settings: the notifiers, the outbox worker that sends, and the
//! engine that judges every stored prediction and heartbeat; a tick loop drives no-data checks, grouping,
//! repeats and escalation. Without `[alerts]`, alerting is off (and the log says so).

use std::sync::Arc;
use std::time::Duration;

use prognos_alerts::engine::{AlertEngine, EngineConfig, NoDataRule};
use prognos_alerts::notify::{
    Notifier, SmtpConfig, SmtpNotifier, TwilioConfig, TwilioNotifier, WebhookConfig, WebhookNotifier,
};
use prognos_alerts::outbox::{OutboxOptions, OutboxWorker};
use prognos_core::{PipelineFile, Settings};
use prognos_store::Store;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The `[alerts]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Rules, the route (contacts, grouping, escalation) and the dashboard link.
    #[serde(default)]
    pub engine: EngineConfig,
    /// How the outbox worker retries.
    #[serde(default)]
    pub outbox: OutboxOptions,
    /// Twilio SMS.
    #[serde(default)]
    pub twilio: Option<TwilioConfig>,
    /// SMTP email.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// Webhook.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    /// How often the engine checks no-data rules, grouping, repeats and escalation (ms). Default 500.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
}

fn default_tick_ms() -> u64 {
    500
}

/// The running alerts layer.
pub struct Alerting {
    /// The engine the pipelines report to.
    pub engine: Arc<AlertEngine>,
    notifiers: Vec<Arc<dyn Notifier>>,
    worker: OutboxWorker,
    tick: Duration,
}

/// What the HTTP API needs of the alerts layer: the engine (test sends) and the notifiers (health checks).
#[derive(Clone)]
pub struct AlertsApi {
    /// The engine.
    pub engine: Arc<AlertEngine>,
    /// Every configured notifier.
    pub notifiers: Arc<Vec<Arc<dyn Notifier>>>,
}

/// The result of one notifier's health check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotifierHealth {
    /// `sms`, `email` or `webhook`.
    pub channel: String,
    /// Whether the provider answered and (where the protocol allows) accepted the credentials.
    pub healthy: bool,
    /// Why not, when not (never holds a secret).
    pub error: Option<String>,
    /// How long the check took, in milliseconds.
    pub took_ms: u64,
}

impl AlertsApi {
    /// Runs every notifier's health check at once, each bounded by `timeout`; nothing is sent to anyone.
    pub async fn health(&self, timeout: Duration) -> Vec<NotifierHealth> {
        let checks: Vec<_> = self
            .notifiers
            .iter()
            .map(|n| {
                let n = Arc::clone(n);
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    let result = match tokio::time::timeout(timeout, n.health()).await {
                        Ok(result) => result,
                        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                    };
                    NotifierHealth {
                        channel: n.channel().as_str().to_string(),
                        healthy: result.is_ok(),
                        error: result.err(),
                        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    }
                })
            })
            .collect();
        let mut out = Vec::with_capacity(checks.len());
        for check in checks {
            match check.await {
                Ok(health) => out.push(health),
                Err(e) => out.push(NotifierHealth {
                    channel: "unknown".into(),
                    healthy: false,
                    error: Some(format!("the health check panicked: {e}")),
                    took_ms: 0,
                }),
            }
        }
        out
    }
}

impl Alerting {
    /// Builds it from settings; `None` when `[alerts]` is absent. Each wheel pipeline's cameras with an
    /// `expected_interval_s` get a no-data rule (source `<pipeline>/<camera>`).
    pub fn from_settings(
        settings: &Settings,
        pipelines: &[PipelineFile],
        store: &Store,
    ) -> anyhow::Result<Option<Alerting>> {
        if settings.alerts.is_empty() {
            tracing::warn!("no [alerts] configured: nobody will be notified");
            return Ok(None);
        }
        let mut config: AlertSettings =
            toml::Value::Table(settings.alerts.clone()).try_into().map_err(|e| anyhow::anyhow!("[alerts]: {e}"))?;
        for file in pipelines {
            if let Some(src) = file.inverter.as_ref().filter(|s| s.expected_interval_s > 0) {
                for source in [heartbeat_source(&file.pipeline.name, FEED), inverter_source(&file.pipeline.name, "*")] {
                    config.engine.no_data.push(NoDataRule {
                        source,
                        expected_interval_s: src.expected_interval_s,
                        site: file.pipeline.site.clone(),
                        pipeline: file.pipeline.name.clone(),
                        repeat_interval_s: 3600,
                    });
                }
            }
            let Some(cams) = &file.cameras else { continue };
            if cams.expected_interval_s == 0 {
                continue;
            }
            for camera in &cams.cameras {
                config.engine.no_data.push(NoDataRule {
                    source: heartbeat_source(&file.pipeline.name, camera),
                    expected_interval_s: cams.expected_interval_s,
                    site: file.pipeline.site.clone(),
                    pipeline: file.pipeline.name.clone(),
                    repeat_interval_s: 3600,
                });
            }
        }
        let mut notifiers: Vec<Arc<dyn Notifier>> = Vec::new();
        if let Some(c) = config.twilio {
            notifiers.push(Arc::new(TwilioNotifier::new(c).map_err(|e| anyhow::anyhow!("[alerts.twilio]: {e}"))?));
        }
        if let Some(c) = config.smtp {
            notifiers.push(Arc::new(SmtpNotifier::new(c).map_err(|e| anyhow::anyhow!("[alerts.smtp]: {e}"))?));
        }
        if let Some(c) = config.webhook {
            notifiers.push(Arc::new(WebhookNotifier::new(c).map_err(|e| anyhow::anyhow!("[alerts.webhook]: {e}"))?));
        }
        let worker = OutboxWorker::new(store.clone(), notifiers.clone(), config.outbox)
            .map_err(|e| anyhow::anyhow!("[alerts.outbox]: {e}"))?;
        let engine = AlertEngine::new(store.clone(), config.engine)
            .map_err(|e| anyhow::anyhow!("[alerts.engine]: {e}"))?
            .with_outbox_waker(worker.waker());
        let tick = Duration::from_millis(config.tick_ms.max(50));
        Ok(Some(Alerting { engine: Arc::new(engine), notifiers, worker, tick }))
    }

    /// The handle the HTTP API uses.
    pub fn api(&self) -> AlertsApi {
        AlertsApi { engine: Arc::clone(&self.engine), notifiers: Arc::new(self.notifiers.clone()) }
    }

    /// Starts the outbox worker and the tick loop; both stop on `shutdown` (the worker finishes what it holds).
    pub fn spawn(self, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
        let engine = Arc::clone(&self.engine);
        let tick = self.tick;
        let token = shutdown.clone();
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = interval.tick() => {}
                    // An alert fired or resolved: dispatch now rather than at the next tick.
                    _ = engine.changed() => {}
                }
                if let Err(e) = engine.tick(chrono::Utc::now()).await {
                    tracing::error!(error = %e, "alert tick failed; retrying at the next tick");
                }
            }
        });
        let worker = tokio::spawn(self.worker.run(shutdown));
        vec![ticker, worker]
    }
}

/// The heartbeat "camera" of an inverter pipeline: its whole feed (file, HTTP and MQTT together).
pub const FEED: &str = "feed";

/// The heartbeat source of one inverter of an inverter pipeline (`*`: all of them, as a no-data rule).
pub fn inverter_source(pipeline: &str, inverter: &str) -> String {
    format!("{pipeline}/inverter/{inverter}")
}

/// The heartbeat source of one camera folder (or of an inverter pipeline's [`FEED`]).
pub fn heartbeat_source(pipeline: &str, camera: &str) -> String {
    format!("{pipeline}/{camera}")
}
