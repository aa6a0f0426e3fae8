//! Model operations against the running service, under a steady scoring load that must never see a failed
//! request: hot swap by upload, by a folder renamed into place and by reload; refused uploads; activate, roll
//! back, shadow and promote; the chosen version kept across a restart; and the feedback loop "label, export,
//! retrain, upload, shadow, promote, roll back" with the notebooks-export training script.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prognos_server::model_ops::export::{export, ExportOptions};
use prognos_store::{FeatureValues, NewCapture, NewPrediction, Store};
use prognos_tests::{python, repo_root, TestApp, ADMIN_TOKEN, OPERATOR_TOKEN, VIEWER_TOKEN};
use serde_json::{json, Value};

const MODEL: &str = "wheel-health";

/// Copies the committed wheel model into `models_root` as `version` (same graph, card renamed).
fn install_copy(models_root: &Path, version: &str) -> PathBuf {
    let from = repo_root().join("models/wheel-health/1.0.0");
    let to = models_root.join(MODEL).join(version);
    std::fs::create_dir_all(&to).unwrap();
    std::fs::copy(from.join("model.onnx"), to.join("model.onnx")).unwrap();
    std::fs::write(to.join("card.toml"), card_text(version)).unwrap();
    to
}

/// The committed card with another version.
fn card_text(version: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("models/wheel-health/1.0.0/card.toml")).unwrap();
    let mut card: toml::Table = toml::from_str(&text).unwrap();
    card.insert("version".into(), toml::Value::String(version.into()));
    toml::to_string(&card).unwrap()
}

/// A multipart/form-data body with the parts `card` and `model`.
fn multipart(card: &str, model: &[u8]) -> (String, Vec<u8>) {
    let boundary = "prognos-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file, bytes) in [("card", "card.toml", card.as_bytes()), ("model", "model.onnx", model)] {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n").bytes(),
        );
        body.extend(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, token: &str, card: &str, model: &[u8], mode: &str) -> reqwest::Response {
    let (content_type, body) = multipart(card, model);
    app.client
        .post(format!("{}/v1/models/{MODEL}/versions?mode={mode}", app.address))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    json_of(app.post(path, Some(ADMIN_TOKEN), body.to_string()).await).await
}

async fn active(app: &TestApp) -> Option<String> {
    let (_, v) = json_of(app.get(&format!("/v1/models/{MODEL}/versions"), Some(VIEWER_TOKEN)).await).await;
    v["active"].as_str().map(str::to_owned)
}

/// One training-data row: (feature name, value) pairs, label, severity, wheel, capture time.
type CsvRow = (Vec<(String, f64)>, String, f64, String, DateTime<Utc>);

/// Feature rows (as JSON objects) from a training-data CSV, with their labels.
fn csv_rows(path: &Path, limit: usize) -> Vec<CsvRow> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let features = &header[4..header.len() - 2];
    lines
        .take(limit)
        .map(|line| {
            let r: Vec<&str> = line.split(',').collect();
            let values = features.iter().enumerate().map(|(i, f)| (f.to_string(), r[i + 4].parse().unwrap())).collect();
            let n = r.len();
            (values, r[n - 2].to_string(), r[n - 1].parse().unwrap(), r[3].to_string(), r[1].parse().unwrap())
        })
        .collect()
}

/// Concurrent clients scoring rows in a loop; every answer that is not 200 is a failure.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    versions: Arc<Mutex<std::collections::BTreeSet<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(app: &TestApp, clients: usize, rows: Vec<Value>) -> Load {
        let load = Load {
            stop: Arc::default(),
            ok: Arc::default(),
            failures: Arc::default(),
            versions: Arc::default(),
            tasks: Vec::new(),
        };
        let rows = Arc::new(rows);
        let tasks = (0..clients)
            .map(|c| {
                let (stop, ok, failures, versions) =
                    (load.stop.clone(), load.ok.clone(), load.failures.clone(), load.versions.clone());
                let (client, url, rows) =
                    (app.client.clone(), format!("{}/v1/score/{MODEL}", app.address), rows.clone());
                tokio::spawn(async move {
                    let mut i = c;
                    while !stop.load(Ordering::Relaxed) {
                        let body = json!({"rows": [rows[i % rows.len()]]}).to_string();
                        i += clients;
                        let resp = client.post(&url).bearer_auth(VIEWER_TOKEN).body(body).send().await;
                        match resp {
                            Ok(r) if r.status() == 200 => {
                                let v: Value = r.json().await.unwrap_or(Value::Null);
                                if let Some(version) = v["version"].as_str() {
                                    versions.lock().unwrap().insert(version.to_string());
                                    ok.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    failures.lock().unwrap().push(format!("200 without a version: {v}"));
                                }
                            }
                            Ok(r) => {
                                let status = r.status();
                                let text = r.text().await.unwrap_or_default();
                                failures.lock().unwrap().push(format!("{status}: {text}"));
                            }
                            Err(e) => failures.lock().unwrap().push(e.to_string()),
                        }
                    }
                })
            })
            .collect();
        Load { tasks, ..load }
    }

    /// Stops the clients; returns (answered, versions seen) and panics on any failure.
    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let failures = self.failures.lock().unwrap().clone();
        assert!(failures.is_empty(), "{} failed requests under load, e.g. {:?}", failures.len(), &failures[..1]);
        let versions = self.versions.lock().unwrap().iter().cloned().collect();
        (self.ok.load(Ordering::Relaxed), versions)
    }
}

