//! Inverters reach people: a real plant fed through the drop folder raises a health alert for each inverter whose
//! newest scored day is below 70, naming the features that pulled it down; a reading outside a range rule raises
//! a range alert; a feed and inverters that go silent raise no-data alerts, which resolve when readings arrive
//! again.
//! Each goes out as an SMS to the Twilio stand-in.

use std::path::Path;
use std::time::{Duration, Instant};

use prognos_alerts::standins::{TwilioStandIn, TWILIO_OPENAPI_PATH};
use prognos_store::{AlertFilter, AlertState, AssetFilter, AssetKind, Store};
use prognos_tests::{drop_folder_under, real_data, repo_root, TestApp, OPERATOR_TOKEN};
use serde_json::json;

/// The shipped Plant 2 pipeline, named `plant2`, with an absolute weather path, its drop folder under `dir`, no
/// MQTT subscription, and a feed expected at least every 2 s.
fn plant_2_pipeline(dir: &Path) -> String {
    let text = std::fs::read_to_string(repo_root().join("pipelines/kaggle-plant-2.toml")).unwrap();
    let (head, rest) = text.split_once("[inverter.mqtt]").unwrap();
    let windows = &rest[rest.find("[inverter.windows]").unwrap()..];
    let weather = real_data("kaggle-solar-plants/Plant_2_Weather_Sensor_Data.csv");
    format!("{head}{windows}")
        .replace("name = \"kaggle-plant-2\"", "name = \"plant2\"")
        .replace("future_tolerance_s = 300", "future_tolerance_s = 300\nexpected_interval_s = 2")
        .replace("../shared/data/real/kaggle-solar-plants/Plant_2_Weather_Sensor_Data.csv", weather.to_str().unwrap())
        .replace("path = \"data/inbox/kaggle-plant-2\"", &drop_folder_under(dir))
}

