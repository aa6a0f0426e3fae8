//! The webhook notifier against a local axum receiver that checks the HMAC signature as a receiver would.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hmac::{Hmac, Mac};
use prognos_alerts::notify::{
    Channel, Message, Notifier, SendError, WebhookConfig, WebhookNotifier, IDEMPOTENCY_HEADER, SIGNATURE_HEADER,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "whsec-5d1f0a-never-print";

/// What the receiver got, and whether the signature verified.
#[derive(Debug, Clone)]
struct Delivery {
    body: Bytes,
    headers: HeaderMap,
    signature_ok: bool,
}

/// Status, extra headers and body of an answer.
type Answer = (u16, Vec<(&'static str, String)>, String);

#[derive(Default)]
struct Receiver {
    deliveries: Mutex<Vec<Delivery>>,
    /// Status, extra headers and body of the next answers.
    answer: Mutex<Answer>,
}

/// Verifies `sha256=<hex>` over the raw body with the shared secret, in constant time.
fn verify(secret: &str, body: &[u8], header: Option<&HeaderValue>) -> bool {
    let Some(hex_mac) = header.and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_mac) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let signature_ok = verify(SECRET, &body, headers.get(SIGNATURE_HEADER));
    receiver.deliveries.lock().unwrap().push(Delivery { body, headers, signature_ok });
    let (status, extra, text) = receiver.answer.lock().unwrap().clone();
    let mut response = (StatusCode::from_u16(status).unwrap(), text).into_response();
    for (name, value) in extra {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

async fn start_receiver() -> (String, Arc<Receiver>) {
    let receiver = Arc::new(Receiver::default());
    *receiver.answer.lock().unwrap() = (202, Vec::new(), String::new());
    let app = Router::new().route("/hooks/prognos", axum::routing::post(receive)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hooks/prognos"), receiver)
}

fn config(url: String) -> WebhookConfig {
    WebhookConfig { url, secret: SecretString::from(SECRET), timeout_ms: 2_000 }
}

fn message(key: &str) -> Message {
    Message {
        channel: Channel::Webhook,
        to: String::new(),
        subject: "Wheel W-17 below threshold".to_owned(),
        text: "Wheel W-17 scored 42".to_owned(),
        html: None,
        payload: json!({"alert_id": 17, "asset": "W-17", "score": 42.0, "state": "firing", "note": "Prüfung €"}),
        idempotency_key: key.to_owned(),
    }
}

#[tokio::test]
async fn webhook_posts_the_payload_with_a_verifiable_hmac_signature() {
    let (url, receiver) = start_receiver().await;
    let notifier = WebhookNotifier::new(config(url)).unwrap();
    assert_eq!(notifier.channel(), Channel::Webhook);
    let message = message("alert-17.webhook.0");

    let sent = notifier.send(&message).await.expect("delivered");
    assert_eq!(sent.provider_id, "alert-17.webhook.0", "no receiver id: the idempotency key");

    let delivery = receiver.deliveries.lock().unwrap()[0].clone();
    assert!(delivery.signature_ok, "signature {:?}", delivery.headers.get(SIGNATURE_HEADER));
    assert_eq!(serde_json::from_slice::<Value>(&delivery.body).unwrap(), message.payload);
    assert_eq!(delivery.headers["content-type"], "application/json");
    assert_eq!(delivery.headers[IDEMPOTENCY_HEADER], "alert-17.webhook.0");
    // Signed with another secret, the same body does not verify.
    assert!(!verify("another-secret", &delivery.body, delivery.headers.get(SIGNATURE_HEADER)));

    // A receiver that names the delivery: its id becomes the provider id.
    *receiver.answer.lock().unwrap() =
        (200, vec![("content-type", "application/json".into())], r#"{"id":"rcv-991"}"#.into());
    assert_eq!(notifier.send(&message).await.unwrap().provider_id, "rcv-991");
    let deliveries = receiver.deliveries.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries[1].signature_ok);
    assert_eq!(deliveries[1].headers[IDEMPOTENCY_HEADER], "alert-17.webhook.0");
}

#[tokio::test]
async fn webhook_failures_are_classified() {
    let (url, receiver) = start_receiver().await;
    let notifier = WebhookNotifier::new(config(url.clone())).unwrap();
    let message = message("k");
    let answer = |status: u16, extra: Vec<(&'static str, String)>, body: &str| {
        *receiver.answer.lock().unwrap() = (status, extra, body.to_owned());
    };

    answer(429, vec![("retry-after", "30".into())], "slow down");
    let error = notifier.send(&message).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)), "{error}");

    let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
    answer(503, vec![("retry-after", in_a_minute)], "");
    let error = notifier.send(&message).await.unwrap_err();
    let delay = error.retry_after().expect("HTTP-date Retry-After");
    assert!(error.is_transient() && (Duration::from_secs(57)..=Duration::from_secs(60)).contains(&delay), "{error}");

    answer(500, Vec::new(), "boom");
    let error = notifier.send(&message).await.unwrap_err();
    assert!(matches!(&error, SendError::Transient { retry_after: None, .. }), "{error}");
    assert!(error.reason().contains("boom"), "{error}");

    for status in [400, 401, 404, 410, 422] {
        answer(status, Vec::new(), "no");
        let error = notifier.send(&message).await.unwrap_err();
        assert!(matches!(error, SendError::Permanent { .. }), "{status}: {error}");
    }

    // Redirects are not followed (a redirected POST would turn into a GET).
    answer(302, vec![("location", url.clone())], "");
    assert!(matches!(notifier.send(&message).await.unwrap_err(), SendError::Permanent { .. }));
    notifier.health().await.expect("the endpoint answers");
}

#[tokio::test]
async fn unreachable_or_silent_receivers_are_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let notifier = WebhookNotifier::new(config(format!("http://{closed}/hook"))).unwrap();
    let error = notifier.send(&message("k")).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(notifier.health().await.is_err());

    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let mut config = config(format!("http://{addr}/hook"));
    config.timeout_ms = 300;
    let error = WebhookNotifier::new(config).unwrap().send(&message("k")).await.unwrap_err();
    assert!(error.is_transient() && error.reason().contains("300 ms"), "{error}");
    held.abort();
}

#[tokio::test]
async fn the_secret_never_appears_in_debug_output_or_errors() {
    let (url, receiver) = start_receiver().await;
    let config = config(url);
    let notifier = WebhookNotifier::new(config.clone()).unwrap();
    *receiver.answer.lock().unwrap() = (400, Vec::new(), "bad".to_owned());
    let error = notifier.send(&message("k")).await.unwrap_err();
    for text in [format!("{config:?}"), format!("{notifier:?}"), format!("{error} {error:?}")] {
        assert!(!text.contains(SECRET), "secret leaked: {text}");
    }
    let wrong_channel = Message { channel: Channel::Sms, ..message("k") };
    assert!(matches!(notifier.send(&wrong_channel).await.unwrap_err(), SendError::Permanent { .. }));
}
