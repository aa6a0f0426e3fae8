//! Email over SMTP (lettre): plain text, or multipart/alternative text + HTML; the `Message-ID` is derived from
//! the idempotency key so a retried alert carries the same id. Plain (local relay), STARTTLS or implicit TLS.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::webhook::IDEMPOTENCY_HEADER;
use super::{check_channel, check_timeout, events, Channel, Message, Notifier, SendError, Sent};

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// No encryption (`plain`): only for a relay on the same host or network segment. Standard port 25.
    Plain,
    /// `starttls`: connect in clear, then upgrade; refuses to continue if the server cannot. Standard port 587.
    #[default]
    StartTls,
    /// `tls`: TLS from the first byte (SMTPS). Standard port 465.
    Tls,
}

impl SmtpSecurity {
    /// The standard port of this mode (25, 587, 465).
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Plain => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        }
    }
}

/// Settings of the SMTP email notifier.
#[derive(Debug, Clone, Deserialize)]
pub struct SmtpConfig {
    /// Server host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Server port; 0 (the default) means the standard port of `security`.
    #[serde(default)]
    pub port: u16,
    /// `plain`, `starttls` (default) or `tls`. TLS certificates are checked against the Mozilla root store.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Login for AUTH PLAIN/LOGIN; set together with `password`, or neither.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for AUTH. Never printed.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Sender mailbox, e.g. `Prognos alerts <alerts@example.com>`; its domain also names the Message-IDs.
    pub from: String,
    /// Deadline of one whole attempt (connect, TLS, AUTH, transfer, the server's final reply), in milliseconds.
    /// Default 30000: some servers scan a message before they answer. A reply lost to the deadline after the
    /// server took the message makes the retry a duplicate with the same Message-ID.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    30_000
}

/// Sends email through one SMTP server; a new connection per message (alerts are rare; no pool to go stale).
pub struct SmtpNotifier {
    config: SmtpConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpNotifier").field("config", &self.config).finish_non_exhaustive()
    }
}

impl SmtpNotifier {
    /// Checks the config (host, sender mailbox, credentials pairing, timeout) and builds the transport.
    /// Nothing is connected until the first send or health check.
    pub fn new(config: SmtpConfig) -> Result<Self, String> {
        if config.host.trim().is_empty() {
            return Err("smtp host is empty".to_owned());
        }
        let from: Mailbox =
            config.from.parse().map_err(|e| format!("smtp from {:?} is not a mailbox: {e}", config.from))?;
        let timeout = check_timeout(config.timeout_ms)?;
        let port = if config.port == 0 { config.security.default_port() } else { config.port };
        let builder = match config.security {
            SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str()),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| format!("smtp TLS setup for {:?}: {e}", config.host))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| format!("smtp TLS setup for {:?}: {e}", config.host))?,
        };
        let mut builder = builder.port(port).timeout(Some(timeout));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
            }
            (None, None) => {}
            _ => return Err("smtp username and password must be set together".to_owned()),
        }
        Ok(SmtpNotifier { transport: builder.build(), from, config, timeout })
    }

    /// `<key@domain>` when the key is a valid dot-atom (letters, digits, `.`, `-`, `_`), otherwise
    /// `<sha256(key)[..32]@domain>`; the domain is the sender's. The same key always yields the same id.
    pub fn message_id(&self, idempotency_key: &str) -> String {
        message_id(idempotency_key, self.from.email.domain())
    }

    fn build(&self, message: &Message) -> Result<(lettre::Message, String), SendError> {
        let recipients: Mailboxes = message
            .to
            .parse()
            .map_err(|e| SendError::permanent(format!("recipient {:?} is not a mailbox list: {e}", message.to)))?;
        if recipients.iter().next().is_none() {
            return Err(SendError::permanent("message has no recipient"));
        }
        let id = self.message_id(&message.idempotency_key);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(message.subject.clone())
            .message_id(Some(id.clone()))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(IDEMPOTENCY_HEADER),
                message.idempotency_key.clone(),
            ));
        for recipient in recipients {
            builder = builder.to(recipient);
        }
        let email = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.text.clone(), html.clone())),
            None => builder.singlepart(SinglePart::plain(message.text.clone())),
        }
        .map_err(|e| SendError::permanent(format!("cannot build the email: {e}")))?;
        Ok((email, id))
    }

    async fn attempt(&self, message: &Message) -> Result<Sent, SendError> {
        check_channel(Channel::Email, message)?;
        let (email, id) = self.build(message)?;
        // lettre's own timeout covers only the TCP connect; this bounds the whole conversation.
        match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
            Ok(Ok(_)) => Ok(Sent { provider_id: id }),
            Ok(Err(error)) => Err(classify(error)),
            Err(_) => Err(SendError::transient(format!(
                "SMTP server {}:{} did not complete within {} ms",
                self.config.host,
                self.port(),
                self.timeout.as_millis()
            ))),
        }
    }

    async fn check(&self) -> Result<(), String> {
        let server = format!("SMTP server {}:{}", self.config.host, self.port());
        match tokio::time::timeout(self.timeout, self.transport.test_connection()).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(format!("{server} did not answer NOOP")),
            Ok(Err(e)) => Err(format!("{server}: {}", classify(e).reason())),
            Err(_) => Err(format!("{server} did not answer within {} ms", self.timeout.as_millis())),
        }
    }

    fn port(&self) -> u16 {
        if self.config.port == 0 {
            self.config.security.default_port()
        } else {
            self.config.port
        }
    }
}

