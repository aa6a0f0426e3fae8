//! Input drift end to end, through the running service with the shipped `wheel-health` 1.1.0 and its card's
//! training distribution (its healthy training rows): healthy rows from the held-out simulator seeds keep every
//! feature's PSI low, report `ok` and raise nothing; the same rows with `intensity_mean` shifted (a recalibrated camera) raise
//! the PSI of that feature in `/metrics` and in `GET /v1/models/{name}/drift`, and fire one drift alert that
//! reaches the Twilio stand-in naming the model and the feature. A card without the section reports `unknown`.

use std::path::Path;
use std::time::{Duration, Instant};

use prognos_alerts::standins::{TwilioStandIn, TWILIO_OPENAPI_PATH};
use prognos_tests::{repo_root, TestApp, ADMIN_TOKEN, VIEWER_TOKEN};
use serde_json::{json, Value};

const TECH: &str = "+15005550006";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const ROWS: usize = 400;

/// Copies the shipped model under another name (`keep_distribution: false` drops the card's section).
fn install(registry: &Path, name: &str, keep_distribution: bool) {
    let from = repo_root().join("models/wheel-health/1.1.0");
    let to = registry.join(name).join("1.1.0");
    std::fs::create_dir_all(&to).unwrap();
    std::fs::copy(from.join("model.onnx"), to.join("model.onnx")).unwrap();
    let mut card = std::fs::read_to_string(from.join("card.toml")).unwrap();
    card = card.replacen("name = \"wheel-health\"", &format!("name = \"{name}\""), 1);
    if !keep_distribution {
        let at = card.find("[training_distribution]").expect("the shipped card has the section");
        card.truncate(at);
    }
    std::fs::write(to.join("card.toml"), card).unwrap();
}