async fn wait<F, Fut>(what: &str, timeout: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < timeout, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inverter_health_ranges_and_silence_raise_alerts_that_reach_a_phone() {
    let twilio = TwilioStandIn::start(Path::new(TWILIO_OPENAPI_PATH)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::create_dir_all(root.join("inbox")).unwrap();
    let pipeline = plant_2_pipeline(&root);
    assert!(pipeline.contains("expected_interval_s = 2") && !pipeline.contains("[inverter.mqtt]"), "{pipeline}");
    std::fs::write(root.join("pipelines/plant2.toml"), pipeline).unwrap();
    let alerts: toml::Table = toml::from_str(&format!(
        r#"
tick_ms = 100
[engine]
dashboard_url = "http://prognos.test"
[engine.health]
threshold = 70.0
[[engine.ranges]]
metric = "ac_power_w"
max = 2000000.0
[engine.route]
name = "maintenance"
group_wait_ms = 0
escalate_after_s = 0
levels = [[{{ name = "tech", sms = "+15005550006" }}]]
[twilio]
base_url = "{}"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "not-a-real-token"
from = "+15005550001"
[outbox]
poll_interval_ms = 50
"#,
        twilio.base_url()
    ))
    .unwrap();
    let app = TestApp::spawn_with(&[], {
        let root = root.clone();
        move |s| {
            s.models.dir = repo_root().join("models");
            s.models.serve = vec!["inverter-health".into()];
            s.pipelines.disabled = false;
            s.pipelines.dir = root.join("pipelines");
            s.store.url = Some(format!("sqlite://{}", root.join("store.db").display()));
            s.data_dir = root.join("data");
            s.alerts = alerts;
        }
    })
    .await;
    let store = Store::connect(&format!("sqlite://{}", root.join("store.db").display())).await.unwrap();

    // The whole plant through the drop folder.
    let staged = root.join("Plant_2.csv.part");
    std::fs::copy(real_data("kaggle-solar-plants/Plant_2_Generation_Data.csv"), &staged).unwrap();
    std::fs::rename(&staged, root.join("inbox/Plant_2.csv")).unwrap();
    wait("the file archived", Duration::from_secs(120), || async {
        std::fs::read_dir(root.join("archive"))
            .map(|d| d.flatten().any(|e| e.path().extension().is_some_and(|x| x == "csv")))
            .unwrap_or(false)
    })
    .await;

    // Health: exactly the inverters whose newest scored day is below 70 fire, each told by an SMS naming it.
    let inverters = AssetFilter { kind: Some(AssetKind::Inverter), limit: 100, ..Default::default() };
    let latest = store.list_assets(&inverters).await.unwrap();
    assert_eq!(latest.len(), 22);
    let mut low: Vec<String> = latest
        .iter()
        .filter(|a| a.latest.as_ref().is_some_and(|p| p.health_score < 70.0))
        .map(|a| a.asset.id.clone())
        .collect();
    low.sort();
    assert!(!low.is_empty(), "the model flags some real Plant 2 inverter on its last day");
    assert!(low.len() < 22, "and not all of them: {low:?}");
    let health = AlertFilter { rule: Some("health".into()), ..Default::default() };
    wait("a health alert per low inverter", Duration::from_secs(30), || async {
        let a = store.alerts(&health).await.unwrap();
        a.len() == low.len() && a.iter().all(|a| a.last_notified_at.is_some())
    })
    .await;
    let mut fired: Vec<String> = store.alerts(&health).await.unwrap().into_iter().map(|a| a.asset_id).collect();
    fired.sort();
    assert_eq!(fired, low);
    // Inverters that fire together share one SMS, which names as many as fit in two segments and counts the rest
    // ("+N more"): every low inverter is told once, by name or in that count. A message may carry other groups
    // too (no data from the silent feed, which names inverters as well), separated by "; ": only the health
    // group counts.
    // The alert records its notice when the outbox takes it; the stand-in may receive the SMS a moment later.
    wait("the health SMS received", Duration::from_secs(15), || async {
        twilio.requests().iter().any(|m| m.body.contains("below 70"))
    })
    .await;
    let told: Vec<String> = twilio.requests().into_iter().map(|m| m.body).filter(|b| b.contains("below 70")).collect();
    let groups: Vec<&str> = told
        .iter()
        .flat_map(|b| b.split(". Open").next().unwrap_or(b).split(';').filter(|g| g.contains("below 70")))
        .collect();
    for inverter in &low {
        let named = groups.iter().filter(|g| g.contains(inverter.as_str())).count();
        assert!(named <= 1, "{inverter} told twice: {told:#?}");
    }
    let named = low.iter().filter(|i| groups.iter().any(|g| g.contains(i.as_str()))).count();
    let more: usize =
        groups.iter().filter_map(|g| g.split('+').nth(1)?.split(" more").next()?.trim().parse::<usize>().ok()).sum();
    let all: Vec<String> = twilio.requests().into_iter().map(|m| m.body).collect();
    assert!(named > 0, "{told:#?} of {all:#?}");
    assert_eq!(named + more, low.len(), "{told:#?}");
    // Each alert keeps the features that pulled its inverter's score down (a message about one inverter names
    // them; one listing several, as here when they fire together, gives each score).
    for alert in store.alerts(&health).await.unwrap() {
        let drivers = alert.detail["drivers"].as_array().cloned().unwrap_or_default();
        assert!(!drivers.is_empty() && drivers[0]["feature"].is_string(), "{}: {:?}", alert.asset_id, alert.detail);
    }
    let p = store.predictions_for_asset(&low[0], 1).await.unwrap();
    assert!(p[0].explanation.as_ref().is_some_and(|e| !e.is_empty()), "window predictions are explained: {p:?}");

    // Silence: nothing for longer than 2 s is a no-data alert for the feed and for each of its 22 inverters.
    let no_data = AlertFilter { rule: Some("no_data".into()), ..Default::default() };
    let firing = |a: &prognos_store::AlertRecord| a.state == AlertState::Firing;
    wait("the silent feed and inverters alerted", Duration::from_secs(15), || async {
        let a = store.alerts(&no_data).await.unwrap();
        a.iter().any(|a| a.asset_id == "plant2/feed" && firing(a))
            && a.iter().filter(|a| a.asset_id.starts_with("plant2/inverter/") && firing(a)).count() == 22
    })
    .await;

    // A reading above the range rule's maximum (2.5 MW of AC) fires a range alert; the feed is back.
    let reading = json!({"DATE_TIME": "2020-06-17 12:05:00", "PLANT_ID": 4136001, "SOURCE_KEY": "4UPUqMRk7TRMgml",
        "DC_POWER": 2600.0, "AC_POWER": 2500.0, "DAILY_YIELD": 0, "TOTAL_YIELD": 2500000.0});
    let resp = app.post("/v1/ingest/plant2", Some(OPERATOR_TOKEN), reading.to_string()).await;
    assert_eq!(resp.status(), 200);
    let range = AlertFilter { rule: Some("range:ac_power_w".into()), ..Default::default() };
    wait("the range alert told", Duration::from_secs(15), || async {
        store
            .alerts(&range)
            .await
            .unwrap()
            .iter()
            .any(|a| a.asset_id == "4UPUqMRk7TRMgml" && a.last_notified_at.is_some())
    })
    .await;
    // The feed and the inverter that reported are back; the other 21 stay silent.
    wait("the silence of the feed and of that inverter resolved", Duration::from_secs(15), || async {
        let a = store.alerts(&no_data).await.unwrap();
        let back = |source: &str| a.iter().any(|a| a.asset_id == source && a.state == AlertState::Resolved);
        back("plant2/feed") && back("plant2/inverter/4UPUqMRk7TRMgml")
    })
    .await;
    let alerts = store.alerts(&no_data).await.unwrap();
    let still = alerts.iter().filter(|a| a.asset_id.starts_with("plant2/inverter/") && firing(a)).count();
    assert_eq!(still, 21, "the inverters that stayed silent are still alerting");
    // Both were told by SMS (the stand-in may receive one a moment after the alert records its notice).
    wait("the range and no-data SMS received", Duration::from_secs(15), || async {
        let bodies: Vec<String> = twilio.requests().into_iter().map(|m| m.body).collect();
        bodies.iter().any(|b| b.contains("4UPUqMRk7TRMgml") && b.contains("ac_power_w"))
            && bodies.iter().any(|b| b.contains("plant2/feed"))
    })
    .await;
    store.close().await;
    app.stop().await;
    twilio.stop().await;
}
