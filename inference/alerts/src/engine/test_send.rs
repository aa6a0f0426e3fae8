//! Test messages: one clearly marked message to every contact of the route, on every channel the contact has,
//! through the durable outbox like any alert (so the test proves the whole path: outbox, worker, provider).

use chrono::{DateTime, Utc};
use prognos_store::NewNotification;
use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::config::Contact;
use super::{AlertEngine, AlertError};
use crate::notify::Channel;

/// One test message put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestNotification {
    /// The outbox row's id (`GET /v1/notifications` shows its progress).
    pub id: i64,
    /// The contact's name.
    pub contact: String,
    /// The channel.
    pub channel: Channel,
    /// The phone number, mailbox or (webhook) contact name.
    pub recipient: String,
}

/// Every contact of the route once (a person may stand on several levels), in route order.
fn contacts(levels: &[Vec<Contact>]) -> Vec<&Contact> {
    let mut seen: Vec<&Contact> = Vec::new();
    for contact in levels.iter().flatten() {
        if !seen.iter().any(|c| c.name == contact.name) {
            seen.push(contact);
        }
    }
    seen
}

/// A fresh key per test message: two test sends a second apart are two messages.
fn test_key(route: &str, contact: &str, channel: Channel, now: DateTime<Utc>, nonce: u64) -> String {
    let mut hash = Sha256::new();
    for part in [route, contact, channel.as_str(), &now.timestamp_micros().to_string(), &nonce.to_string()] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    format!("prognos-test-{}", &hex::encode(hash.finalize())[..35])
}

impl AlertEngine {
    /// Enqueues a clearly marked test message to every contact of route `route`, on each of their channels, and
    /// wakes the outbox worker. Returns the notifications in route order. `by` (the caller) is named in the text.
    pub async fn test_send(
        &self,
        route: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<TestNotification>, AlertError> {
        let config = &self.config.route;
        if config.name != route {
            return Err(AlertError::UnknownRoute(route.to_string()));
        }
        let nonce: u64 = rand::rng().random();
        let when = now.format("%Y-%m-%d %H:%M:%S UTC");
        let mut out = Vec::new();
        for contact in contacts(&config.levels) {
            for (channel, to) in super::dispatch::channels(contact) {
                // The reference makes each test message's body unique, as the SMS lookup for earlier deliveries needs.
                let text = format!(
                    "[TEST] Prognos test message for route {route} to {}, sent by {by} at {when} (ref {:08x}). \
                     No action needed.",
                    contact.name, nonce as u32
                );
                let subject = format!("[TEST] Prognos test message for route {route}");
                let html = format!(
                    "<p><strong>[TEST]</strong> Prognos test message for route <code>{}</code> to {}, sent by {} at \
                     {when}.</p><p>No action needed.</p>",
                    escape(route),
                    escape(&contact.name),
                    escape(by)
                );
                let row = NewNotification {
                    alert_ids: Vec::new(),
                    route: route.to_string(),
                    channel: channel.as_str().to_string(),
                    recipient: to.clone(),
                    subject,
                    text: text.clone(),
                    html: (channel == Channel::Email).then_some(html),
                    payload: json!({
                        "test": true,
                        "route": route,
                        "contact": contact.name,
                        "requested_by": by,
                        "at": now.to_rfc3339(),
                        "text": text,
                    }),
                    idempotency_key: test_key(route, &contact.name, channel, now, nonce),
                    created_at: now,
                };
                let Some(id) = self.store.enqueue_notification(&row).await? else {
                    // A key collision is a fresh nonce away from impossible; say so rather than pretend it was sent.
                    return Err(AlertError::Observation(format!(
                        "test message key {} already stored",
                        row.idempotency_key
                    )));
                };
                tracing::info!(notification_id = id, route, contact = %contact.name, channel = %channel, by,
                    "test message enqueued");
                out.push(TestNotification { id, contact: contact.name.clone(), channel, recipient: to });
            }
        }
        if let Some(waker) = &self.waker {
            waker.wake();
        }
        Ok(out)
    }
}

/// Minimal HTML escaping for names in the test email.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_per_send_and_contacts_listed_once() {
        let now = Utc::now();
        let a = test_key("r", "alice", Channel::Sms, now, 1);
        assert_ne!(a, test_key("r", "alice", Channel::Sms, now, 2));
        assert_ne!(a, test_key("r", "alice", Channel::Email, now, 1));
        assert!(a.starts_with("prognos-test-") && a.len() == 48, "{a}");
        let alice = Contact { name: "alice".into(), sms: Some("+4915100000001".into()), email: None, webhook: false };
        let bob = Contact { name: "bob".into(), sms: None, email: Some("bob@example.com".into()), webhook: false };
        let levels = vec![vec![alice.clone()], vec![alice.clone(), bob.clone()]];
        let names: Vec<&str> = contacts(&levels).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(escape("<a&b>"), "&lt;a&amp;b&gt;");
    }
}