/// 5xx replies and client-side refusals (no STARTTLS offered, no usable AUTH mechanism) are permanent; 4xx
/// replies, connection, timeout, TLS and protocol failures are transient.
fn classify(error: lettre::transport::smtp::Error) -> SendError {
    let reason = format!("SMTP {error}");
    if error.is_permanent() || error.is_client() {
        SendError::permanent(reason)
    } else {
        SendError::transient(reason)
    }
}

fn message_id(key: &str, domain: &str) -> String {
    let dot_atom = !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && !key.contains("..")
        && key.len() <= 200
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let left = if dot_atom { key.to_owned() } else { hex::encode(&Sha256::digest(key.as_bytes())[..16]) };
    format!("<{left}@{domain}>")
}

impl Notifier for SmtpNotifier {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.attempt(message).await;
            events::send_attempt(Channel::Email, &result, started.elapsed());
            result
        })
    }

    /// Connects (with STARTTLS/TLS and AUTH as configured), sends NOOP, quits.
    fn health<'a>(&'a self) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let result = self.check().await;
            events::health_checked(Channel::Email, &result);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SmtpConfig {
        serde_json::from_value(serde_json::json!({
            "host": "127.0.0.1",
            "security": "plain",
            "username": "alerts",
            "password": "smtp-pass-hidden",
            "from": "Prognos <alerts@prognos.example>",
        }))
        .unwrap()
    }

    #[test]
    fn config_defaults_and_redaction() {
        let config = config();
        assert_eq!(config.port, 0);
        assert_eq!(config.timeout_ms, 30_000);
        let notifier = SmtpNotifier::new(config.clone()).unwrap();
        assert_eq!(notifier.port(), 25);
        for debug in [format!("{config:?}"), format!("{notifier:?}")] {
            assert!(!debug.contains("smtp-pass-hidden"), "{debug}");
        }
        let default: SmtpConfig =
            serde_json::from_value(serde_json::json!({"host": "mail.example", "from": "a@example.com"})).unwrap();
        assert_eq!(default.security, SmtpSecurity::StartTls);
        assert_eq!(SmtpNotifier::new(default).unwrap().port(), 587);
    }

    #[test]
    fn new_refuses_bad_settings() {
        let mut c = config();
        c.password = None;
        assert!(SmtpNotifier::new(c).unwrap_err().contains("together"));
        let mut c = config();
        c.from = "not an address".into();
        assert!(SmtpNotifier::new(c).unwrap_err().contains("from"));
        let mut c = config();
        c.host = " ".into();
        assert!(SmtpNotifier::new(c).unwrap_err().contains("host"));
    }

    #[test]
    fn message_ids_follow_the_idempotency_key() {
        assert_eq!(message_id("alert-42.sms.3", "prognos.example"), "<alert-42.sms.3@prognos.example>");
        let hashed = message_id("alert 42/email", "prognos.example");
        assert_eq!(hashed, message_id("alert 42/email", "prognos.example"));
        assert_ne!(hashed, message_id("alert 42:email", "prognos.example"));
        assert!(hashed.starts_with('<') && hashed.ends_with("@prognos.example>") && hashed.len() == 32 + 18);
        assert_ne!(message_id("a..b", "x"), "<a..b@x>");
    }
}
