//! Alerts end to end: wheels captured below the threshold reach a technician as ONE grouped SMS (at a local
//! Twilio stand-in that validates every request against Twilio's published OpenAPI description) and one email
//! (at a local SMTP server), written to the durable outbox first and marked sent with the provider's id.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prognos_alerts::standins::{SmtpSink, TwilioStandIn, SMTP_SINK_SCRIPT_PATH, TWILIO_OPENAPI_PATH};
use prognos_formats::icon::write_pair;
use prognos_simulate::{capture_stem, simulate, FailureMode, WheelSpec};
use prognos_tests::{python, repo_root, TestApp, VIEWER_TOKEN};
use serde_json::Value;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

fn alerts_table(twilio: &str, smtp_port: u16) -> toml::Table {
    toml::from_str(&format!(
        r#"
tick_ms = 100
[engine]
dashboard_url = "http://prognos.test"
[engine.health]
threshold = 70.0
[engine.route]
name = "maintenance"
group_wait_ms = 4000
escalate_after_s = 0
levels = [[{{ name = "tech", sms = "+15005550006", email = "tech@example.com" }}]]
[twilio]
base_url = "{twilio}"
account_sid = "{ACCOUNT}"
auth_token = "not-a-real-token"
from = "+15005550001"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "prognos@example.com"
[outbox]
poll_interval_ms = 100
"#
    ))
    .unwrap()
}

#[tokio::test]
async fn wheels_below_threshold_give_one_grouped_sms_and_one_email() {
    let twilio = TwilioStandIn::start(Path::new(TWILIO_OPENAPI_PATH)).await.unwrap();
    let smtp = SmtpSink::start(&python(), Path::new(SMTP_SINK_SCRIPT_PATH)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(
        root.join("pipelines/wheels.toml"),
        format!(
            "[pipeline]\nname = \"wheel-cameras\"\nkind = \"wheel-cameras\"\nsite = \"coaster-1\"\nfeature_set = \"wheel-v1\"\n\
             [cameras]\nroot = \"{}\"\ncameras = [\"Cam_01\"]\nrescan_ms = 50\nsettle_ms = 200\n[model]\nname = \"wheel-health\"\n",
            root.join("cameras").display()
        ),
    )
    .unwrap();
    let table = alerts_table(&twilio.base_url(), smtp.port());
    let r2 = root.clone();
    let app = TestApp::spawn_with(&[], move |s| {
        s.models.dir = repo_root().join("models");
        s.models.serve = vec!["wheel-health".into()];
        s.pipelines.disabled = false;
        s.pipelines.dir = r2.join("pipelines");
        s.alerts = table;
    })
    .await;
    let cams = root.join("cameras");
    std::fs::create_dir_all(cams.join("Cam_01")).unwrap();
    for (i, (wheel, failure)) in [
        ("W01", None),
        ("W02", Some((FailureMode::Chunking, 0.9))),
        ("W03", None),
        ("W04", Some((FailureMode::FlatSpot, 0.95))),
    ]
    .into_iter()
    .enumerate()
    {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 11, 0, i as u32).unwrap();
        let mut spec = WheelSpec::healthy(wheel, "Cam_01", at, 300 + i as u64);
        spec.profiles = 600;
        spec.failure = failure;
        write_pair(&capture_stem(&cams, &spec), &simulate(&spec).unwrap()).unwrap();
    }

    let started = Instant::now();
    while twilio.requests().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "no SMS; refused: {:?}", twilio.rejected());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give any (wrong) second message time to arrive, then check there was exactly one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sms = twilio.requests();
    assert_eq!(sms.len(), 1, "one grouped SMS, got {sms:?}");
    assert!(twilio.rejected().is_empty(), "the stand-in refused requests: {:?}", twilio.rejected());
    let body = &sms[0].body;
    assert!(body.contains("W02") && body.contains("W04"), "{body}");
    assert!(!body.contains("W01") && !body.contains("W03"), "{body}");
    assert_eq!(sms[0].to, "+15005550006");
    assert!(prognos_alerts::notify::sms_segments(body) <= 2, "{body}");

    let mail = smtp.wait_for(1, Duration::from_secs(30)).await.unwrap();
    assert!(mail[0].contains("tech@example.com"));
    assert!(mail[0].contains("W02") && mail[0].contains("W04"));
    assert!(mail[0].contains("text/html"), "an HTML part");

    let alerts: Value = app.get("/v1/alerts?state=firing", Some(VIEWER_TOKEN)).await.json().await.unwrap();
    let mut firing: Vec<&str> =
        alerts["alerts"].as_array().unwrap().iter().map(|a| a["asset"].as_str().unwrap()).collect();
    firing.sort();
    assert_eq!(firing, ["W02", "W04"]);
    let started = Instant::now();
    loop {
        let sent: Value = app.get("/v1/notifications?status=sent", Some(VIEWER_TOKEN)).await.json().await.unwrap();
        let sent = sent["notifications"].as_array().unwrap().clone();
        if sent.len() == 2 {
            let sms_row = sent.iter().find(|n| n["channel"] == "sms").expect("the SMS is in the outbox");
            assert!(sms_row["provider_id"].as_str().unwrap().starts_with("SM"), "{sms_row}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "outbox: {sent:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
    twilio.stop().await;
}
