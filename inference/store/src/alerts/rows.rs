//! Row types as the database returns them, their conversion to records, and the SQL both backends share.

use crate::time::Ts;
use crate::StoreError;

use super::records::{AlertRecord, AlertState, Notice, NotificationRecord, NotificationStatus, SilenceRecord};

pub(crate) const ALERT_COLUMNS: &str = "id, rule, asset_id, site, pipeline, route, state, consecutive, value, \
    threshold, opened_at, updated_at, fired_at, resolved_at, acked_at, acked_by, last_notified_at, escalation_level, \
    escalated_at, pending_notice, notice_since, detail";

pub(crate) const NOTIFICATION_COLUMNS: &str = "id, alert_ids, route, channel, recipient, subject, text, html, \
    payload, idempotency_key, status, attempts, next_attempt_at, last_error, provider_id, created_at, sent_at, \
    failed_at, claimed_by, claimed_until";

pub(crate) const SILENCE_COLUMNS: &str = "id, asset_id, site, starts_at, ends_at, reason, created_by, created_at";

/// A value bound to a query assembled at run time (filters).
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Ts(Ts),
}

/// Binds every `Arg` of `$args` to the query `$query`, in order. A macro so that it expands once per backend.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                $crate::alerts::rows::Arg::Text(v) => query.bind(v.clone()),
                $crate::alerts::rows::Arg::Int(v) => query.bind(*v),
                $crate::alerts::rows::Arg::Ts(v) => query.bind(*v),
            };
        }
        query
    }};
}
pub(crate) use bind_args;

/// Collects `WHERE` conditions with numbered placeholders.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    pub clauses: Vec<String>,
    pub args: Vec<Arg>,
}

impl Conditions {
    /// Adds `template` with each `?` replaced by the next placeholder number, binding `arg` to it.
    pub fn push(&mut self, template: &str, arg: Arg) {
        self.args.push(arg);
        let placeholder = format!("${}", self.args.len());
        self.clauses.push(template.replace('?', &placeholder));
    }

    /// Adds a condition without an argument.
    pub fn push_plain(&mut self, clause: &str) {
        self.clauses.push(clause.to_string());
    }

    /// ` WHERE a AND b`, or nothing.
    pub fn where_clause(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The next placeholder, for a `LIMIT` after the conditions.
    pub fn next_placeholder(&self) -> String {
        format!("${}", self.args.len() + 1)
    }
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what, detail: detail.into() }
}

pub(crate) fn parse_json(what: &'static str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e.to_string()))
}

