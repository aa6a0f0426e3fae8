//! What the alert tables hold: alerts, silences, outbox notifications and heartbeats, as written and as read.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::StoreError;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    /// The rule is breached but has not yet held long enough (`for` count or duration) to fire.
    Pending,
    /// The rule has held: people are (or are about to be) told.
    Firing,
    /// The asset recovered (past the hysteresis margin); the row is history.
    Resolved,
}

impl AlertState {
    /// The text stored in `alerts.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<AlertState> {
        match text {
            "pending" => Some(AlertState::Pending),
            "firing" => Some(AlertState::Firing),
            "resolved" => Some(AlertState::Resolved),
            _ => None,
        }
    }

    /// Pending or firing: the states of which one (rule, asset) may have at most one row.
    pub fn is_open(self) -> bool {
        matches!(self, AlertState::Pending | AlertState::Firing)
    }
}

/// A state change that people have not been told about yet (`alerts.pending_notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// The alert fired.
    Firing,
    /// The alert resolved after people had been told it fired.
    Resolved,
}

impl Notice {
    /// The text stored in `alerts.pending_notice`.
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Firing => "firing",
            Notice::Resolved => "resolved",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Notice> {
        match text {
            "firing" => Some(Notice::Firing),
            "resolved" => Some(Notice::Resolved),
            _ => None,
        }
    }
}

/// A new alert row, written as [`AlertState::Pending`] with `consecutive = 0`; the caller then sets its state in
/// the same transaction with [`crate::AlertTx::update_alert`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// The rule's key (e.g. `health`, `range:dc_voltage`, `no_data`).
    pub rule: String,
    /// The asset or source the rule is about.
    pub asset_id: String,
    /// The site of the asset.
    pub site: String,
    /// The pipeline that observed it.
    pub pipeline: String,
    /// The notification route that owns the alert.
    pub route: String,
    /// When the breach was first observed.
    pub opened_at: DateTime<Utc>,
    /// The observed value, if the rule has one.
    pub value: Option<f64>,
    /// The rule's threshold, if it has one.
    pub threshold: Option<f64>,
    /// Rule-specific facts (JSON object), e.g. the model that scored, the last time a source was seen.
    pub detail: serde_json::Value,
}

/// A stored alert. Timestamps are to the microsecond.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// Alert id.
    pub id: i64,
    /// The rule's key.
    pub rule: String,
    /// The asset or source.
    pub asset_id: String,
    /// The asset's site.
    pub site: String,
    /// The pipeline that observed it.
    pub pipeline: String,
    /// The route that owns it.
    pub route: String,
    /// Pending, firing or resolved.
    pub state: AlertState,
    /// How many breaching observations in a row this episode has seen.
    pub consecutive: i64,
    /// The latest observed value.
    pub value: Option<f64>,
    /// The rule's threshold.
    pub threshold: Option<f64>,
    /// First breaching observation.
    pub opened_at: DateTime<Utc>,
    /// Latest observation that changed this row (older observations are ignored).
    pub updated_at: DateTime<Utc>,
    /// When it fired.
    pub fired_at: Option<DateTime<Utc>>,
    /// When it resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When an operator acknowledged it.
    pub acked_at: Option<DateTime<Utc>>,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
    /// When a notification about it was last enqueued.
    pub last_notified_at: Option<DateTime<Utc>>,
    /// Index of the route level notified last (0 = first contacts).
    pub escalation_level: i64,
    /// When the current escalation level was notified.
    pub escalated_at: Option<DateTime<Utc>>,
    /// A change not yet told, waiting to be grouped.
    pub pending_notice: Option<Notice>,
    /// Since when `pending_notice` waits.
    pub notice_since: Option<DateTime<Utc>>,
    /// Rule-specific facts (a JSON object).
    pub detail: serde_json::Value,
}

impl AlertRecord {
    /// Sets (or clears) the pending notice together with its timestamp.
    pub fn set_notice(&mut self, notice: Option<Notice>, at: DateTime<Utc>) {
        self.notice_since = notice.map(|_| at);
        self.pending_notice = notice;
    }
}

