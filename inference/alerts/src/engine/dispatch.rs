//! The tick's dispatch: which alerts must be told now (grouped notices, repeats, escalations), to whom, in which
//! words; the notifications are enqueued in the transaction that records that they were.

use chrono::{DateTime, Utc};
use prognos_store::{AlertFilter, AlertRecord, AlertState, AlertTx, AssetKind, NewNotification, Notice};
use sha2::{Digest, Sha256};

use super::config::{Contact, EngineConfig, DRIFT_RULE, HEALTH_RULE, NO_DATA_RULE};
use super::message::{self, Context, Item, Kind};
use super::{events, AlertError};
use crate::notify::Channel;

/// How many recent scores an email shows.
const TREND_POINTS: i64 = 6;

/// One alert to tell about: why, to which escalation levels, and its token in the idempotency key.
struct Due {
    kind: Kind,
    levels: std::ops::RangeInclusive<usize>,
    token: String,
}

fn seconds_since(now: DateTime<Utc>, then: DateTime<Utc>) -> i64 {
    (now - then).num_milliseconds()
}

/// Decides whether `alert` is told now, and updates it as told. `group_ready`: the oldest pending notice has
/// waited the group wait.
fn due(config: &EngineConfig, alert: &mut AlertRecord, group_ready: bool, now: DateTime<Utc>) -> Option<Due> {
    let level = usize::try_from(alert.escalation_level).unwrap_or(0);
    let levels = config.route.levels.len();
    let last_level = level.min(levels - 1);
    let id = alert.id;
    let due = match alert.pending_notice {
        Some(_) if !group_ready => return None,
        Some(Notice::Firing) => {
            alert.escalation_level = 0;
            alert.escalated_at = Some(now);
            Due { kind: Kind::Fired, levels: 0..=0, token: format!("f{id}") }
        }
        Some(Notice::Resolved) => Due { kind: Kind::Resolved, levels: 0..=last_level, token: format!("r{id}") },
        None if alert.state != AlertState::Firing || alert.acked_at.is_some() => return None,
        None => match alert.last_notified_at {
            // Fired while silenced: told now that the silence is over.
            None => {
                alert.escalation_level = 0;
                alert.escalated_at = Some(now);
                Due { kind: Kind::Fired, levels: 0..=0, token: format!("f{id}") }
            }
            Some(last) => {
                let escalate_ms = (config.route.escalate_after_s as i64).saturating_mul(1000);
                let repeat_ms = (config.repeat_interval_s(&alert.rule, &alert.asset_id) as i64).saturating_mul(1000);
                let escalation_due = escalate_ms > 0
                    && level + 1 < levels
                    && alert.escalated_at.is_some_and(|at| seconds_since(now, at) >= escalate_ms);
                if escalation_due {
                    let next = level + 1;
                    alert.escalation_level = next as i64;
                    alert.escalated_at = Some(now);
                    Due { kind: Kind::Escalated, levels: next..=next, token: format!("e{id}.{next}") }
                } else if repeat_ms > 0 && seconds_since(now, last) >= repeat_ms {
                    let token = format!("p{id}.{}", last.timestamp_micros());
                    Due { kind: Kind::Repeat, levels: 0..=last_level, token }
                } else {
                    return None;
                }
            }
        },
    };
    alert.set_notice(None, now);
    alert.last_notified_at = Some(now);
    Some(due)
}

/// What the asset is, for the wording.
async fn noun(tx: &mut AlertTx, alert: &AlertRecord) -> Result<&'static str, AlertError> {
    if alert.rule == NO_DATA_RULE {
        return Ok("source");
    }
    if alert.rule == DRIFT_RULE {
        return Ok("model");
    }
    Ok(match tx.asset_kind(&alert.asset_id).await? {
        Some(AssetKind::Wheel) => "wheel",
        Some(AssetKind::Inverter) => "inverter",
        None => "asset",
    })
}