pub(crate) fn encode_json(what: &str, value: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::InvalidInput(format!("{what}: {e}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct AlertRow {
    id: i64,
    rule: String,
    asset_id: String,
    site: String,
    pipeline: String,
    route: String,
    state: String,
    consecutive: i64,
    value: Option<f64>,
    threshold: Option<f64>,
    opened_at: Ts,
    updated_at: Ts,
    fired_at: Option<Ts>,
    resolved_at: Option<Ts>,
    acked_at: Option<Ts>,
    acked_by: Option<String>,
    last_notified_at: Option<Ts>,
    escalation_level: i64,
    escalated_at: Option<Ts>,
    pending_notice: Option<String>,
    notice_since: Option<Ts>,
    detail: String,
}

impl TryFrom<AlertRow> for AlertRecord {
    type Error = StoreError;

    fn try_from(r: AlertRow) -> Result<Self, StoreError> {
        let state = AlertState::parse(&r.state).ok_or_else(|| corrupt("alerts.state", format!("{:?}", r.state)))?;
        let pending_notice = r
            .pending_notice
            .map(|n| Notice::parse(&n).ok_or_else(|| corrupt("alerts.pending_notice", format!("{n:?}"))))
            .transpose()?;
        Ok(AlertRecord {
            id: r.id,
            rule: r.rule,
            asset_id: r.asset_id,
            site: r.site,
            pipeline: r.pipeline,
            route: r.route,
            state,
            consecutive: r.consecutive,
            value: r.value,
            threshold: r.threshold,
            opened_at: r.opened_at.0,
            updated_at: r.updated_at.0,
            fired_at: r.fired_at.map(|t| t.0),
            resolved_at: r.resolved_at.map(|t| t.0),
            acked_at: r.acked_at.map(|t| t.0),
            acked_by: r.acked_by,
            last_notified_at: r.last_notified_at.map(|t| t.0),
            escalation_level: r.escalation_level,
            escalated_at: r.escalated_at.map(|t| t.0),
            pending_notice,
            notice_since: r.notice_since.map(|t| t.0),
            detail: parse_json("alerts.detail", &r.detail)?,
        })
    }
}

pub(crate) fn alerts(rows: Vec<AlertRow>) -> Result<Vec<AlertRecord>, StoreError> {
    rows.into_iter().map(AlertRecord::try_from).collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct NotificationRow {
    id: i64,
    alert_ids: String,
    route: String,
    channel: String,
    recipient: String,
    subject: String,
    text: String,
    html: Option<String>,
    payload: String,
    idempotency_key: String,
    status: String,
    attempts: i64,
    next_attempt_at: Ts,
    last_error: Option<String>,
    provider_id: Option<String>,
    created_at: Ts,
    sent_at: Option<Ts>,
    failed_at: Option<Ts>,
    claimed_by: Option<String>,
    claimed_until: Option<Ts>,
}

impl TryFrom<NotificationRow> for NotificationRecord {
    type Error = StoreError;

    fn try_from(r: NotificationRow) -> Result<Self, StoreError> {
        let status = NotificationStatus::parse(&r.status)
            .ok_or_else(|| corrupt("notifications.status", format!("{:?}", r.status)))?;
        let alert_ids: Vec<i64> =
            serde_json::from_str(&r.alert_ids).map_err(|e| corrupt("notifications.alert_ids", e.to_string()))?;
        Ok(NotificationRecord {
            id: r.id,
            alert_ids,
            route: r.route,
            channel: r.channel,
            recipient: r.recipient,
            subject: r.subject,
            text: r.text,
            html: r.html,
            payload: parse_json("notifications.payload", &r.payload)?,
            idempotency_key: r.idempotency_key,
            status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at.0,
            last_error: r.last_error,
            provider_id: r.provider_id,
            created_at: r.created_at.0,
            sent_at: r.sent_at.map(|t| t.0),
            failed_at: r.failed_at.map(|t| t.0),
            claimed_by: r.claimed_by,
            claimed_until: r.claimed_until.map(|t| t.0),
        })
    }
}

pub(crate) fn notifications(rows: Vec<NotificationRow>) -> Result<Vec<NotificationRecord>, StoreError> {
    rows.into_iter().map(NotificationRecord::try_from).collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct SilenceRow {
    id: i64,
    asset_id: Option<String>,
    site: Option<String>,
    starts_at: Ts,
    ends_at: Ts,
    reason: String,
    created_by: String,
    created_at: Ts,
}

impl From<SilenceRow> for SilenceRecord {
    fn from(r: SilenceRow) -> Self {
        SilenceRecord {
            id: r.id,
            asset_id: r.asset_id,
            site: r.site,
            starts_at: r.starts_at.0,
            ends_at: r.ends_at.0,
            reason: r.reason,
            created_by: r.created_by,
            created_at: r.created_at.0,
        }
    }
}

/// The statement and arguments listing the alerts `filter` selects, newest first, with `suffix` (a row lock or
/// nothing) appended.
pub(crate) fn alert_query(filter: &super::AlertFilter, suffix: &str) -> Result<(String, Vec<Arg>), StoreError> {
    super::records::check_limit(filter.limit)?;
    let mut c = Conditions::default();
    if let Some(state) = filter.state {
        c.push("state = ?", Arg::Text(state.as_str().into()));
    }
    if filter.open_only {
        c.push_plain("state IN ('pending', 'firing')");
    }
    if filter.with_pending_notice {
        c.push_plain("pending_notice IS NOT NULL");
    }
    if filter.firing_or_notice {
        c.push_plain("(state = 'firing' OR pending_notice IS NOT NULL)");
    }
    for (column, value) in [
        ("rule", &filter.rule),
        ("asset_id", &filter.asset_id),
        ("site", &filter.site),
        ("pipeline", &filter.pipeline),
        ("route", &filter.route),
    ] {
        if let Some(value) = value {
            c.push(&format!("{column} = ?"), Arg::Text(value.clone()));
        }
    }
    if let Some(since) = filter.opened_since {
        c.push("opened_at >= ?", Arg::Ts(Ts::new(since)));
    }
    if let Some(before) = filter.opened_before {
        c.push("opened_at < ?", Arg::Ts(Ts::new(before)));
    }
    if let Some((at, id)) = filter.after {
        c.args.push(Arg::Ts(Ts::new(at)));
        let at_n = c.args.len();
        c.args.push(Arg::Int(id));
        c.clauses.push(format!("(opened_at < ${at_n} OR (opened_at = ${at_n} AND id < ${}))", c.args.len()));
    }
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts{} ORDER BY opened_at DESC, id DESC", c.where_clause());
    if let Some(limit) = filter.limit {
        sql.push_str(&format!(" LIMIT {}", c.next_placeholder()));
        c.args.push(Arg::Int(limit));
    }
    sql.push_str(suffix);
    Ok((sql, c.args))
}
