//! Alerts, notifications and silences: list them (viewer), acknowledge an alert and create a silence
//! (operator); test-send to a route (operator) and the notifiers' health checks (viewer). The alert engine and the
//! outbox worker read the same rows.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use prognos_store::{
    AckOutcome, AlertFilter, AlertRecord, AlertState, NewSilence, NotificationFilter, NotificationRecord,
    NotificationStatus, SilenceRecord,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::ApiError;
use crate::auth::Caller;
use crate::state::AppState;

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| json!(t.to_rfc3339())).unwrap_or(Value::Null)
}

fn alert_json(a: &AlertRecord) -> Value {
    json!({
        "id": a.id,
        "rule": a.rule,
        "asset": a.asset_id,
        "site": a.site,
        "pipeline": a.pipeline,
        "route": a.route,
        "state": a.state.as_str(),
        "value": a.value,
        "threshold": a.threshold,
        "opened_at": a.opened_at.to_rfc3339(),
        "fired_at": time(a.fired_at),
        "resolved_at": time(a.resolved_at),
        "acked_at": time(a.acked_at),
        "acked_by": a.acked_by,
        "escalation_level": a.escalation_level,
        "detail": a.detail,
    })
}

fn notification_json(n: &NotificationRecord) -> Value {
    json!({
        "id": n.id,
        "alerts": n.alert_ids,
        "route": n.route,
        "channel": n.channel,
        "recipient": n.recipient,
        "subject": n.subject,
        "text": n.text,
        "status": n.status.as_str(),
        "attempts": n.attempts,
        "next_attempt_at": n.next_attempt_at.to_rfc3339(),
        "last_error": n.last_error,
        "provider_id": n.provider_id,
        "created_at": n.created_at.to_rfc3339(),
        "sent_at": time(n.sent_at),
    })
}

fn silence_json(s: &SilenceRecord) -> Value {
    json!({
        "id": s.id,
        "asset": s.asset_id,
        "site": s.site,
        "starts_at": s.starts_at.to_rfc3339(),
        "ends_at": s.ends_at.to_rfc3339(),
        "reason": s.reason,
        "created_by": s.created_by,
    })
}

/// `GET /v1/alerts` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// pending, firing or resolved.
    pub state: Option<String>,
    /// Only this asset.
    pub asset: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

/// Lists alerts, newest first.
pub async fn list_alerts(State(state): State<AppState>, Query(q): Query<AlertQuery>) -> Result<Json<Value>, ApiError> {
    let wanted = match q.state.as_deref() {
        None => None,
        Some(s) => Some(AlertState::parse(s).ok_or_else(|| ApiError::Invalid {
            code: "invalid_state",
            message: format!("state {s:?} is not one of pending, firing, resolved"),
        })?),
    };
    let filter = AlertFilter {
        state: wanted,
        asset_id: q.asset,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 10_000)),
        ..AlertFilter::default()
    };
    let alerts = state.store.alerts(&filter).await?;
    Ok(Json(json!({ "alerts": alerts.iter().map(alert_json).collect::<Vec<_>>() })))
}

/// `POST /v1/alerts/{id}/ack`: the caller (an operator) takes the alert; escalation stops.
pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    match state.store.acknowledge_alert(id, &caller.name, Utc::now()).await? {
        AckOutcome::Acknowledged(a) => Ok(Json(json!({ "acknowledged": true, "alert": alert_json(&a) }))),
        AckOutcome::AlreadyAcknowledged(a) => Ok(Json(json!({ "acknowledged": false, "alert": alert_json(&a) }))),
        AckOutcome::Resolved(_) => Err(ApiError::Invalid {
            code: "alert_resolved",
            message: format!("alert {id} is resolved; there is nothing to acknowledge"),
        }),
        AckOutcome::NotFound => Err(ApiError::NotFound(format!("no alert {id}"))),
    }
}

/// `GET /v1/notifications` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// pending, sending, sent or failed.
    pub status: Option<String>,
    /// Only those about this alert.
    pub alert: Option<i64>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

