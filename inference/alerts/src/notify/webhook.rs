//! Signed webhook: a JSON POST of the message payload, with an HMAC-SHA256 signature of the exact body bytes
//! (`X-Prognos-Signature: sha256=<hex>`) and the idempotency key (`X-Prognos-Idempotency-Key`).

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use super::http::{self, StatusClass};
use super::{check_channel, check_timeout, events, Channel, Message, Notifier, SendError, Sent};

/// Header carrying `sha256=` + lowercase hex of HMAC-SHA256(secret, body).
pub const SIGNATURE_HEADER: &str = "X-Prognos-Signature";
/// Header carrying [`Message::idempotency_key`]; the same on every retry of one notification.
pub const IDEMPOTENCY_HEADER: &str = "X-Prognos-Idempotency-Key";

/// Settings of the webhook notifier.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookConfig {
    /// Endpoint receiving the POSTs (http or https).
    pub url: String,
    /// Shared HMAC key; the receiver recomputes the signature with it. Never printed.
    pub secret: SecretString,
    /// Deadline of one request, connect included, in milliseconds. Default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// The value of [`SIGNATURE_HEADER`] for `body`: `sha256=<hex>`. Receivers compute the same over the raw body
/// bytes they received and compare in constant time.
pub fn sign_body(secret: &SecretString, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs [`Message::payload`] as JSON to one endpoint.
#[derive(Debug)]
pub struct WebhookNotifier {
    config: WebhookConfig,
    url: reqwest::Url,
    client: reqwest::Client,
    timeout: Duration,
}

impl WebhookNotifier {
    /// Checks the URL, secret and timeout and builds the HTTP client.
    pub fn new(config: WebhookConfig) -> Result<Self, String> {
        let url = http::parse_base_url(&config.url, "webhook url")?;
        if config.secret.expose_secret().is_empty() {
            return Err("webhook secret is empty".to_owned());
        }
        let timeout = check_timeout(config.timeout_ms)?;
        Ok(WebhookNotifier { client: http::client(timeout)?, url, timeout, config })
    }

    async fn attempt(&self, message: &Message) -> Result<Sent, SendError> {
        check_channel(Channel::Webhook, message)?;
        let body = serde_json::to_vec(&message.payload)
            .map_err(|e| SendError::permanent(format!("payload cannot be serialised: {e}")))?;
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign_body(&self.config.secret, &body))
            .header(IDEMPOTENCY_HEADER, &message.idempotency_key)
            .body(body)
            .send()
            .await
            .map_err(|e| http::transport_error(e, self.timeout))?;
        let status = response.status();
        let retry_after = http::retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| http::transport_error(e, self.timeout))?;
        let reason = || match http::snippet(&body, 300) {
            text if text.is_empty() => format!("webhook HTTP {status}"),
            text => format!("webhook HTTP {status}: {text}"),
        };
        match http::classify_status(status) {
            StatusClass::Success => {
                let id = serde_json::from_slice::<Receipt>(&body).ok().and_then(|r| r.id);
                Ok(Sent { provider_id: id.unwrap_or_else(|| message.idempotency_key.clone()) })
            }
            StatusClass::Transient => Err(SendError::Transient { reason: reason(), retry_after }),
            StatusClass::Permanent => Err(SendError::permanent(reason())),
        }
    }

    async fn check(&self) -> Result<(), String> {
        // Any HTTP answer proves the endpoint is reachable; only a missing answer or a server error is unhealthy
        // (many receivers accept POST only and answer a HEAD with 404 or 405).
        let response = self
            .client
            .head(self.url.clone())
            .send()
            .await
            .map_err(|e| http::transport_error(e, self.timeout).reason().to_owned())?;
        if response.status().is_server_error() {
            return Err(format!("webhook endpoint answers HTTP {}", response.status()));
        }
        Ok(())
    }
}

/// A receiver may answer with its own id for the delivery.
#[derive(Deserialize)]
struct Receipt {
    id: Option<String>,
}

impl Notifier for WebhookNotifier {
    fn channel(&self) -> Channel {
        Channel::Webhook
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.attempt(message).await;
            events::send_attempt(Channel::Webhook, &result, started.elapsed());
            result
        })
    }

    /// A HEAD request to the endpoint: healthy when it answers with anything but a 5xx.
    fn health<'a>(&'a self) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let result = self.check().await;
            events::health_checked(Channel::Webhook, &result);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_test_case_2() {
        let secret = SecretString::from("Jefe");
        assert_eq!(
            sign_body(&secret, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn config_is_redacted_and_checked() {
        let config: WebhookConfig =
            serde_json::from_value(serde_json::json!({"url": "http://127.0.0.1:9/hook", "secret": "whsec-hidden"}))
                .unwrap();
        assert_eq!(config.timeout_ms, 10_000);
        assert!(!format!("{config:?}").contains("whsec-hidden"));
        let notifier = WebhookNotifier::new(config.clone()).unwrap();
        assert!(!format!("{notifier:?}").contains("whsec-hidden"));
        let mut bad = config.clone();
        bad.secret = SecretString::from("");
        assert!(WebhookNotifier::new(bad).unwrap_err().contains("secret"));
        let mut bad = config;
        bad.url = "not a url".into();
        assert!(WebhookNotifier::new(bad).unwrap_err().contains("url"));
    }
}
