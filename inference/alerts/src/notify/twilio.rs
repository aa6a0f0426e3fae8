//! SMS through Twilio's REST API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded
//! `To`, `From` and/or `MessagingServiceSid`, `Body`; HTTP basic auth AccountSid:AuthToken).

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http::{self, StatusClass};
use super::{check_channel, check_timeout, events, Channel, Message, Notifier, SendError, Sent};

/// Settings of the Twilio SMS notifier.
#[derive(Debug, Clone, Deserialize)]
pub struct TwilioConfig {
    /// API root, without the `/2010-04-01` part. Default `https://api.twilio.com`; tests and the demo point it at
    /// the local stand-in.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The account SID (`AC` + 32 hex digits); also the basic-auth user name.
    pub account_sid: String,
    /// The account's auth token (basic-auth password). Never printed: `Debug` shows `[REDACTED]`.
    pub auth_token: SecretString,
    /// Sender: a Twilio phone number in E.164 form (`+15017122661`). Either this or `messaging_service_sid`
    /// (or both, to pick a given sender from the service's pool) must be set.
    #[serde(default)]
    pub from: Option<String>,
    /// Messaging Service SID (`MG` + 32 hex digits): Twilio picks the sender from the service's pool.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// Deadline of one request, connect included, in milliseconds. Default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    "https://api.twilio.com".to_owned()
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Sends SMS through Twilio. One attempt per [`Notifier::send`]; see the module docs for the request.
#[derive(Debug)]
pub struct TwilioNotifier {
    config: TwilioConfig,
    client: reqwest::Client,
    messages_url: reqwest::Url,
    account_url: reqwest::Url,
    timeout: Duration,
}

impl TwilioNotifier {
    /// Checks the config (URL, SID forms, a sender, a token, a timeout) and builds the HTTP client.
    pub fn new(config: TwilioConfig) -> Result<Self, String> {
        let base = http::parse_base_url(&config.base_url, "twilio base_url")?;
        if !is_sid(&config.account_sid, "AC") {
            return Err(format!(
                "twilio account_sid {:?} is not an account SID (AC followed by 32 hex digits)",
                config.account_sid
            ));
        }
        if config.auth_token.expose_secret().is_empty() {
            return Err("twilio auth_token is empty".to_owned());
        }
        match (&config.from, &config.messaging_service_sid) {
            (None, None) => return Err("twilio needs a sender: set from or messaging_service_sid".to_owned()),
            (_, Some(mss)) if !is_sid(mss, "MG") => {
                return Err(format!(
                    "twilio messaging_service_sid {mss:?} is not a Messaging Service SID (MG followed by 32 hex digits)"
                ));
            }
            (Some(from), _) if from.trim().is_empty() => return Err("twilio from is empty".to_owned()),
            _ => {}
        }
        let timeout = check_timeout(config.timeout_ms)?;
        let root = base.as_str().trim_end_matches('/');
        let messages_url = format!("{root}/2010-04-01/Accounts/{}/Messages.json", config.account_sid);
        let account_url = format!("{root}/2010-04-01/Accounts/{}.json", config.account_sid);
        Ok(TwilioNotifier {
            messages_url: http::parse_base_url(&messages_url, "twilio messages URL")?,
            account_url: http::parse_base_url(&account_url, "twilio account URL")?,
            client: http::client(timeout)?,
            timeout,
            config,
        })
    }

    async fn attempt(&self, message: &Message) -> Result<Sent, SendError> {
        check_channel(Channel::Sms, message)?;
        let mut form: Vec<(&str, &str)> = vec![("To", message.to.as_str())];
        if let Some(from) = &self.config.from {
            form.push(("From", from));
        }
        if let Some(service) = &self.config.messaging_service_sid {
            form.push(("MessagingServiceSid", service));
        }
        form.push(("Body", message.text.as_str()));

        let response = self
            .client
            .post(self.messages_url.clone())
            .basic_auth(&self.config.account_sid, Some(self.config.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| http::transport_error(e, self.timeout))?;
        let status = response.status();
        let retry_after = http::retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| http::transport_error(e, self.timeout))?;

        match http::classify_status(status) {
            StatusClass::Success => {
                let sid = serde_json::from_slice::<CreatedMessage>(&body).ok().and_then(|m| m.sid);
                match sid {
                    Some(sid) => Ok(Sent { provider_id: sid }),
                    None => {
                        // Twilio took the message; reporting a failure would send it twice.
                        tracing::warn!(%status, "twilio accepted the message but its response carried no sid");
                        Ok(Sent { provider_id: String::from("unknown") })
                    }
                }
            }
            StatusClass::Transient => Err(SendError::Transient { reason: describe_error(status, &body), retry_after }),
            StatusClass::Permanent => Err(SendError::permanent(describe_error(status, &body))),
        }
    }

