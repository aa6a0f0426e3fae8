//! Two `prognos serve` processes on one PostgreSQL database, watching the same camera folders and sending
//! through the same Twilio stand-in: they share the captures (each scored and stored once, none quarantined by
//! a race), and when one is killed with `kill -9` part way, the other finishes its work: every capture stored,
//! every failing wheel alerted and told by exactly one SMS.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prognos_alerts::standins::{TwilioStandIn, TWILIO_OPENAPI_PATH};
use prognos_formats::icon::write_pair;
use prognos_simulate::{capture_stem, simulate, FailureMode, WheelSpec};
use prognos_store::testing::TestDb;
use prognos_store::{AlertFilter, NotificationFilter, NotificationStatus, Store};
use support::serve;

const WHEELS: usize = 24;

/// Captures this replica has scored, from its `/metrics`, by outcome.
async fn outcomes(port: u16) -> HashMap<String, f64> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| l.starts_with("prognos_captures_total{")) {
        let outcome = line.split("outcome=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        *out.entry(outcome.to_string()).or_default() += value;
    }
    out
}

fn write_capture(cameras: &Path, i: usize) {
    let camera = if i.is_multiple_of(2) { "Cam_01" } else { "Cam_02" };
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 14, 0, 0).unwrap() + chrono::Duration::seconds(i as i64);
    let mut spec = WheelSpec::healthy(&format!("W{i:02}"), camera, at, 7700 + i as u64);
    spec.profiles = 600;
    if i % 2 == 1 {
        spec.failure = Some((FailureMode::FlatSpot, 0.95));
    }
    write_pair(&capture_stem(cameras, &spec), &simulate(&spec).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_work_and_one_finishes_what_a_killed_one_left() {
    let Some(db) = TestDb::postgres().await else { return };
    let twilio = TwilioStandIn::start(Path::new(TWILIO_OPENAPI_PATH)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for cam in ["Cam_01", "Cam_02"] {
        std::fs::create_dir_all(root.join("cameras").join(cam)).unwrap();
    }
    let pipeline = format!(
        "[pipeline]\nname = \"wheel-cameras\"\nkind = \"wheel-cameras\"\nsite = \"park\"\nfeature_set = \"wheel-v1\"\n\
         [cameras]\nroot = \"{root}/cameras\"\ncameras = [\"Cam_01\", \"Cam_02\"]\nrescan_ms = 50\nsettle_ms = 100\n\
         archive_dir = \"{root}/archive\"\nquarantine_dir = \"{root}/quarantine\"\n[model]\nname = \"wheel-health\"\n",
        root = root.display()
    );
    let config = format!(
        r#"[store]
url = "{url}"
[pipelines]
claim_lease_s = 2
[alerts]
tick_ms = 50
[alerts.engine.route]
name = "maintenance"
group_wait_ms = 0
escalate_after_s = 0
levels = [[{{ name = "tech", sms = "+15005550006" }}]]
[alerts.twilio]
base_url = "{twilio}"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "not-a-real-token"
from = "+15005550001"
[alerts.outbox]
poll_interval_ms = 50
send_timeout_ms = 1000
lease_s = 2
"#,
        url = db.url,
        twilio = twilio.base_url()
    );
    // Each replica has its own folder (data, tokens); the cameras, archive and database are shared.
    for replica in ["a", "b"] {
        std::fs::create_dir_all(root.join(replica).join("pipelines")).unwrap();
        std::fs::write(root.join(replica).join("pipelines/wheels.toml"), &pipeline).unwrap();
        std::fs::write(root.join(replica).join("prognos.toml"), &config).unwrap();
    }
    let (mut a, a_port) = serve(&root.join("a")).await;
    let (mut b, b_port) = serve(&root.join("b")).await;
    let store = Store::connect(&db.url).await.unwrap();

    // The first half arrives while both run; A is killed as soon as it has scored some.
    for i in 0..WHEELS / 2 {
        write_capture(&root.join("cameras"), i);
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    let started = Instant::now();
    let (a_scored, a_outcomes) = loop {
        let a_outcomes = outcomes(a_port).await;
        let scored = a_outcomes.get("scored").copied().unwrap_or(0.0);
        if scored >= 2.0 {
            break (scored, a_outcomes);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "replica A scored nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    a.kill().unwrap();
    a.wait().unwrap();
    // The second half arrives with B alone.
    for i in WHEELS / 2..WHEELS {
        write_capture(&root.join("cameras"), i);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let failing = WHEELS / 2;
    let started = Instant::now();
    loop {
        let counts = store.notification_counts().await.unwrap();
        let captures = store.count_captures().await.unwrap();
        let alerts = store.alerts(&AlertFilter::default()).await.unwrap();
        if captures == WHEELS as i64
            && counts.pending + counts.sending == 0
            && alerts.len() == failing
            && alerts.iter().all(|a| a.last_notified_at.is_some())
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "B did not finish: {captures} captures, {} alerts, {counts:?}",
            alerts.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b_outcomes = outcomes(b_port).await;
    b.kill().unwrap();
    b.wait().unwrap();

    // Each capture stored and scored once; none lost to a race between the replicas.
    assert_eq!(store.count_captures().await.unwrap(), WHEELS as i64);
    assert_eq!(store.count_predictions().await.unwrap(), WHEELS as i64, "one prediction per capture");
    let quarantined: Vec<_> = walk(&root.join("quarantine"));
    assert!(quarantined.is_empty(), "a replica quarantined a capture the other was handling: {quarantined:?}");
    assert_eq!(b_outcomes.get("quarantined").copied().unwrap_or(0.0), 0.0, "{b_outcomes:?}");
    assert!(walk(&root.join("cameras")).is_empty(), "every pair left the camera folders");
    assert_eq!(walk(&root.join("archive")).len(), 2 * WHEELS, "both halves of every pair archived");
    let b_scored = b_outcomes.get("scored").copied().unwrap_or(0.0);
    // A replica that reaches a pair the other has (claimed, stored or archived) leaves it: neither featurizes
    // and scores it again only to find it stored. Only the pair A held when it was killed may be met again.
    let duplicates = |o: &HashMap<String, f64>| o.get("duplicate").copied().unwrap_or(0.0);
    eprintln!("replica A at the kill: {a_outcomes:?}; replica B: {b_outcomes:?}");
    assert_eq!(duplicates(&a_outcomes), 0.0, "A scored a capture B had: {a_outcomes:?}");
    assert!(duplicates(&b_outcomes) <= 1.0, "B scored captures A had: {b_outcomes:?}");
    assert!(a_scored >= 2.0 && b_scored >= (WHEELS / 2) as f64, "A scored {a_scored}, B {b_scored}: shared work");

    // Every failing wheel told once, by one SMS that names it.
    let sms = twilio.requests();
    assert_eq!(sms.len(), failing, "{:#?}", sms.iter().map(|m| &m.body).collect::<Vec<_>>());
    for i in (1..WHEELS).step_by(2) {
        let wheel = format!("W{i:02}");
        assert_eq!(sms.iter().filter(|m| m.body.contains(&wheel)).count(), 1, "{wheel}: {sms:#?}");
    }
    let rows = store.notifications(&NotificationFilter::default()).await.unwrap();
    assert!(rows.iter().all(|n| n.status == NotificationStatus::Sent), "{rows:#?}");
    store.close().await;
    twilio.stop().await;
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
