//! Operator-facing notifier events: each emits a log line and a metric together.

use std::time::Duration;

use super::{Channel, SendError, Sent};

/// One delivery attempt finished. Metrics: `prognos_notifier_attempts_total{channel, outcome}` (outcome `sent`,
/// `transient` or `permanent`) and `prognos_notifier_attempt_seconds{channel}`.
pub(super) fn send_attempt(channel: Channel, result: &Result<Sent, SendError>, elapsed: Duration) {
    let outcome = match result {
        Ok(sent) => {
            tracing::info!(%channel, provider_id = %sent.provider_id, elapsed_ms = elapsed.as_millis() as u64, "notification sent");
            "sent"
        }
        Err(error @ SendError::Transient { .. }) => {
            tracing::warn!(%channel, %error, elapsed_ms = elapsed.as_millis() as u64, "notification attempt failed, retryable");
            "transient"
        }
        Err(error @ SendError::Permanent { .. }) => {
            tracing::error!(%channel, %error, elapsed_ms = elapsed.as_millis() as u64, "notification refused for good");
            "permanent"
        }
    };
    metrics::counter!("prognos_notifier_attempts_total", "channel" => channel.as_str(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("prognos_notifier_attempt_seconds", "channel" => channel.as_str())
        .record(elapsed.as_secs_f64());
}

/// A health check finished. Metric: gauge `prognos_notifier_healthy{channel}` (1 or 0).
pub(super) fn health_checked(channel: Channel, result: &Result<(), String>) {
    match result {
        Ok(()) => tracing::debug!(%channel, "notifier healthy"),
        Err(error) => tracing::warn!(%channel, %error, "notifier unhealthy"),
    }
    metrics::gauge!("prognos_notifier_healthy", "channel" => channel.as_str()).set(if result.is_ok() {
        1.0
    } else {
        0.0
    });
}