    /// Lists the recipient's recent messages (`GET .../Messages.json?To=...`, newest first) and looks for one
    /// with this body created since `since` (minus a minute of clock skew). Twilio has no idempotency key for
    /// `CreateMessage`, so this lookup is what keeps a lost reply from becoming a second SMS.
    async fn lookup(&self, message: &Message, since: chrono::DateTime<chrono::Utc>) -> Result<Option<Sent>, SendError> {
        check_channel(Channel::Sms, message)?;
        let response = self
            .client
            .get(self.messages_url.clone())
            .basic_auth(&self.config.account_sid, Some(self.config.auth_token.expose_secret()))
            .query(&[("To", message.to.as_str()), ("PageSize", "100")])
            .send()
            .await
            .map_err(|e| http::transport_error(e, self.timeout))?;
        let status = response.status();
        let retry_after = http::retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| http::transport_error(e, self.timeout))?;
        if !status.is_success() {
            // Whatever the status, we cannot tell whether it was delivered: never send blind, try again later.
            let reason = format!("looking up earlier deliveries: {}", describe_error(status, &body));
            return Err(SendError::Transient { reason, retry_after });
        }
        let page: MessagePage = serde_json::from_slice(&body)
            .map_err(|e| SendError::transient(format!("twilio message list is not valid JSON: {e}")))?;
        let since = since - chrono::Duration::seconds(60);
        let found = page.messages.into_iter().find(|m| {
            // A trial account prefixes bodies ("Sent from your Twilio trial account - ").
            let same_body = m.body.as_deref().is_some_and(|b| b == message.text || b.ends_with(&message.text));
            let recent = m
                .date_created
                .as_deref()
                .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
                .is_some_and(|d| d >= since);
            same_body && recent && m.sid.is_some()
        });
        Ok(found.and_then(|m| m.sid).map(|provider_id| Sent { provider_id }))
    }

    async fn check(&self) -> Result<(), String> {
        let response = self
            .client
            .get(self.account_url.clone())
            .basic_auth(&self.config.account_sid, Some(self.config.auth_token.expose_secret()))
            .send()
            .await
            .map_err(|e| http::transport_error(e, self.timeout).reason().to_owned())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| format!("reading the account resource: {e}"))?;
        if !status.is_success() {
            return Err(describe_error(status, &body));
        }
        let account: Account =
            serde_json::from_slice(&body).map_err(|e| format!("twilio account resource is not valid JSON: {e}"))?;
        match account.status.as_deref() {
            Some("active") | None => Ok(()),
            Some(other) => Err(format!("twilio account {} is {other}", self.config.account_sid)),
        }
    }
}

impl Notifier for TwilioNotifier {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.attempt(message).await;
            events::send_attempt(Channel::Sms, &result, started.elapsed());
            result
        })
    }

    fn find_delivered<'a>(
        &'a self,
        message: &'a Message,
        since: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Option<Sent>, SendError>> {
        Box::pin(self.lookup(message, since))
    }

    /// Fetches the account resource (`GET /2010-04-01/Accounts/{AccountSid}.json`): proves the API is reachable,
    /// the credentials work and the account is active, without sending anything.
    fn health<'a>(&'a self) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let result = self.check().await;
            events::health_checked(Channel::Sms, &result);
            result
        })
    }
}

/// `prefix` followed by 32 hex digits.
fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == 34 && value.starts_with(prefix) && value[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Deserialize)]
struct CreatedMessage {
    sid: Option<String>,
}

