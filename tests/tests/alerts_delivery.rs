//! Delivery end to end, through the running service: a provider outage (500s, then 429 with Retry-After, then a
//! hang, then accepted messages whose replies are lost, then recovery) ends with every notification delivered
//! exactly once; test-send to a route and the notifiers' health checks through the API.

mod alerts_support;

use std::time::{Duration, Instant};

use alerts_support::{bodies, shot, wait_until, Setup, Stack, TECH};
use prognos_alerts::standins::StandInMode;
use prognos_tests::{OPERATOR_TOKEN, VIEWER_TOKEN};
use serde_json::Value;

/// Compressed outage phases (the shape of a multi-minute outage, in seconds).
const PHASE: Duration = Duration::from_millis(1500);

async fn outbox(stack: &Stack) -> Vec<Value> {
    stack.get("/v1/notifications?limit=1000").await["notifications"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_provider_outage_ends_with_every_notification_delivered_exactly_once() {
    let shots: Vec<_> = (0..3).map(|i| shot(&format!("W1{i}"), i, Some(40.0 + f64::from(i)))).collect();
    let setup = Setup {
        // Backoff caps and the send timeout compressed from minutes to a fraction of a second.
        outbox: "initial_backoff_ms = 100\nmax_backoff_ms = 400\nsend_timeout_ms = 400\nlease_s = 1\n".into(),
        ..Setup::default()
    };
    let stack = Stack::start(&shots, setup).await;
    stack.twilio.set_mode(StandInMode::Fail500);
    for s in &shots {
        stack.capture(s).await;
    }
    for _ in 0..2 {
        let sent = stack.app.post("/v1/alerts/routes/maintenance/test", Some(OPERATOR_TOKEN), "").await;
        assert_eq!(sent.status(), 202);
    }
    tokio::time::sleep(PHASE).await;
    stack.twilio.set_mode(StandInMode::RateLimit { retry_after_s: 1 });
    tokio::time::sleep(PHASE).await;
    stack.twilio.set_mode(StandInMode::Hang);
    tokio::time::sleep(PHASE).await;
    // Twilio takes the message, and the reply never comes back.
    stack.twilio.set_mode(StandInMode::AcceptThenHang);
    wait_until("a message accepted with its reply lost", Duration::from_secs(20), || {
        !stack.twilio.requests().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.twilio.set_mode(StandInMode::Ok);

    let started = Instant::now();
    let rows = loop {
        let rows = outbox(&stack).await;
        if !rows.is_empty() && rows.iter().all(|n| n["status"] == "sent") {
            break rows;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "not all sent: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await; // room for a wrong extra send
    let sms = stack.twilio.requests();
    let counts = bodies(&sms);
    assert!(counts.values().all(|&n| n == 1), "a message was delivered twice: {counts:#?}");
    assert_eq!(sms.len(), rows.len(), "one accepted SMS per notification: {sms:#?} vs {rows:#?}");
    for row in &rows {
        let sid = row["provider_id"].as_str().unwrap();
        let m = sms.iter().find(|m| m.sid == sid).unwrap_or_else(|| panic!("{sid} was never accepted: {row:#}"));
        assert_eq!(m.body, row["text"].as_str().unwrap());
    }
    let w: String = rows.iter().filter_map(|n| n["text"].as_str()).collect();
    assert!(w.contains("W10") && w.contains("W11") && w.contains("W12") && w.contains("[TEST]"), "{w}");
    // The outage really was one: 500s, 429s, unanswered requests, and retries.
    let refused = stack.twilio.rejected();
    assert!(refused.iter().any(|(s, _)| *s == 500) && refused.iter().any(|(s, _)| *s == 429), "{refused:?}");
    assert!(stack.twilio.create_attempts() > sms.len() + 4, "attempts: {}", stack.twilio.create_attempts());
    assert!(rows.iter().any(|n| n["attempts"].as_i64().unwrap() > 3));
    stack.stop().await;
}

#[tokio::test]
async fn test_send_reaches_every_contact_and_notifier_health_is_reported() {
    let setup = Setup {
        levels: format!(
            r#"[[{{ name = "tech", sms = "{TECH}" }}], [{{ name = "lead", sms = "+15005550007", webhook = false }}]]"#
        ),
        ..Setup::default()
    };
    let stack = Stack::start(&[shot("W20", 0, Some(90.0))], setup).await;
    let path = "/v1/alerts/routes/maintenance/test";
    assert_eq!(stack.app.post(path, Some(VIEWER_TOKEN), "").await.status(), 403, "viewers may not test-send");
    let unknown = stack.app.post("/v1/alerts/routes/nope/test", Some(OPERATOR_TOKEN), "").await;
    assert_eq!(unknown.status(), 404);
    let answer = stack.app.post(path, Some(OPERATOR_TOKEN), "").await;
    assert_eq!(answer.status(), 202);
    let answer: Value = answer.json().await.unwrap();
    let ids: Vec<i64> = answer["notification_ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 2, "one per contact and channel: {answer:#}");
    let sms = stack.wait_sms(2, Duration::from_secs(20)).await;
    let mut to: Vec<&str> = sms.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(to, [TECH, "+15005550007"]);
    assert!(sms.iter().all(|m| m.body.starts_with("[TEST]") && m.body.contains("operator")), "{sms:#?}");
    let started = Instant::now();
    loop {
        let rows = outbox(&stack).await;
        if ids.iter().all(|id| rows.iter().any(|n| n["id"] == *id && n["status"] == "sent")) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "test messages not recorded as sent: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let health = stack.app.get("/v1/alerts/notifiers", Some(VIEWER_TOKEN)).await;
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["notifiers"][0]["channel"], "sms");
    assert_eq!(health["notifiers"][0]["healthy"], true, "{health:#}");
    stack.twilio.set_mode(StandInMode::Fail500);
    let down = stack.app.get("/v1/alerts/notifiers", Some(VIEWER_TOKEN)).await;
    assert_eq!(down.status(), 503);
    let down: Value = down.json().await.unwrap();
    assert_eq!(down["notifiers"][0]["healthy"], false);
    assert!(down["notifiers"][0]["error"].as_str().unwrap().contains("500"), "{down:#}");
    assert!(!down.to_string().contains("not-a-real-token"), "no secret in the answer");
    stack.stop().await;
}