/// Which alerts to list. Every field set narrows the result; the default lists every alert.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFilter {
    /// Only this state.
    pub state: Option<AlertState>,
    /// Only pending or firing alerts (combined with `state`, both must hold).
    pub open_only: bool,
    /// Only alerts with a pending notice.
    pub with_pending_notice: bool,
    /// Only alerts that may need a notification now: firing, or with a pending notice (what an engine's tick
    /// reads).
    pub firing_or_notice: bool,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only this asset.
    pub asset_id: Option<String>,
    /// Only this site.
    pub site: Option<String>,
    /// Only this pipeline.
    pub pipeline: Option<String>,
    /// Only this route.
    pub route: Option<String>,
    /// Only alerts opened at or after this time.
    pub opened_since: Option<DateTime<Utc>>,
    /// Only alerts opened before this time.
    pub opened_before: Option<DateTime<Utc>>,
    /// Keyset cursor: only alerts after this `(opened_at, id)` in the newest-first order (the last row of the
    /// previous page).
    pub after: Option<(DateTime<Utc>, i64)>,
    /// At most this many (the newest first); all when `None`.
    pub limit: Option<i64>,
}

/// What [`crate::Store::acknowledge_alert`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AckOutcome {
    /// Acknowledged now; the updated alert.
    Acknowledged(AlertRecord),
    /// It had been acknowledged before (by `acked_by` in the record); nothing changed.
    AlreadyAcknowledged(AlertRecord),
    /// It is resolved: there is nothing to acknowledge.
    Resolved(AlertRecord),
    /// No alert has this id.
    NotFound,
}

/// A maintenance window to record. At least one of `asset_id` and `site` must be set; both set means that asset
/// at that site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSilence {
    /// The asset it covers, or every asset of `site` when `None`.
    pub asset_id: Option<String>,
    /// The site it covers, or the asset wherever it is when `None`.
    pub site: Option<String>,
    /// Start (inclusive).
    pub starts_at: DateTime<Utc>,
    /// End (exclusive); after `starts_at`.
    pub ends_at: DateTime<Utc>,
    /// Why (shown to operators).
    pub reason: String,
    /// Who created it.
    pub created_by: String,
}

/// A stored silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRecord {
    /// Silence id.
    pub id: i64,
    /// The asset it covers, if limited to one.
    pub asset_id: Option<String>,
    /// The site it covers, if limited to one.
    pub site: Option<String>,
    /// Start (inclusive).
    pub starts_at: DateTime<Utc>,
    /// End (exclusive).
    pub ends_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl SilenceRecord {
    /// Whether this silence suppresses notifications about `asset_id` at `site` at time `at`.
    pub fn covers(&self, asset_id: &str, site: &str, at: DateTime<Utc>) -> bool {
        self.starts_at <= at
            && at < self.ends_at
            && self.asset_id.as_deref().is_none_or(|a| a == asset_id)
            && self.site.as_deref().is_none_or(|s| s == site)
    }
}

/// Where a notification is in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    /// Waiting for its next attempt (`next_attempt_at`).
    Pending,
    /// Claimed by a worker until `claimed_until`; after that another worker may claim it again.
    Sending,
    /// Delivered to the provider (`provider_id`, `sent_at`); never sent again.
    Sent,
    /// Refused for good (`last_error`); never sent again.
    Failed,
}

impl NotificationStatus {
    /// The text stored in `notifications.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Sending => "sending",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Failed => "failed",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<NotificationStatus> {
        match text {
            "pending" => Some(NotificationStatus::Pending),
            "sending" => Some(NotificationStatus::Sending),
            "sent" => Some(NotificationStatus::Sent),
            "failed" => Some(NotificationStatus::Failed),
            _ => None,
        }
    }
}

