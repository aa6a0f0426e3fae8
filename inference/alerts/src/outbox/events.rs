//! Operator-facing outbox events: each emits a log line and a metric together.

use std::time::Duration;

use prognos_store::{NotificationCounts, NotificationRecord};

/// The provider accepted a notification. Metrics: `prognos_notifications_total{channel, outcome="sent"}` and
/// `prognos_notification_delivery_seconds{channel}` (enqueue to acceptance).
pub(super) fn sent(n: &NotificationRecord, provider_id: &str, delivery: Duration) {
    tracing::info!(notification_id = n.id, channel = %n.channel, attempts = n.attempts, provider_id,
        delivery_ms = delivery.as_millis() as u64, "notification delivered");
    metrics::counter!("prognos_notifications_total", "channel" => n.channel.clone(), "outcome" => "sent").increment(1);
    metrics::histogram!("prognos_notification_delivery_seconds", "channel" => n.channel.clone())
        .record(delivery.as_secs_f64());
}

/// An attempt failed transiently; the next is scheduled. Metric: `prognos_notifications_total{channel,
/// outcome="retry"}`.
pub(super) fn retry(n: &NotificationRecord, reason: &str, delay: Duration) {
    tracing::warn!(notification_id = n.id, channel = %n.channel, attempts = n.attempts, reason,
        retry_in_ms = delay.as_millis() as u64, "notification attempt failed, will retry");
    metrics::counter!("prognos_notifications_total", "channel" => n.channel.clone(), "outcome" => "retry").increment(1);
}

/// A notification failed for good. Metric: `prognos_notifications_total{channel, outcome="failed"}` (and the
/// `prognos_notifications_failed` gauge).
pub(super) fn failed(n: &NotificationRecord, reason: &str) {
    tracing::error!(notification_id = n.id, channel = %n.channel, recipient = %n.recipient, attempts = n.attempts,
        reason, "notification failed for good: it will not be sent");
    metrics::counter!("prognos_notifications_total", "channel" => n.channel.clone(), "outcome" => "failed")
        .increment(1);
}

/// The store could not record an outcome; the row stays claimed until its lease ends and is then retried (a
/// delivered message may then be sent again: see the module docs). Metric:
/// `prognos_notifications_total{channel, outcome="unrecorded"}`.
pub(super) fn unrecorded(n: &NotificationRecord, error: &dyn std::fmt::Display) {
    tracing::error!(notification_id = n.id, channel = %n.channel, %error,
        "could not record a notification's outcome; it will be retried after its lease");
    metrics::counter!("prognos_notifications_total", "channel" => n.channel.clone(), "outcome" => "unrecorded")
        .increment(1);
}

/// The outbox's state. Gauges: `prognos_notifications_pending` (pending or being sent),
/// `prognos_notifications_failed` (failed for good, kept until someone looks) and
/// `prognos_notifications_oldest_unsent_seconds` (age of the oldest unsent one, 0 when none).
pub(super) fn counts(counts: &NotificationCounts, now: chrono::DateTime<chrono::Utc>) {
    let oldest = counts.oldest_unsent.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
    metrics::gauge!("prognos_notifications_pending").set((counts.pending + counts.sending) as f64);
    metrics::gauge!("prognos_notifications_failed").set(counts.failed as f64);
    metrics::gauge!("prognos_notifications_oldest_unsent_seconds").set(oldest);
}

/// A notification whose earlier attempt had an unknown outcome was found at the provider: recorded as sent, not
/// sent again. Metric: `prognos_notifications_found_delivered_total{channel}`.
pub(super) fn found_delivered(n: &NotificationRecord, provider_id: &str) {
    tracing::warn!(notification_id = n.id, channel = %n.channel, attempts = n.attempts, provider_id,
        "an earlier attempt was delivered after all; recording it instead of sending again");
    metrics::counter!("prognos_notifications_found_delivered_total", "channel" => n.channel.clone()).increment(1);
}