/// The first `n` healthy held-out rows (simulator seeds the model was not trained on), in card feature order.
fn holdout_rows(features: &[String], n: usize) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for file in ["holdout.csv", "holdout-seed3.csv"] {
        let text = std::fs::read_to_string(repo_root().join("training-data/wheels").join(file)).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let label = header.iter().position(|h| *h == "label").unwrap();
        let cols: Vec<usize> = features.iter().map(|f| header.iter().position(|h| h == f).unwrap()).collect();
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            if cells[label] == "healthy" {
                out.push(cols.iter().map(|&c| cells[c].parse::<f64>().unwrap()).collect());
            }
        }
    }
    assert!(out.len() >= n, "{} healthy held-out rows", out.len());
    out.truncate(n);
    out
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let r = app.get(path, Some(VIEWER_TOKEN)).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The gauge `prognos_model_feature_psi` of one model and feature in `/metrics`.
async fn psi_metric(app: &TestApp, model: &str, feature: &str) -> Option<f64> {
    let text = app.get("/metrics", None).await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("prognos_model_feature_psi{"))
        .find(|l| l.contains(&format!("model=\"{model}\"")) && l.contains(&format!("feature=\"{feature}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn shifted_inputs_raise_the_drift_metric_the_api_value_and_an_alert_and_training_like_inputs_do_not() {
    let twilio = TwilioStandIn::start(Path::new(TWILIO_OPENAPI_PATH)).await.unwrap();
    let alerts: toml::Table = toml::from_str(&format!(
        r#"
tick_ms = 50
[engine]
dashboard_url = "http://prognos.test"
[engine.drift]
threshold = 0.25
[engine.route]
name = "data-science"
group_wait_ms = 0
levels = [[{{ name = "ds", sms = "{TECH}" }}]]
[twilio]
base_url = "{}"
account_sid = "{ACCOUNT}"
auth_token = "not-a-real-token"
from = "+15005550001"
[outbox]
poll_interval_ms = 50
"#,
        twilio.base_url()
    ))
    .unwrap();
    let app = TestApp::spawn_with(&[], |s| {
        install(&s.models.dir, "wheel-steady", true);
        install(&s.models.dir, "wheel-shifted", true);
        install(&s.models.dir, "wheel-plain", false);
        s.models.drift_window_rows = ROWS;
        s.models.drift_min_rows = 200;
        s.models.drift_check_ms = 100;
        s.alerts = alerts;
    })
    .await;
    let models = json_of(&app, "/v1/models").await;
    let features: Vec<String> = serde_json::from_value(models["models"][0]["features"].clone()).unwrap();
    let shift_at = features.iter().position(|f| f == "intensity_mean").unwrap();
    let rows = holdout_rows(&features, ROWS);
    let shifted: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r[shift_at] += 40.0; // far above the training maximum of the feature
            r
        })
        .collect();

    // Before enough rows: collecting, no values.
    let early = json_of(&app, "/v1/models/wheel-steady/drift").await;
    assert_eq!(early["status"], "collecting", "{early}");
    assert_eq!(early["report"]["features"].as_array().unwrap().len(), 0);

    for (model, batch) in [("wheel-steady", &rows), ("wheel-shifted", &shifted), ("wheel-plain", &rows)] {
        for chunk in batch.chunks(100) {
            let r =
                app.post(&format!("/v1/score/{model}"), Some(ADMIN_TOKEN), json!({"rows": chunk}).to_string()).await;
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    }

    let steady = json_of(&app, "/v1/models/wheel-steady/drift").await;
    assert_eq!(steady["status"], "ok", "{steady}");
    assert_eq!(steady["report"]["rows"], ROWS);
    assert!(steady["max_psi"].as_f64().unwrap() < 0.15, "healthy held-out rows are not drift: {steady}");
    assert_eq!(steady["report"]["features"].as_array().unwrap().len(), features.len());

    let drifted = json_of(&app, "/v1/models/wheel-shifted/drift").await;
    assert_eq!(drifted["status"], "drifting", "{drifted}");
    assert_eq!(drifted["worst_feature"], "intensity_mean", "{drifted}");
    let psi = drifted["max_psi"].as_f64().unwrap();
    assert!(psi > 5.0, "every row in the top bin against 10%: {psi}");
    let others = drifted["report"]["features"].as_array().unwrap();
    assert!(
        others.iter().filter(|f| f["feature"] != "intensity_mean").all(|f| f["psi"].as_f64().unwrap() < 0.15),
        "only the shifted feature drifts: {drifted}"
    );

    let plain = json_of(&app, "/v1/models/wheel-plain/drift").await;
    assert_eq!(plain["status"], "unknown", "a card without the section: {plain}");
    assert!(plain["report"].is_null());
    assert_eq!(app.get("/v1/models/nope/drift", Some(VIEWER_TOKEN)).await.status(), 404);

    eventually("the PSI gauges in /metrics", Duration::from_secs(10), || async {
        let shifted = psi_metric(&app, "wheel-shifted", "intensity_mean").await;
        let steady = psi_metric(&app, "wheel-steady", "intensity_mean").await;
        matches!((shifted, steady), (Some(a), Some(b)) if a > 5.0 && b < 0.15)
    })
    .await;

    eventually("the drift SMS", Duration::from_secs(20), || async { !twilio.requests().is_empty() }).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let sms = twilio.requests();
    assert_eq!(sms.len(), 1, "one alert, for the shifted model only: {sms:#?}");
    assert!(
        sms[0].body.contains("ALERT model wheel-shifted inputs drift: PSI")
            && sms[0].body.contains("on intensity_mean (above 0.25)")
            && sms[0].body.contains("http://prognos.test/models/wheel-shifted"),
        "{}",
        sms[0].body
    );
    let fired = json_of(&app, "/v1/alerts?asset=wheel-shifted").await;
    let fired = fired["alerts"].as_array().unwrap();
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!((fired[0]["rule"].as_str(), fired[0]["state"].as_str()), (Some("drift"), Some("firing")));
    assert_eq!(fired[0]["detail"]["feature"], "intensity_mean");
    for quiet in ["wheel-steady", "wheel-plain"] {
        let none = json_of(&app, &format!("/v1/alerts?asset={quiet}")).await;
        assert_eq!(none["alerts"].as_array().unwrap().len(), 0, "{quiet}: {none}");
    }

    // The dashboard: the model page lists the shifted feature first, flagged; the fleet's table says drifting.
    let session = app.dashboard_session().await;
    let page = |path: &'static str| {
        let session = &session;
        async move { session.page(path).await.1 }
    };
    let model_page = page("/models/wheel-shifted").await;
    let table = &model_page[model_page.find("id=\"drift\"").expect("the drift table")..];
    let first_row = table.find("data-feature=").map(|i| &table[i..]).unwrap();
    assert!(first_row.starts_with("data-feature=\"intensity_mean\""), "worst first: {first_row:.200}");
    assert!(model_page.contains("<span class=\"bad\">drifting</span>"), "{model_page}");
    let steady_page = page("/models/wheel-steady").await;
    assert!(steady_page.contains("<span class=\"ok\">ok</span>"), "{steady_page}");
    assert!(page("/models/wheel-plain").await.contains("drift is unknown"));
    let fleet = page("/fleet").await;
    let row = &fleet[fleet.find("data-model=\"wheel-shifted\"").expect("fleet's model table")..];
    assert!(row[..row.find("</tr>").unwrap()].contains("drifting"), "{row:.300}");

    // Back to training-like inputs: the window fills with them and the alert resolves.
    for chunk in rows.chunks(100) {
        let r = app.post("/v1/score/wheel-shifted", Some(ADMIN_TOKEN), json!({"rows": chunk}).to_string()).await;
        assert_eq!(r.status(), 200);
    }
    eventually("the drift alert to resolve", Duration::from_secs(20), || async {
        let a = json_of(&app, "/v1/alerts?asset=wheel-shifted").await;
        a["alerts"][0]["state"] == "resolved"
    })
    .await;
    let back = json_of(&app, "/v1/models/wheel-shifted/drift").await;
    assert_eq!(back["status"], "ok", "{back}");

    app.stop().await;
    twilio.stop().await;
}
