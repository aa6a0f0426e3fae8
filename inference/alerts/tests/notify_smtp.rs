//! The SMTP notifier against a real local SMTP server (aiosmtpd, `tests/support/smtp_sink.py`) run by the
//! project's Python environment. Without `.venv` the tests are skipped, except under `CI=true`, where a missing
//! environment is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use prognos_alerts::notify::{Channel, Message, Notifier, SendError, SmtpConfig, SmtpNotifier, SmtpSecurity};
use prognos_alerts::standins::{SmtpSink, SMTP_SINK_SCRIPT_PATH};
use secrecy::SecretString;
use serde_json::Value;

const FROM: &str = "Prognos alerts <alerts@prognos.example>";

/// The project's Python (`PROGNOS_PYTHON` or `<workspace>/.venv/bin/python`), or `None` to skip.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PROGNOS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python")));
    if path.exists() {
        return Some(path);
    }
    let message = format!("{} is missing: run scripts/setup-python.sh", path.display());
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (CI=true: the SMTP tests must run)");
    }
    eprintln!("skipping: {message}");
    None
}

fn sink(python: &Path) -> SmtpSink {
    SmtpSink::start(python, Path::new(SMTP_SINK_SCRIPT_PATH))
        .expect("smtp sink starts (is aiosmtpd in .venv? run scripts/setup-python.sh)")
}

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        from: FROM.to_owned(),
        timeout_ms: 5_000,
    }
}

fn email(to: &str, key: &str, html: Option<&str>) -> Message {
    Message {
        channel: Channel::Email,
        to: to.to_owned(),
        subject: "[Prognos] Wheel W-17 health 42 – below 70".to_owned(),
        text: "Wheel W-17 scored 42 (threshold 70).\nModel wheel-v1 1.0.0, capture 2026-11-22T01:00:00Z.".to_owned(),
        html: html.map(str::to_owned),
        payload: Value::Null,
        idempotency_key: key.to_owned(),
    }
}

/// Parses a raw message with Python's `email` package (an independent MIME parser): headers and leaf parts.
fn parse(python: &Path, raw: &str) -> Value {
    let script = r#"
import email, email.policy, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
parts = [{"type": p.get_content_type(), "content": p.get_content()} for p in m.walk() if not p.is_multipart()]
print(json.dumps({"subject": str(m["subject"]), "message_id": str(m["message-id"]), "from": str(m["from"]),
    "to": str(m["to"]), "type": m.get_content_type(), "date": str(m["date"]),
    "key": str(m["x-prognos-idempotency-key"]), "parts": parts}))
"#;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn email_arrives_with_text_and_html_parts_subject_and_message_id() {
    let Some(python) = python() else { return };
    let sink = sink(&python);
    let notifier = SmtpNotifier::new(config(sink.port())).unwrap();
    assert_eq!(notifier.channel(), Channel::Email);
    notifier.health().await.expect("connect + NOOP");

    let html = "<p>Wheel <b>W-17</b> scored <b>42</b> (threshold 70).</p>";
    let message = email("Maintenance <tech@depot.example>, oncall@depot.example", "alert-17.email.0", Some(html));
    let sent = notifier.send(&message).await.expect("delivered");
    assert_eq!(sent.provider_id, "<alert-17.email.0@prognos.example>");

    let raw = sink.wait_for(1, Duration::from_secs(10)).await.unwrap().remove(0);
    let parsed = parse(&python, &raw);
    assert_eq!(parsed["subject"], message.subject, "{raw}");
    assert_eq!(parsed["message_id"], sent.provider_id);
    assert_eq!(parsed["key"], "alert-17.email.0");
    assert_eq!(parsed["from"], FROM);
    assert_eq!(parsed["to"], "Maintenance <tech@depot.example>, oncall@depot.example");
    assert_eq!(parsed["type"], "multipart/alternative");
    assert_ne!(parsed["date"], "None");
    let parts = parsed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parsed}");
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[0]["content"].as_str().unwrap().trim_end().replace("\r\n", "\n"), message.text);
    assert_eq!(parts[1]["type"], "text/html");
    assert_eq!(parts[1]["content"].as_str().unwrap().trim_end(), html);

    // A retry of the same notification carries the same Message-ID, so mail clients can fold duplicates.
    let again = notifier.send(&message).await.unwrap();
    assert_eq!(again.provider_id, sent.provider_id);
    let raws = sink.wait_for(2, Duration::from_secs(10)).await.unwrap();
    assert_eq!(parse(&python, &raws[1])["message_id"], sent.provider_id);
}

