//! Operator-facing alert events: each emits a log line and a metric together.

use prognos_store::AlertRecord;

use super::rules::Change;

/// An observation changed an alert's state. Metric: `prognos_alert_transitions_total{rule, to}` (`to` is
/// `firing`, `resolved` or `cancelled`).
pub(super) fn transition(alert: &AlertRecord, change: Change) {
    let to = match change {
        Change::Fired => {
            tracing::warn!(alert_id = alert.id, rule = %alert.rule, asset = %alert.asset_id, site = %alert.site,
                value = ?alert.value, threshold = ?alert.threshold, "alert firing");
            "firing"
        }
        Change::Resolved => {
            tracing::info!(alert_id = alert.id, rule = %alert.rule, asset = %alert.asset_id, value = ?alert.value,
                "alert resolved");
            "resolved"
        }
        Change::Cancelled => {
            tracing::debug!(alert_id = alert.id, rule = %alert.rule, asset = %alert.asset_id,
                "pending alert cancelled before firing");
            "cancelled"
        }
        Change::Updated | Change::Stale => return,
    };
    metrics::counter!("prognos_alert_transitions_total", "rule" => alert.rule.clone(), "to" => to).increment(1);
}

/// A notice was not sent because a silence covers the alert. Metric:
/// `prognos_alert_notices_silenced_total{rule}`.
pub(super) fn silenced(alert: &AlertRecord) {
    tracing::info!(alert_id = alert.id, rule = %alert.rule, asset = %alert.asset_id, site = %alert.site,
        "alert notice suppressed by a silence");
    metrics::counter!("prognos_alert_notices_silenced_total", "rule" => alert.rule.clone()).increment(1);
}

/// A notification was written to the outbox. Metric: `prognos_alert_notifications_enqueued_total{channel, kind}`.
pub(super) fn enqueued(channel: &'static str, recipient: &str, alerts: usize, kinds: &str) {
    tracing::info!(channel, contact = %recipient, alerts, kinds, "notification enqueued");
    metrics::counter!("prognos_alert_notifications_enqueued_total", "channel" => channel).increment(1);
}

/// An operator acknowledged an alert. Metric: `prognos_alert_acknowledgements_total`.
pub(super) fn acknowledged(alert: &AlertRecord, by: &str) {
    tracing::info!(alert_id = alert.id, rule = %alert.rule, asset = %alert.asset_id, by, "alert acknowledged");
    metrics::counter!("prognos_alert_acknowledgements_total").increment(1);
}

/// An alert was escalated to the next level. Metric: `prognos_alert_escalations_total{level}`.
pub(super) fn escalated(alert: &AlertRecord) {
    tracing::warn!(alert_id = alert.id, rule = %alert.rule, asset = %alert.asset_id, level = alert.escalation_level,
        "alert unacknowledged: escalated");
    metrics::counter!("prognos_alert_escalations_total", "level" => alert.escalation_level.to_string()).increment(1);
}
