//! Notifiers: one module per channel (Twilio SMS, SMTP email, signed webhook), each built from its own config,
//! with its own client and health check. A notifier makes one delivery attempt and says whether a failure is
//! worth retrying ([`SendError::Transient`]) or not ([`SendError::Permanent`]); retries, backoff and durability
//! belong to the outbox.

mod events;
mod http;
mod sms;
mod smtp;
mod twilio;
mod webhook;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use sms::sms_segments;
pub use smtp::{SmtpConfig, SmtpNotifier, SmtpSecurity};
pub use twilio::{TwilioConfig, TwilioNotifier};
pub use webhook::{sign_body, WebhookConfig, WebhookNotifier, IDEMPOTENCY_HEADER, SIGNATURE_HEADER};

/// The way a notification reaches people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Text message through Twilio's REST API.
    Sms,
    /// Email through an SMTP server.
    Email,
    /// A signed JSON POST to an HTTP endpoint.
    Webhook,
}

impl Channel {
    /// The lowercase name used in config, logs and metrics (`sms`, `email`, `webhook`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sms" => Ok(Channel::Sms),
            "email" => Ok(Channel::Email),
            "webhook" => Ok(Channel::Webhook),
            other => Err(format!("unknown channel {other:?} (expected sms, email or webhook)")),
        }
    }
}

/// One notification to one recipient on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The channel this message is for; a notifier refuses messages for another channel.
    pub channel: Channel,
    /// Recipient: an E.164 phone number for SMS (`+4915112345678`), one or more comma-separated mailboxes for
    /// email (`Ops <ops@example.com>, oncall@example.com`); not used by the webhook (its URL is in its config).
    pub to: String,
    /// Email subject; not sent by SMS or webhook.
    pub subject: String,
    /// Plain text: the SMS body, the text part of the email.
    pub text: String,
    /// Optional HTML alternative for email (the message becomes multipart/alternative).
    #[serde(default)]
    pub html: Option<String>,
    /// Structured alert for the webhook body (sent as-is, as JSON).
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Stable key of this notification: the same key on every retry. It becomes the email `Message-ID` and the
    /// webhook's `X-Prognos-Idempotency-Key`, so receivers can drop duplicates.
    pub idempotency_key: String,
}

/// A message the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The provider's id for it: Twilio's message SID, the email Message-ID, the webhook receiver's `id` (or the
    /// idempotency key when the receiver gives none).
    pub provider_id: String,
}

/// Why a delivery attempt failed, and whether another attempt may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The provider is unreachable, slow, overloaded or rate-limiting: try again later (after `retry_after` when
    /// the provider said how long).
    #[error("transient failure: {reason}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs_f64())).unwrap_or_default())]
    Transient {
        /// What happened, for logs and the outbox record (never holds a secret).
        reason: String,
        /// How long the provider asked us to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
    },
    /// The provider refused this message for good (bad number, unknown mailbox, bad credentials): retrying the
    /// same message cannot succeed.
    #[error("permanent failure: {reason}")]
    Permanent {
        /// What happened, with the provider's error code when there is one (never holds a secret).
        reason: String,
    },
}

impl SendError {
    /// A transient failure without a provider-given delay.
    pub fn transient(reason: impl Into<String>) -> Self {
        SendError::Transient { reason: reason.into(), retry_after: None }
    }

    /// A permanent failure.
    pub fn permanent(reason: impl Into<String>) -> Self {
        SendError::Permanent { reason: reason.into() }
    }

    /// True when another attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient { .. })
    }

    /// The delay the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Transient { retry_after, .. } => *retry_after,
            SendError::Permanent { .. } => None,
        }
    }

    /// The reason text.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Transient { reason, .. } | SendError::Permanent { reason } => reason,
        }
    }
}

/// A delivery channel: sends one message per call and can check that its provider is reachable.
pub trait Notifier: Send + Sync {
    /// The channel this notifier serves.
    fn channel(&self) -> Channel;

    /// Makes one delivery attempt. It does not retry; the caller (the outbox) decides from the error.
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>>;

    /// Checks that the provider is reachable and (where the protocol allows) that the credentials work, without
    /// sending anything to anyone.
    fn health<'a>(&'a self) -> BoxFuture<'a, Result<(), String>>;

    /// Before a message is sent again after an attempt whose outcome is unknown (the sender died, the answer
    /// timed out or was lost), asks the provider whether it already holds this message, created at or after
    /// `since`. `Ok(Some(_))`: it does, so the outbox records that and does not send it again; `Ok(None)`: it
    /// does not, or this channel cannot tell (the default: the email Message-ID and the webhook's idempotency
    /// header let receivers drop duplicates instead); `Err`: the provider cannot be asked now, so try later.
    fn find_delivered<'a>(
        &'a self,
        message: &'a Message,
        since: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Option<Sent>, SendError>> {
        let _ = (message, since);
        Box::pin(async { Ok(None) })
    }
}

/// Refuses a message addressed to another channel (a routing bug, so permanent).
fn check_channel(expected: Channel, message: &Message) -> Result<(), SendError> {
    if message.channel == expected {
        Ok(())
    } else {
        Err(SendError::permanent(format!(
            "message for channel {} was given to the {expected} notifier",
            message.channel
        )))
    }
}

/// Refuses a zero timeout, which would make every attempt fail.
fn check_timeout(timeout_ms: u64) -> Result<Duration, String> {
    if timeout_ms == 0 {
        Err("timeout_ms must be greater than 0".to_owned())
    } else {
        Ok(Duration::from_millis(timeout_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for channel in [Channel::Sms, Channel::Email, Channel::Webhook] {
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{channel}\""));
            assert_eq!(serde_json::from_str::<Channel>(&json).unwrap(), channel);
            assert_eq!(channel.as_str().parse::<Channel>().unwrap(), channel);
        }
        assert!("fax".parse::<Channel>().is_err());
    }

    #[test]
    fn notifiers_live_behind_one_trait_object() {
        let notifiers: Vec<Box<dyn Notifier>> = vec![
            Box::new(
                TwilioNotifier::new(TwilioConfig {
                    base_url: "http://127.0.0.1:9".into(),
                    account_sid: format!("AC{}", "0".repeat(32)),
                    auth_token: "t".into(),
                    from: Some("+15005550006".into()),
                    messaging_service_sid: None,
                    timeout_ms: 1,
                })
                .unwrap(),
            ),
            Box::new(
                SmtpNotifier::new(SmtpConfig {
                    host: "127.0.0.1".into(),
                    port: 0,
                    security: SmtpSecurity::Plain,
                    username: None,
                    password: None,
                    from: "a@example.com".into(),
                    timeout_ms: 1,
                })
                .unwrap(),
            ),
            Box::new(
                WebhookNotifier::new(WebhookConfig {
                    url: "http://127.0.0.1:9/hook".into(),
                    secret: "s".into(),
                    timeout_ms: 1,
                })
                .unwrap(),
            ),
        ];
        let channels: Vec<Channel> = notifiers.iter().map(|n| n.channel()).collect();
        assert_eq!(channels, [Channel::Sms, Channel::Email, Channel::Webhook]);
    }

    #[test]
    fn send_error_display_names_the_kind_and_delay() {
        let e = SendError::Transient { reason: "HTTP 429".into(), retry_after: Some(Duration::from_secs(7)) };
        assert_eq!(e.to_string(), "transient failure: HTTP 429 (retry after 7s)");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.is_transient());
        let p = SendError::permanent("Twilio 21211");
        assert_eq!(p.to_string(), "permanent failure: Twilio 21211");
        assert!(!p.is_transient());
    }
}