/// A notification to put in the outbox. Its first attempt is due at `created_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// The alerts it tells about.
    pub alert_ids: Vec<i64>,
    /// The route it was built for.
    pub route: String,
    /// `sms`, `email` or `webhook`.
    pub channel: String,
    /// Phone number, mailbox, or (webhook) the contact's name.
    pub recipient: String,
    /// Email subject.
    pub subject: String,
    /// Plain text (the SMS body).
    pub text: String,
    /// HTML body for email.
    pub html: Option<String>,
    /// Structured body for the webhook.
    pub payload: serde_json::Value,
    /// Deterministic key: enqueueing the same key twice stores one row, and providers get it to drop duplicates.
    pub idempotency_key: String,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    /// Notification id.
    pub id: i64,
    /// The alerts it tells about.
    pub alert_ids: Vec<i64>,
    /// The route it was built for.
    pub route: String,
    /// `sms`, `email` or `webhook`.
    pub channel: String,
    /// Phone number, mailbox, or contact name.
    pub recipient: String,
    /// Email subject.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML body.
    pub html: Option<String>,
    /// Structured body.
    pub payload: serde_json::Value,
    /// Deterministic key (unique).
    pub idempotency_key: String,
    /// Where it is in the outbox.
    pub status: NotificationStatus,
    /// Attempts started (a claim counts as an attempt, so a crash mid-send is counted).
    pub attempts: i64,
    /// When it may be attempted next.
    pub next_attempt_at: DateTime<Utc>,
    /// The last failure.
    pub last_error: Option<String>,
    /// The provider's id for the delivered message.
    pub provider_id: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When the provider accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was marked failed.
    pub failed_at: Option<DateTime<Utc>>,
    /// The worker holding (or that last held) the claim.
    pub claimed_by: Option<String>,
    /// The end of that claim's lease.
    pub claimed_until: Option<DateTime<Utc>>,
}

/// Which notifications to list; the default lists all, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationFilter {
    /// Only this status.
    pub status: Option<NotificationStatus>,
    /// Only this channel.
    pub channel: Option<String>,
    /// Only this recipient.
    pub recipient: Option<String>,
    /// Only this route.
    pub route: Option<String>,
    /// Only those telling about this alert.
    pub alert_id: Option<i64>,
    /// At most this many; all when `None`.
    pub limit: Option<i64>,
}

/// A request to claim due notifications for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The claiming worker's id (unique per process).
    pub worker: String,
    /// The claimer's clock: rows due at or before it, and rows whose lease ended at or before it, are claimable.
    pub now: DateTime<Utc>,
    /// How long the claim holds: past `now + lease` another worker may claim the row again.
    pub lease: Duration,
    /// At most this many rows.
    pub limit: i64,
    /// Only these channels (those the worker can send); empty claims nothing.
    pub channels: Vec<String>,
}

/// How many notifications are in each status, and how old the oldest unsent one is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotificationCounts {
    /// Waiting for an attempt.
    pub pending: i64,
    /// Claimed by a worker.
    pub sending: i64,
    /// Delivered.
    pub sent: i64,
    /// Refused for good.
    pub failed: i64,
    /// Creation time of the oldest pending or sending notification.
    pub oldest_unsent: Option<DateTime<Utc>>,
}

/// When a source last delivered data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRecord {
    /// The source (e.g. `parkA/Cam_01`).
    pub source: String,
    /// The newest time recorded for it.
    pub last_seen: DateTime<Utc>,
}

/// A recent prediction for a message's trend line: when, which score, by which model.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// When it was scored.
    pub scored_at: DateTime<Utc>,
    /// Health score, 0 to 100.
    pub health_score: f64,
    /// Model name.
    pub model: String,
}

pub(crate) fn check_nonempty(fields: &[(&str, &str)]) -> Result<(), StoreError> {
    match fields.iter().find(|(_, value)| value.is_empty()) {
        Some((field, _)) => Err(StoreError::InvalidInput(format!("{field} is empty"))),
        None => Ok(()),
    }
}

pub(crate) fn check_limit(limit: Option<i64>) -> Result<(), StoreError> {
    match limit {
        Some(limit) if limit < 0 => Err(StoreError::InvalidInput(format!("limit {limit} is negative"))),
        _ => Ok(()),
    }
}