fn score_rows(limit: usize) -> Vec<Value> {
    csv_rows(&repo_root().join("training-data/wheels/holdout.csv"), limit)
        .into_iter()
        .map(|(features, ..)| Value::Object(features.into_iter().map(|(k, v)| (k, json!(v))).collect()))
        .collect()
}

async fn wait_for_active(app: &TestApp, version: &str) {
    let started = Instant::now();
    while active(app).await.as_deref() != Some(version) {
        assert!(started.elapsed() < Duration::from_secs(30), "{version} never became active");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swaps_under_load_fail_no_request() {
    let app = TestApp::spawn_with(&[], |s| {
        install_copy(&s.models.dir, "1.0.0");
    })
    .await;
    let models_root = app.dir.path().join("models");
    let graph = std::fs::read(repo_root().join("models/wheel-health/1.0.0/model.onnx")).unwrap();
    let load = Load::start(&app, 4, score_rows(200));
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Upload: only data scientists and admins; a new version serves at once.
    let (status, _) = json_of(upload(&app, VIEWER_TOKEN, &card_text("1.0.1"), &graph, "activate").await).await;
    assert_eq!(status, 403);
    let started = Instant::now();
    let (status, body) = json_of(upload(&app, ADMIN_TOKEN, &card_text("1.0.1"), &graph, "activate").await).await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "upload to serving took {:?}", started.elapsed());
    assert_eq!(body["active"], "1.0.1");
    assert_eq!(body["previous"], "1.0.0");
    assert!(models_root.join("wheel-health/1.0.1/model.onnx").is_file());

    // A version cannot be uploaded twice; a graph that does not fit its card is refused and the old one serves.
    let (status, body) = json_of(upload(&app, ADMIN_TOKEN, &card_text("1.0.1"), &graph, "activate").await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("conflict")), "{body}");
    // (Without its training distribution, which would otherwise refuse the card itself for naming a feature the
    // card no longer lists: the graph check is what this is about.)
    let mut bad_card: toml::Table = toml::from_str(&card_text("1.0.2")).unwrap();
    bad_card.remove("training_distribution");
    let bad_card = toml::to_string(&bad_card).unwrap().replace("\"tread_height\", ", "");
    let (status, body) = json_of(upload(&app, ADMIN_TOKEN, &bad_card, &graph, "activate").await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("model_refused")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("feature count mismatch"), "{body}");
    assert!(!models_root.join("wheel-health/1.0.2").exists(), "a refused upload must leave nothing in the registry");
    let (_, versions) = json_of(app.get(&format!("/v1/models/{MODEL}/versions"), Some(VIEWER_TOKEN)).await).await;
    assert_eq!(versions["active"], "1.0.1");
    assert_eq!(versions["last_failure"]["version"], "1.0.2");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("prognos_model_swaps_total{model=\"wheel-health\",outcome=\"refused\"}"), "{metrics}");

    // Swaps in a row: activate back and forth, roll back.
    for i in 0..10 {
        let v = if i % 2 == 0 { "1.0.0" } else { "1.0.1" };
        let (status, body) = post_json(&app, &format!("/v1/models/{MODEL}/activate"), json!({"version": v})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["active"], v);
    }
    let (status, body) = post_json(&app, &format!("/v1/models/{MODEL}/rollback"), json!({})).await;
    assert_eq!((status, body["active"].as_str()), (200, Some("1.0.0")), "{body}");

    // A finished folder renamed into place is picked up by the watcher ...
    let staging = models_root.join("wheel-health/.staging-1.1.0");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::copy(repo_root().join("models/wheel-health/1.0.0/model.onnx"), staging.join("model.onnx")).unwrap();
    std::fs::write(staging.join("card.toml"), card_text("1.1.0")).unwrap();
    std::fs::rename(&staging, models_root.join("wheel-health/1.1.0")).unwrap();
    wait_for_active(&app, "1.1.0").await;
    // ... and a folder written in place by an explicit reload.
    install_copy(&models_root, "1.2.0");
    let (status, body) = post_json(&app, "/v1/models/reload", json!({"model": MODEL})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(active(&app).await.as_deref(), Some("1.2.0"));

    // Shadow, then promote with one call.
    let (status, body) = json_of(upload(&app, ADMIN_TOKEN, &card_text("1.3.0"), &graph, "shadow").await).await;
    assert_eq!((status, body["shadow"].as_str()), (200, Some("1.3.0")), "{body}");
    assert_eq!(body["active"], "1.2.0");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, report) = json_of(app.get(&format!("/v1/models/{MODEL}/shadow"), Some(VIEWER_TOKEN)).await).await;
    assert_eq!(status, 200, "{report}");
    assert!(report["rows"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["agreement"], 1.0, "the same graph agrees with itself: {report}");
    let (status, body) = post_json(&app, &format!("/v1/models/{MODEL}/promote"), json!({})).await;
    assert_eq!((status, body["active"].as_str(), &body["shadow"]), (200, Some("1.3.0"), &Value::Null), "{body}");
    let (status, body) = post_json(&app, &format!("/v1/models/{MODEL}/rollback"), json!({})).await;
    assert_eq!((status, body["active"].as_str()), (200, Some("1.2.0")), "{body}");

    let (answered, seen) = load.finish().await;
    assert!(answered > 50, "the load generator scored only {answered} requests");
    assert!(seen.len() >= 3, "versions seen under load: {seen:?}");

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chosen_version_survives_a_restart() {
    let app = TestApp::spawn_with(&[], |s| {
        install_copy(&s.models.dir, "1.0.0");
    })
    .await;
    let graph = std::fs::read(repo_root().join("models/wheel-health/1.0.0/model.onnx")).unwrap();
    let (status, body) = json_of(upload(&app, ADMIN_TOKEN, &card_text("1.3.0"), &graph, "activate").await).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = json_of(upload(&app, ADMIN_TOKEN, &card_text("1.2.0"), &graph, "install").await).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post_json(&app, &format!("/v1/models/{MODEL}/activate"), json!({"version": "1.2.0"})).await;
    assert_eq!(status, 200);
    // Restart on the same data and models: the chosen version (1.2.0, not the highest 1.3.0) serves again.
    let dir = app.stop_keeping_dir().await;
    let settings = TestApp::settings(dir.path());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let again = prognos_server::Application::build(settings, shutdown.clone()).await.unwrap();
    let state = again.state().clone();
    let task = tokio::spawn(again.run_until_stopped());
    let started = Instant::now();
    while !state.is_ready() {
        assert!(started.elapsed() < Duration::from_secs(30), "the restarted app never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state.models.active_version(MODEL).as_deref(), Some("1.2.0"));
    assert_eq!(state.models.previous_version(MODEL).as_deref(), Some("1.3.0"));
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feedback_loop_labels_retrains_uploads_shadows_promotes_and_rolls_back_under_load() {
    let app = TestApp::spawn_with(&[], |s| {
        install_copy(&s.models.dir, "1.0.0");
    })
    .await;
    let load = Load::start(&app, 2, score_rows(200));

    // Captures in the store: real wheel-v1 feature rows, one per hour per row so the join is unambiguous.
    let store =
        Store::connect(&format!("sqlite://{}", app.dir.path().join("data/prognos.db").display())).await.unwrap();
    let rows = csv_rows(&repo_root().join("training-data/wheels/train.csv"), 3000);
    let base: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    let picked: Vec<_> = rows.into_iter().step_by(10).collect();
    for (i, (features, ..)) in picked.iter().enumerate() {
        let at = base + chrono::Duration::hours(i as i64);
        let wheel = &picked[i].3;
        let capture = NewCapture {
            content_hash: format!("loop-{i}"),
            site: "park".into(),
            camera: "Cam_01".into(),
            asset_id: wheel.clone(),
            run_count: None,
            captured_at: at,
            source: format!("Cam_01_{i:04}_{wheel}"),
            width: 1,
            profiles: 1,
            height_units: "mm".into(),
            mean_height: features[0].1,
            mean_intensity: 1.0,
        };
        let values = FeatureValues {
            feature_set: "wheel-v1".into(),
            names: features.iter().map(|(n, _)| n.clone()).collect(),
            values: features.iter().map(|(_, v)| *v as f32).collect(),
        };
        let prediction = NewPrediction {
            model: MODEL.into(),
            model_version: "1.0.0".into(),
            health_score: 50.0,
            label: "healthy".into(),
            probabilities: vec![("defect".into(), 0.5), ("healthy".into(), 0.5)],
            scored_at: at,
        };
        store.record_scored_capture(&capture, &values, &prediction).await.unwrap();
    }

    // Operators record what the inspections found (the simulator's truth), 30 minutes after each capture.
    for (i, (_, label, severity, wheel, _)) in picked.iter().enumerate() {
        let at = base + chrono::Duration::hours(i as i64) + chrono::Duration::minutes(30);
        let body = json!({"asset": wheel, "inspected_at": at, "outcome": label, "severity": severity});
        let resp = app.post("/v1/inspections", Some(OPERATOR_TOKEN), body.to_string()).await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
    let resp =
        app.post("/v1/inspections", Some(VIEWER_TOKEN), json!({"asset": "W01", "outcome": "healthy"}).to_string());
    assert_eq!(resp.await.status(), 403, "viewers do not record inspections");
    let bad = json!({"asset": "W01", "outcome": "healthy", "severity": 0.7});
    let (status, body) = json_of(app.post("/v1/inspections", Some(OPERATOR_TOKEN), bad.to_string()).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_inspection")), "{body}");

    // Export: one labelled row per inspection, the feature values of the capture before it.
    let out = tempfile::tempdir().unwrap();
    let data = out.path().join("data");
    let opts = ExportOptions {
        out: data.clone(),
        file_name: "inspections.csv".into(),
        feature_set: "wheel-v1".into(),
        max_age_hours: 24,
        failure_severity: 1.0,
    };
    let summary = export(&store, &opts).await.unwrap();
    assert_eq!(summary.rows, picked.len());
    assert!(summary.unmatched.is_empty(), "{:?}", summary.unmatched);
    let exported = csv_rows(&summary.path, usize::MAX);
    for (row, want) in exported.iter().zip(&picked) {
        assert_eq!((&row.1, row.2, &row.3), (&want.1, want.2, &want.3));
        assert_eq!(row.0.len(), 23);
        for ((name, v), (want_name, w)) in row.0.iter().zip(&want.0) {
            assert_eq!(name, want_name);
            assert_eq!(*v as f32, *w as f32, "{name}");
        }
    }
    store.close().await;

    // Retrain with the notebooks-export script on the exported labels.
    let trained = out.path().join("models");
    let script = repo_root().join("notebooks-export/train_wheel_model.py");
    let output = tokio::process::Command::new(python())
        .arg(script)
        .args(["--data", data.to_str().unwrap(), "--out", trained.to_str().unwrap(), "--version", "1.1.0"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "training failed: {}", String::from_utf8_lossy(&output.stderr));
    let new = trained.join("wheel-health/1.1.0");
    let card = std::fs::read_to_string(new.join("card.toml")).unwrap();
    let graph = std::fs::read(new.join("model.onnx")).unwrap();

    // Upload as a shadow; it scores beside 1.0.0 without answering or alerting.
    let (status, body) = json_of(upload(&app, ADMIN_TOKEN, &card, &graph, "shadow").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["active"].as_str(), body["shadow"].as_str()), (Some("1.0.0"), Some("1.1.0")));
    let started = Instant::now();
    let report = loop {
        let (_, report) = json_of(app.get(&format!("/v1/models/{MODEL}/shadow"), Some(VIEWER_TOKEN)).await).await;
        if report["rows"].as_u64().unwrap_or(0) >= 50 {
            break report;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the shadow scored too few rows: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(report["agreement"].as_f64().unwrap() > 0.5, "{report}");
    let histogram: u64 = report["candidate_histogram"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(histogram, report["rows"].as_u64().unwrap());

    // Promote, then roll back.
    let (status, body) = post_json(&app, &format!("/v1/models/{MODEL}/promote"), json!({})).await;
    assert_eq!((status, body["active"].as_str()), (200, Some("1.1.0")), "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = post_json(&app, &format!("/v1/models/{MODEL}/rollback"), json!({})).await;
    assert_eq!((status, body["active"].as_str()), (200, Some("1.0.0")), "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (answered, seen) = load.finish().await;
    assert!(answered > 20, "the load generator scored only {answered} requests");
    assert_eq!(seen, ["1.0.0", "1.1.0"], "versions that answered under load");
    app.stop().await;
}
