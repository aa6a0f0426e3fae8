//! Explanations: the features that pulled a score down, from the shipped `wheel-health` 1.1.0.
//!
//! 1. On the scoring layer: a healthy held-out capture whose one feature is pushed to its bad side (the 98th
//!    percentile of the held-out captures, worn ones included, or the 2nd for the features whose higher values
//!    are healthier) names that feature first, for every feature that on its own costs the score at least two
//!    points.
//! 2. End to end: a badly flat-spotted wheel through the camera pipeline gets its explanation stored with the
//!    prediction (API), shown on the capture and asset pages, and named in the alert SMS (still two segments).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prognos_alerts::standins::{TwilioStandIn, TWILIO_OPENAPI_PATH};
use prognos_formats::icon::write_pair;
use prognos_scoring::{FeatureBatch, ModelCard};
use prognos_server::startup::{session_options, worker_options};
use prognos_simulate::{capture_stem, simulate, FailureMode, WheelSpec};
use prognos_tests::{repo_root, TestApp, VIEWER_TOKEN};
use serde_json::Value;

/// Features whose higher values mean a healthier wheel (monotone +1 in the training script).
const HIGHER_IS_HEALTHIER: [&str; 3] = ["tread_height", "intensity_mean", "intensity_band_contrast"];

/// The held-out captures (every label), as rows in `features` order with their labels.
fn holdout(features: &[String]) -> Vec<(String, Vec<f32>)> {
    let text = std::fs::read_to_string(repo_root().join("training-data/wheels/holdout.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let label = header.iter().position(|h| *h == "label").unwrap();
    let cols: Vec<usize> = features.iter().map(|f| header.iter().position(|h| h == f).unwrap()).collect();
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[label].to_string(), cols.iter().map(|&k| c[k].parse().unwrap()).collect())
        })
        .collect()
}

#[tokio::test]
async fn a_capture_with_one_feature_pushed_to_the_bad_side_names_that_feature_first() {
    let dir = tempfile::tempdir().unwrap();
    let settings = TestApp::settings(dir.path());
    let model_dir = repo_root().join("models/wheel-health/1.1.0");
    let handle = prognos_scoring::serve(&model_dir, &session_options(&settings), worker_options(&settings)).unwrap();
    assert!(handle.can_explain());
    let card: ModelCard = (**handle.card()).clone();
    let features = card.input.features.clone();
    let rows = holdout(&features);
    let base = rows.iter().find(|(label, _)| label == "healthy").unwrap().1.clone();
    // The bad side of each feature: the 2nd percentile of the held-out captures (worn ones included) for the
    // features where higher is healthier, the 98th for the others.
    let bad_value = |j: usize, name: &str| {
        let mut v: Vec<f32> = rows.iter().map(|(_, r)| r[j]).collect();
        v.sort_by(f32::total_cmp);
        let at = if HIGHER_IS_HEALTHIER.contains(&name) { v.len() / 50 } else { v.len() - 1 - v.len() / 50 };
        v[at]
    };

    let (scores, drivers) =
        handle.score_explained(FeatureBatch { values: base.clone(), rows: 1 }, None, 3).await.unwrap();
    let healthy = f64::from(scores.health(0));
    assert!(healthy > 95.0, "the held-out healthy capture scores {healthy}");
    assert!(drivers[0].iter().all(|d| d.contribution > -1.0), "nothing pulls a healthy score down: {drivers:?}");

    let mut checked = Vec::new();
    for (j, name) in features.iter().enumerate() {
        let bad = bad_value(j, name);
        let mut row = base.clone();
        row[j] = bad;
        let (scores, drivers) = handle.score_explained(FeatureBatch { values: row, rows: 1 }, None, 3).await.unwrap();
        let health = f64::from(scores.health(0));
        // The explained score is the row's own score, not one of the perturbed rows'.
        let plain = handle
            .score(FeatureBatch {
                values: {
                    let mut r = base.clone();
                    r[j] = bad;
                    r
                },
                rows: 1,
            })
            .await
            .unwrap();
        assert!((f64::from(plain.health(0)) - health).abs() < 1e-4, "{name}");
        if healthy - health < 2.0 {
            continue; // this feature alone barely moves the score
        }
        let first = drivers[0].first().unwrap_or_else(|| panic!("{name} pushed to {bad}: no driver, health {health}"));
        assert_eq!(first.feature, *name, "{name} pushed to {bad} (health {healthy:.1} -> {health:.1}): {drivers:?}");
        assert!(first.contribution < -1.0, "{first:?}");
        assert_eq!(first.value, f64::from(bad));
        assert!(drivers[0].len() <= 3);
        assert!(drivers[0].windows(2).all(|w| w[0].contribution <= w[1].contribution), "most negative first");
        checked.push(name.clone());
    }
    for must in ["tread_height", "conicity", "protrusion_height", "runout_once_per_turn", "profile_deviation"] {
        assert!(checked.iter().any(|c| c == must), "{must} moved the score less than expected: checked {checked:?}");
    }
}

