//! Alert rules end to end, through the running service and a real camera folder: flapping scores give one
//! alert (hysteresis), a silence made through the API suppresses, escalation fires when nobody acknowledges and
//! stops when someone does, a camera that stops writing raises a no-data alert that resolves when files resume,
//! and a model that outputs NaN gets the capture quarantined instead of retried forever.

mod alerts_support;

use std::time::Duration;

use alerts_support::{shot, wait_until, Setup, Stack, LEAD, TECH};
use chrono::Utc;
use prognos_tests::OPERATOR_TOKEN;
use serde_json::json;

#[tokio::test]
async fn scores_wavering_around_70_give_one_alert_and_one_resolution() {
    // Below 70, then inside the hysteresis margin (70..75), back and forth; then clearly healthy.
    let targets = [65.0, 72.0, 66.0, 73.5, 64.0, 72.5, 68.0, 74.0, 85.0];
    let shots: Vec<_> = targets.iter().enumerate().map(|(i, t)| shot("W01", i as u32, Some(*t))).collect();
    let stack = Stack::start(&shots, Setup::default()).await;
    for s in &shots {
        stack.capture(s).await;
    }
    wait_until("the resolution SMS", Duration::from_secs(20), || {
        stack.twilio.requests().iter().any(|m| m.body.contains("RESOLVED"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alerts = stack.alerts_of("W01").await;
    assert_eq!(alerts.len(), 1, "one alert for the whole episode: {alerts:#?}");
    assert_eq!(alerts[0]["state"], "resolved");
    let sms = stack.sms_to(TECH);
    let fired: Vec<_> = sms.iter().filter(|m| m.body.contains("ALERT")).collect();
    let resolved: Vec<_> = sms.iter().filter(|m| m.body.contains("RESOLVED")).collect();
    assert_eq!((fired.len(), resolved.len(), sms.len()), (1, 1, 2), "{sms:#?}");
    assert!(fired[0].body.contains("W01"), "{}", fired[0].body);
    stack.stop().await;
}

#[tokio::test]
async fn a_silence_created_through_the_api_suppresses_notifications() {
    let shots = vec![shot("W02", 0, Some(40.0)), shot("W03", 1, Some(41.0))];
    let stack = Stack::start(&shots, Setup::default()).await;
    let until = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({"asset": "W02", "ends_at": until, "reason": "tread replacement"}).to_string();
    let created = stack.app.post("/v1/silences", Some(OPERATOR_TOKEN), body).await;
    assert_eq!(created.status(), 201);

    stack.capture(&shots[0]).await; // silenced
    stack.capture(&shots[1]).await; // not silenced
    stack.wait_sms(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sms = stack.twilio.requests();
    assert_eq!(sms.len(), 1, "{sms:#?}");
    assert!(sms[0].body.contains("W03") && !sms[0].body.contains("W02"), "{}", sms[0].body);
    // The silenced alert is still recorded.
    let w02 = stack.alerts_of("W02").await;
    assert_eq!(w02.len(), 1);
    assert_eq!(w02[0]["state"], "firing");
    let notified: serde_json::Value = stack.get(&format!("/v1/notifications?alert={}", w02[0]["id"])).await;
    assert_eq!(notified["notifications"].as_array().unwrap().len(), 0, "nothing enqueued for a silenced alert");
    stack.stop().await;
}

#[tokio::test]
async fn escalation_fires_when_unacknowledged_and_stops_when_acknowledged() {
    let shots = vec![shot("W04", 0, Some(30.0)), shot("W05", 1, Some(31.0))];
    let setup = Setup {
        escalate_after_s: 4,
        levels: format!(r#"[[{{ name = "tech", sms = "{TECH}" }}], [{{ name = "lead", sms = "{LEAD}" }}]]"#),
        ..Setup::default()
    };
    let stack = Stack::start(&shots, setup).await;
    stack.capture(&shots[0]).await;
    stack.capture(&shots[1]).await;
    wait_until("the technician to be told about both wheels", Duration::from_secs(20), || {
        let text: String = stack.sms_to(TECH).iter().map(|m| m.body.clone()).collect();
        text.contains("W04") && text.contains("W05")
    })
    .await;
    // The technician takes W04; nobody takes W05.
    let w04 = stack.alerts_of("W04").await;
    let ack = stack.app.post(&format!("/v1/alerts/{}/ack", w04[0]["id"]), Some(OPERATOR_TOKEN), "").await;
    assert_eq!(ack.status(), 200);
    wait_until("the escalation to the lead", Duration::from_secs(20), || !stack.sms_to(LEAD).is_empty()).await;
    // Long enough for a (wrong) escalation of W04 too.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let lead = stack.sms_to(LEAD);
    assert!(lead.iter().any(|m| m.body.contains("W05") && m.body.contains("ESCALATED")), "{lead:#?}");
    assert!(lead.iter().all(|m| !m.body.contains("W04")), "W04 was acknowledged: {lead:#?}");
    let w05 = stack.alerts_of("W05").await;
    assert_eq!(w05[0]["escalation_level"], 1);
    assert_eq!(stack.alerts_of("W04").await[0]["escalation_level"], 0);
    stack.stop().await;
}

#[tokio::test]
async fn a_camera_that_stops_writing_raises_no_data_and_resolves_when_files_resume() {
    let shots = vec![shot("W06", 0, Some(90.0)), shot("W06", 1, Some(91.0))];
    let setup = Setup { expected_interval_s: 1, ..Setup::default() };
    let stack = Stack::start(&shots, setup).await;
    stack.capture(&shots[0]).await;
    let source = "wheel-cameras/Cam_01";
    // Files stopped after the first capture: a no-data alert that has seen data before fires.
    let started = std::time::Instant::now();
    let alert = loop {
        let alerts = stack.alerts_of(source).await;
        if let Some(a) = alerts.iter().find(|a| a["state"] == "firing" && !a["detail"]["last_seen"].is_null()) {
            break a.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no no-data alert: {alerts:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    wait_until("the no-data SMS", Duration::from_secs(20), || {
        stack.twilio.requests().iter().any(|m| m.body.contains("no data from wheel-cameras/Cam_01"))
    })
    .await;
    // Files resume.
    stack.capture(&shots[1]).await;
    let started = std::time::Instant::now();
    loop {
        let alerts = stack.alerts_of(source).await;
        let this = alerts.iter().find(|a| a["id"] == alert["id"]).unwrap();
        if this["state"] == "resolved" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not resolved: {this:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_until("the resolution SMS", Duration::from_secs(20), || {
        stack.twilio.requests().iter().any(|m| m.body.contains("data again from wheel-cameras/Cam_01"))
    })
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn a_model_that_outputs_nan_gets_the_capture_quarantined_not_retried_forever() {
    let shots = vec![shot("W07", 0, None), shot("W08", 1, Some(88.0))];
    let stack = Stack::start(&shots, Setup::default()).await;
    stack.capture(&shots[0]).await; // returns once the pair left the camera folder
    stack.capture(&shots[1]).await;
    let quarantine = stack.app.dir.path().join("data/quarantine/wheel-cameras/Cam_01");
    let reasons: Vec<String> = std::fs::read_dir(&quarantine)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "reason"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("non-finite") && reasons[0].contains("wheel-health"), "{}", reasons[0]);
    assert_eq!(stack.store.count_predictions().await.unwrap(), 1, "the next capture was scored");
    assert_eq!(stack.store.count_quarantine().await.unwrap(), 1);
    stack.stop().await;
}
