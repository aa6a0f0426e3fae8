//! `kill -9` of `prognos serve` while it is sending alerts, right after the Twilio stand-in accepted an SMS and
//! before the reply reached the service; then a restart: every alert is told, and no SMS is sent twice (the
//! stand-in counts every accepted body).

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prognos_alerts::standins::{StandInMode, TwilioStandIn, TWILIO_OPENAPI_PATH};
use prognos_formats::icon::write_pair;
use prognos_simulate::{capture_stem, simulate, FailureMode, WheelSpec};
use prognos_store::{AlertFilter, NotificationFilter, NotificationStatus, Store};
use support::serve;

const WHEELS: usize = 8;

#[tokio::test]
async fn kill_dash_nine_while_sending_loses_no_alert_and_sends_no_sms_twice() {
    let twilio = TwilioStandIn::start(Path::new(TWILIO_OPENAPI_PATH)).await.unwrap();
    // Twilio takes each message at once but answers late: a kill lands after acceptance, before the record.
    twilio.set_mode(StandInMode::AcceptSlowly { delay_ms: 400 });
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(
        root.join("pipelines/wheels.toml"),
        "[pipeline]\nname = \"wheel-cameras\"\nkind = \"wheel-cameras\"\nsite = \"t\"\nfeature_set = \"wheel-v1\"\n\
         [cameras]\nroot = \"cameras\"\ncameras = [\"Cam_01\"]\nrescan_ms = 50\nsettle_ms = 100\n\
         [model]\nname = \"wheel-health\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("prognos.toml"),
        format!(
            r#"[alerts]
tick_ms = 50
[alerts.engine.route]
name = "maintenance"
group_wait_ms = 0
escalate_after_s = 0
levels = [[{{ name = "tech", sms = "+15005550006" }}]]
[alerts.twilio]
base_url = "{}"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "not-a-real-token"
from = "+15005550001"
[alerts.outbox]
poll_interval_ms = 50
concurrency = 1
send_timeout_ms = 1000
lease_s = 2
"#,
            twilio.base_url()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("cameras/Cam_01")).unwrap();
    for i in 0..WHEELS {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 13, 0, 0).unwrap() + chrono::Duration::seconds(i as i64);
        let mut spec = WheelSpec::healthy(&format!("W{i:02}"), "Cam_01", at, 9100 + i as u64);
        spec.profiles = 600;
        spec.failure = Some((FailureMode::FlatSpot, 0.95));
        write_pair(&capture_stem(&root.join("cameras"), &spec), &simulate(&spec).unwrap()).unwrap();
    }
    let url = format!("sqlite://{}", root.join("data/prognos.db").display());

    let (mut first, _) = serve(root).await;
    let started = Instant::now();
    while twilio.requests().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "no SMS before the kill: {:?}", twilio.rejected());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill().unwrap(); // SIGKILL, while the stand-in still holds the reply
    first.wait().unwrap();
    let store = Store::connect(&url).await.unwrap();
    let accepted_at_kill = twilio.requests();
    let sent_at_kill = store
        .notifications(&NotificationFilter { status: Some(NotificationStatus::Sent), ..Default::default() })
        .await
        .unwrap();
    assert!(
        accepted_at_kill.iter().any(|m| !sent_at_kill.iter().any(|n| n.provider_id.as_deref() == Some(&m.sid))),
        "the kill should land between acceptance and record"
    );

    twilio.set_mode(StandInMode::Ok);
    let (mut second, _) = serve(root).await;
    let started = Instant::now();
    loop {
        let counts = store.notification_counts().await.unwrap();
        let captures = store.count_captures().await.unwrap();
        if captures == WHEELS as i64 && counts.pending + counts.sending == 0 && counts.sent > 0 {
            // Every failing wheel fired and was told.
            let alerts = store.alerts(&AlertFilter::default()).await.unwrap();
            if alerts.len() == WHEELS && alerts.iter().all(|a| a.last_notified_at.is_some()) {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(90), "after restart: {counts:?}, {captures} captures");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.kill().unwrap();
    second.wait().unwrap();

    let sms = twilio.requests();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for m in &sms {
        *counts.entry(m.body.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|&n| n == 1), "an SMS was sent twice: {counts:#?}");
    let rows = store.notifications(&NotificationFilter::default()).await.unwrap();
    assert!(rows.iter().all(|n| n.status == NotificationStatus::Sent), "{rows:#?}");
    assert_eq!(rows.len(), sms.len(), "one accepted SMS per notification");
    for n in &rows {
        let m = sms.iter().find(|m| Some(m.sid.as_str()) == n.provider_id.as_deref());
        assert_eq!(m.map(|m| m.body.as_str()), Some(n.text.as_str()), "notification {} recorded another SMS", n.id);
    }
    for alert in store.alerts(&AlertFilter::default()).await.unwrap() {
        let filter = NotificationFilter { alert_id: Some(alert.id), ..Default::default() };
        let told = store.notifications(&filter).await.unwrap();
        assert!(!told.is_empty(), "alert {} ({}) was never told", alert.id, alert.asset_id);
    }
    twilio.stop().await;
}