#[tokio::test]
async fn text_only_email_is_a_single_plain_part() {
    let Some(python) = python() else { return };
    let sink = sink(&python);
    let notifier = SmtpNotifier::new(config(sink.port())).unwrap();
    let message = email("tech@depot.example", "alert 18 / email", None);
    let sent = notifier.send(&message).await.unwrap();
    let parsed = parse(&python, &sink.wait_for(1, Duration::from_secs(10)).await.unwrap()[0]);
    assert_eq!(parsed["type"], "text/plain");
    assert_eq!(parsed["parts"][0]["content"].as_str().unwrap().trim_end().replace("\r\n", "\n"), message.text);
    // A key that is not a valid Message-ID left part is hashed, still deterministically.
    assert_eq!(parsed["message_id"], sent.provider_id);
    assert_eq!(sent.provider_id, notifier.message_id("alert 18 / email"));
    assert!(sent.provider_id.ends_with("@prognos.example>"));
}

#[tokio::test]
async fn smtp_4xx_replies_and_connection_failures_are_transient_5xx_permanent() {
    let Some(python) = python() else { return };
    let sink = sink(&python);
    let notifier = SmtpNotifier::new(config(sink.port())).unwrap();

    let error = notifier.send(&email("fail4xx@depot.example", "k1", None)).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.reason().contains("450"), "{error}");

    let error = notifier.send(&email("fail5xx@depot.example", "k2", None)).await.unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }), "{error}");
    assert!(error.reason().contains("550"), "{error}");

    let error = notifier.send(&email("not an address", "k3", None)).await.unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }), "{error}");
    assert!(sink.messages().is_empty());

    let port = sink.port();
    drop(sink);
    let error = notifier.send(&email("tech@depot.example", "k4", None)).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    let health = notifier.health().await.unwrap_err();
    assert!(health.contains(&port.to_string()), "{health}");
}

#[tokio::test]
async fn smtp_auth_works_and_the_password_never_prints() {
    let Some(python) = python() else { return };
    let password = "smtp-pass-91c2-never-print";
    let sink = SmtpSink::start_with_auth(&python, Path::new(SMTP_SINK_SCRIPT_PATH), "alerts", password)
        .expect("smtp sink starts");

    let mut good = config(sink.port());
    good.username = Some("alerts".to_owned());
    good.password = Some(SecretString::from(password));
    let notifier = SmtpNotifier::new(good.clone()).unwrap();
    notifier.health().await.expect("AUTH + NOOP");
    notifier.send(&email("tech@depot.example", "auth-1", None)).await.expect("delivered after AUTH");
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.unwrap().len(), 1);

    let mut bad = good.clone();
    bad.password = Some(SecretString::from("wrong-password"));
    let refused = SmtpNotifier::new(bad).unwrap();
    let error = refused.send(&email("tech@depot.example", "auth-2", None)).await.unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }), "{error}");
    assert!(error.reason().contains("535"), "{error}");

    let mut anonymous = good.clone();
    anonymous.username = None;
    anonymous.password = None;
    let error =
        SmtpNotifier::new(anonymous).unwrap().send(&email("tech@depot.example", "auth-3", None)).await.unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }), "{error}");

    for text in [format!("{good:?}"), format!("{notifier:?}"), format!("{error} {error:?}")] {
        assert!(!text.contains(password), "password leaked: {text}");
    }
}

/// STARTTLS and implicit TLS never fall back to clear text: against a server without TLS the attempt fails.
#[tokio::test]
async fn tls_modes_refuse_a_server_without_tls() {
    let Some(python) = python() else { return };
    let sink = sink(&python);
    let mut starttls = config(sink.port());
    starttls.security = SmtpSecurity::StartTls;
    let error = SmtpNotifier::new(starttls).unwrap().send(&email("tech@depot.example", "k", None)).await.unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }), "{error}");
    assert!(error.reason().contains("STARTTLS"), "{error}");

    let mut tls = config(sink.port());
    tls.security = SmtpSecurity::Tls;
    tls.timeout_ms = 2_000;
    let error = SmtpNotifier::new(tls).unwrap().send(&email("tech@depot.example", "k", None)).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(sink.messages().is_empty());
}

/// A server that accepts connections and never says a word: the attempt ends at the deadline, as transient.
#[tokio::test]
async fn a_silent_server_times_out_as_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mut config = config(port);
    config.timeout_ms = 400;
    let notifier = SmtpNotifier::new(config).unwrap();
    let started = std::time::Instant::now();
    let error = notifier.send(&email("tech@depot.example", "k", None)).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.reason().contains("400 ms"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(notifier.health().await.unwrap_err().contains("400 ms"));
    held.abort();
}