/// Lists notifications (the outbox), newest first.
pub async fn list_notifications(
    State(state): State<AppState>,
    Query(q): Query<NotificationQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(NotificationStatus::parse(s).ok_or_else(|| ApiError::Invalid {
            code: "invalid_status",
            message: format!("status {s:?} is not one of pending, sending, sent, failed"),
        })?),
    };
    let filter = NotificationFilter {
        status,
        alert_id: q.alert,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 10_000)),
        ..NotificationFilter::default()
    };
    let rows = state.store.notifications(&filter).await?;
    Ok(Json(json!({ "notifications": rows.iter().map(notification_json).collect::<Vec<_>>() })))
}

/// `POST /v1/silences` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// Silence one asset...
    pub asset: Option<String>,
    /// ...or a whole site.
    pub site: Option<String>,
    /// Start (default now).
    pub starts_at: Option<DateTime<Utc>>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Why (a maintenance window, a known fault...).
    pub reason: String,
}

/// Creates a silence: alerts for the asset or site are still recorded but notify nobody until it ends.
pub async fn create_silence(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<SilenceRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let starts_at = req.starts_at.unwrap_or_else(Utc::now);
    let invalid = |message: String| ApiError::Invalid { code: "invalid_silence", message };
    if req.asset.is_none() && req.site.is_none() {
        return Err(invalid("a silence needs an asset or a site".into()));
    }
    if req.ends_at <= starts_at {
        return Err(invalid("ends_at must be after starts_at".into()));
    }
    if req.reason.trim().is_empty() {
        return Err(invalid("a silence needs a reason".into()));
    }
    let silence = NewSilence {
        asset_id: req.asset,
        site: req.site,
        starts_at,
        ends_at: req.ends_at,
        reason: req.reason,
        created_by: caller.name,
    };
    let id = state.store.create_silence(&silence).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// Lists the silences active now.
pub async fn list_silences(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let rows = state.store.silences(Some(Utc::now())).await?;
    Ok(Json(json!({ "silences": rows.iter().map(silence_json).collect::<Vec<_>>() })))
}

/// The alerts layer, or a 503 naming why there is none.
fn alerting(state: &AppState) -> Result<&crate::alerting::AlertsApi, ApiError> {
    state.alerts.as_ref().ok_or_else(|| {
        ApiError::Unavailable("alerting is off: the configuration has no [alerts] table, so nobody is notified".into())
    })
}

/// `POST /v1/alerts/routes/{route}/test`: puts a clearly marked test message for every contact of the route, on
/// each of their channels, in the outbox (operator). Answers 202 with the notification ids; their progress is in
/// `GET /v1/notifications`.
pub async fn test_send(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(route): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let alerts = alerting(&state)?;
    let sent = alerts.engine.test_send(&route, &caller.name, Utc::now()).await.map_err(|e| match e {
        prognos_alerts::engine::AlertError::UnknownRoute(r) => {
            ApiError::NotFound(format!("no alert route named {r:?}"))
        }
        prognos_alerts::engine::AlertError::Store(e) => ApiError::from(e),
        other => ApiError::Internal(other.to_string()),
    })?;
    let rows: Vec<Value> = sent
        .iter()
        .map(|n| json!({ "id": n.id, "contact": n.contact, "channel": n.channel.as_str(), "recipient": n.recipient }))
        .collect();
    let ids: Vec<i64> = sent.iter().map(|n| n.id).collect();
    Ok((StatusCode::ACCEPTED, Json(json!({ "route": route, "notification_ids": ids, "notifications": rows }))))
}

/// `GET /v1/alerts/notifiers`: runs every notifier's health check (nothing is sent) and lists the outbox
/// counts. 200 when every notifier is healthy, 503 otherwise (so a probe can watch it).
pub async fn notifiers(State(state): State<AppState>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let alerts = alerting(&state)?;
    let checks = alerts.health(std::time::Duration::from_secs(5)).await;
    let counts = state.store.notification_counts().await?;
    let healthy = checks.iter().all(|c| c.healthy);
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((
        status,
        Json(json!({
            "healthy": healthy,
            "notifiers": checks,
            "outbox": {
                "pending": counts.pending,
                "sending": counts.sending,
                "sent": counts.sent,
                "failed": counts.failed,
                "oldest_unsent_at": time(counts.oldest_unsent),
            },
        })),
    ))
}