#[derive(Deserialize)]
struct MessagePage {
    #[serde(default)]
    messages: Vec<ListedMessage>,
}

#[derive(Deserialize)]
struct ListedMessage {
    sid: Option<String>,
    body: Option<String>,
    date_created: Option<String>,
}

#[derive(Deserialize)]
struct Account {
    status: Option<String>,
}

/// Twilio's error body: `{"code": 21211, "message": "...", "more_info": "https://www.twilio.com/docs/errors/21211",
/// "status": 400}`.
#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
    more_info: Option<String>,
}

/// "Twilio HTTP 400, error 21211: The 'To' number ... (https://www.twilio.com/docs/errors/21211)", or the start
/// of the body when it is not Twilio's JSON.
fn describe_error(status: StatusCode, body: &[u8]) -> String {
    match serde_json::from_slice::<TwilioError>(body) {
        Ok(TwilioError { code, message, more_info }) if code.is_some() || message.is_some() => {
            let mut text = format!("Twilio HTTP {}", status.as_u16());
            if let Some(code) = code {
                text.push_str(&format!(", error {code}"));
            }
            if let Some(message) = message {
                text.push_str(&format!(": {message}"));
            }
            if let Some(more_info) = more_info {
                text.push_str(&format!(" ({more_info})"));
            }
            text
        }
        _ if body.is_empty() => format!("Twilio HTTP {status}"),
        _ => format!("Twilio HTTP {status}: {}", http::snippet(body, 300)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TwilioConfig {
        serde_json::from_value(serde_json::json!({
            "account_sid": format!("AC{}", "0123456789abcdef".repeat(2)),
            "auth_token": "tok-3f9a8c7d-very-secret",
            "from": "+15005550006",
        }))
        .unwrap()
    }

    #[test]
    fn config_defaults_and_redaction() {
        let config = config();
        assert_eq!(config.base_url, "https://api.twilio.com");
        assert_eq!(config.timeout_ms, 10_000);
        assert!(config.messaging_service_sid.is_none());
        let debug = format!("{config:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        let notifier = TwilioNotifier::new(config).unwrap();
        let debug = format!("{notifier:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn new_refuses_bad_settings() {
        let mut c = config();
        c.account_sid = "ACshort".into();
        assert!(TwilioNotifier::new(c).unwrap_err().contains("account_sid"));
        let mut c = config();
        c.from = None;
        assert!(TwilioNotifier::new(c).unwrap_err().contains("sender"));
        let mut c = config();
        c.messaging_service_sid = Some("MG123".into());
        assert!(TwilioNotifier::new(c).unwrap_err().contains("messaging_service_sid"));
        let mut c = config();
        c.auth_token = SecretString::from("");
        assert!(TwilioNotifier::new(c).unwrap_err().contains("auth_token"));
        let mut c = config();
        c.base_url = "ftp://example.com".into();
        assert!(TwilioNotifier::new(c).unwrap_err().contains("base_url"));
        let mut c = config();
        c.base_url = "https://AC1:pw-in-url@api.twilio.com".into();
        let error = TwilioNotifier::new(c).unwrap_err();
        assert!(error.contains("credentials") && !error.contains("pw-in-url"), "{error}");
        let mut c = config();
        c.timeout_ms = 0;
        assert!(TwilioNotifier::new(c).unwrap_err().contains("timeout_ms"));
    }

    #[test]
    fn error_bodies_are_summarised() {
        let body = br#"{"code": 21211, "message": "The 'To' number 123 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        assert_eq!(
            describe_error(StatusCode::BAD_REQUEST, body),
            "Twilio HTTP 400, error 21211: The 'To' number 123 is not a valid phone number. \
             (https://www.twilio.com/docs/errors/21211)"
        );
        assert_eq!(
            describe_error(StatusCode::BAD_GATEWAY, b"<html>oops</html>"),
            "Twilio HTTP 502 Bad Gateway: <html>oops</html>"
        );
        assert_eq!(describe_error(StatusCode::SERVICE_UNAVAILABLE, b""), "Twilio HTTP 503 Service Unavailable");
    }
}