const TECH: &str = "+15005550006";

async fn wait_for<T>(what: &str, timeout: Duration, mut poll: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = poll().await {
            return v;
        }
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_worn_wheel_s_explanation_is_stored_shown_and_sent() {
    let twilio = TwilioStandIn::start(Path::new(TWILIO_OPENAPI_PATH)).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let cams = root.path().join("cameras");
    std::fs::create_dir_all(root.path().join("pipelines")).unwrap();
    std::fs::write(
        root.path().join("pipelines/wheels.toml"),
        format!(
            "[pipeline]\nname = \"wheel-cameras\"\nkind = \"wheel-cameras\"\nsite = \"coaster-1\"\n\
             feature_set = \"wheel-v1\"\n[cameras]\nroot = \"{}\"\ncameras = [\"Cam_01\"]\nrescan_ms = 50\n\
             settle_ms = 100\n[model]\nname = \"wheel-health\"\n",
            cams.display()
        ),
    )
    .unwrap();
    let alerts: toml::Table = toml::from_str(&format!(
        "tick_ms = 50\n[engine]\ndashboard_url = \"http://prognos.test\"\n[engine.route]\nname = \"maintenance\"\n\
         group_wait_ms = 0\nlevels = [[{{ name = \"tech\", sms = \"{TECH}\" }}]]\n[twilio]\nbase_url = \"{}\"\n\
         account_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"not-a-real-token\"\n\
         from = \"+15005550001\"\n[outbox]\npoll_interval_ms = 50\n",
        twilio.base_url()
    ))
    .unwrap();
    let pipelines = root.path().join("pipelines");
    let app = TestApp::spawn_with(&[], move |s| {
        s.models.dir = repo_root().join("models");
        s.models.serve = vec!["wheel-health".into()];
        s.pipelines.disabled = false;
        s.pipelines.dir = pipelines;
        s.alerts = alerts;
    })
    .await;
    std::fs::create_dir_all(cams.join("Cam_01")).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let mut spec = WheelSpec::healthy("W09", "Cam_01", at, 4242);
    spec.profiles = 600;
    spec.failure = Some((FailureMode::FlatSpot, 0.9));
    write_pair(&capture_stem(&cams, &spec), &simulate(&spec).unwrap()).unwrap();

    let p: Value = wait_for("the stored prediction", Duration::from_secs(30), || async {
        let v: Value = app.get("/v1/predictions?asset=W09", Some(VIEWER_TOKEN)).await.json().await.unwrap();
        v["predictions"].as_array().and_then(|a| a.first().cloned())
    })
    .await;
    let health = p["health_score"].as_f64().unwrap();
    assert!(health < 70.0, "a severe flat spot: {p}");
    let explanation = p["explanation"].as_array().expect("explained").clone();
    assert!(!explanation.is_empty() && explanation.len() <= 3, "{p}");
    let first = explanation[0]["feature"].as_str().unwrap().to_string();
    assert!(first.starts_with("flat_spot") || first.starts_with("runout"), "a flat spot is first to blame: {p}");
    assert!(explanation.iter().all(|e| e["contribution"].as_f64().unwrap() < 0.0), "{p}");
    let asset: Value = app.get("/v1/assets/W09", Some(VIEWER_TOKEN)).await.json().await.unwrap();
    assert_eq!(asset["latest"]["explanation"], p["explanation"]);

    // The pages, behind the login.
    let session = app.dashboard_session().await;
    let page = |path: String| {
        let session = &session;
        async move { session.page(&path).await.1 }
    };
    let capture = page(format!("/captures/{}", p["capture_id"])).await;
    let section = &capture[capture.find("id=\"explanation\"").expect("explanation section")..];
    assert!(section.contains(&format!("data-feature=\"{first}\"")), "capture page names {first}");
    let asset_page = page("/assets/W09".into()).await;
    assert!(asset_page.contains("id=\"latest-explanation\"") && asset_page.contains(&first), "asset page");

    let sms =
        wait_for("the alert SMS", Duration::from_secs(20), || async { twilio.requests().into_iter().next() }).await;
    assert!(
        sms.body.contains("ALERT wheel W09 health") && sms.body.contains(&format!("low on {first}")),
        "{}",
        sms.body
    );
    assert!(prognos_alerts::notify::sms_segments(&sms.body) <= 2, "{}", sms.body);
    app.stop().await;
    twilio.stop().await;
}