/// A key that is the same whenever the same notices go to the same contact on the same channel, and differs
/// otherwise: a second dispatch of the same notices stores nothing.
fn idempotency_key(route: &str, contact: &str, channel: Channel, tokens: &[&str]) -> String {
    let mut tokens = tokens.to_vec();
    tokens.sort_unstable();
    let mut hash = Sha256::new();
    for part in [route, contact, channel.as_str()].into_iter().chain(tokens) {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    format!("prognos-{}", &hex::encode(hash.finalize())[..40])
}

pub(super) fn channels(contact: &Contact) -> Vec<(Channel, String)> {
    let mut out = Vec::new();
    if let Some(number) = &contact.sms {
        out.push((Channel::Sms, number.clone()));
    }
    if let Some(mailbox) = &contact.email {
        out.push((Channel::Email, mailbox.clone()));
    }
    if contact.webhook {
        out.push((Channel::Webhook, contact.name.clone()));
    }
    out
}

/// One dispatch pass in one transaction; returns how many notifications it enqueued.
pub(super) async fn dispatch(
    store: &prognos_store::Store,
    config: &EngineConfig,
    now: DateTime<Utc>,
) -> Result<usize, AlertError> {
    let route = &config.route;
    let mut tx = store.begin_alerts().await?;
    let filter = AlertFilter { route: Some(route.name.clone()), firing_or_notice: true, ..AlertFilter::default() };
    let alerts = tx.alerts(&filter).await?;
    if alerts.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let silences = tx.active_silences(now).await?;
    let group_wait_ms = i64::try_from(route.group_wait_ms).unwrap_or(i64::MAX);
    let group_ready =
        alerts.iter().filter_map(|a| a.notice_since).min().is_some_and(|t| seconds_since(now, t) >= group_wait_ms);

    let mut changed: Vec<AlertRecord> = Vec::new();
    let mut items: Vec<(Item, Due)> = Vec::new();
    for mut alert in alerts {
        let silenced = silences.iter().any(|s| s.covers(&alert.asset_id, &alert.site, now));
        if silenced {
            // State is kept; the notice is dropped. A firing alert never told is told once the silence ends.
            if alert.pending_notice.is_some() && group_ready {
                events::silenced(&alert);
                alert.set_notice(None, now);
                changed.push(alert);
            }
            continue;
        }
        let Some(due) = due(config, &mut alert, group_ready, now) else { continue };
        if due.kind == Kind::Escalated {
            events::escalated(&alert);
        }
        let noun = noun(&mut tx, &alert).await?;
        let trend = if alert.rule == HEALTH_RULE && due.kind != Kind::Resolved {
            let mut points = tx.recent_predictions(&alert.asset_id, TREND_POINTS).await?;
            points.reverse();
            points
        } else {
            Vec::new()
        };
        changed.push(alert.clone());
        items.push((Item { alert, kind: due.kind, noun, trend }, due));
    }

    // Contacts in route order, each with the items of the levels they stand on.
    let mut recipients: Vec<(&Contact, Vec<usize>)> = Vec::new();
    for (index, (_, due)) in items.iter().enumerate() {
        for contact in due.levels.clone().flat_map(|level| route.levels[level].iter()) {
            match recipients.iter_mut().find(|(c, _)| c.name == contact.name) {
                Some((_, list)) if !list.contains(&index) => list.push(index),
                Some(_) => {}
                None => recipients.push((contact, vec![index])),
            }
        }
    }
    let ctx = Context {
        dashboard_url: &config.dashboard_url,
        route: &route.name,
        escalate_after_s: route.escalate_after_s,
        now,
    };
    let mut enqueued = 0;
    for (contact, indices) in &recipients {
        let chosen: Vec<&Item> = indices.iter().map(|&i| &items[i].0).collect();
        let tokens: Vec<&str> = indices.iter().map(|&i| items[i].1.token.as_str()).collect();
        let mut alert_ids: Vec<i64> = chosen.iter().map(|i| i.alert.id).collect();
        alert_ids.sort_unstable();
        let mut kinds: Vec<&str> = chosen.iter().map(|i| i.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for (channel, to) in channels(contact) {
            let key = idempotency_key(&route.name, &contact.name, channel, &tokens);
            let m = message::build(&ctx, &contact.name, channel, &to, &chosen, &key);
            let row = NewNotification {
                alert_ids: alert_ids.clone(),
                route: route.name.clone(),
                channel: channel.as_str().to_string(),
                recipient: m.to,
                subject: m.subject,
                text: m.text,
                html: m.html,
                payload: m.payload,
                idempotency_key: key,
                created_at: now,
            };
            if tx.enqueue(&row).await?.is_some() {
                enqueued += 1;
                events::enqueued(channel.as_str(), &contact.name, chosen.len(), &kinds.join(","));
            }
        }
    }
    for alert in &changed {
        tx.update_alert(alert).await?;
    }
    tx.commit().await?;
    Ok(enqueued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_token_order_and_separate_everything_else() {
        let k = idempotency_key("r", "alice", Channel::Sms, &["f1", "f2"]);
        assert_eq!(k, idempotency_key("r", "alice", Channel::Sms, &["f2", "f1"]));
        assert_ne!(k, idempotency_key("r", "alice", Channel::Email, &["f1", "f2"]));
        assert_ne!(k, idempotency_key("r", "bob", Channel::Sms, &["f1", "f2"]));
        assert_ne!(k, idempotency_key("r", "alice", Channel::Sms, &["f1"]));
        assert_ne!(idempotency_key("r", "ab", Channel::Sms, &["c"]), idempotency_key("r", "a", Channel::Sms, &["bc"]));
        assert!(k.starts_with("prognos-") && k.len() == 48);
    }
}
