//! Shared by the alerts end-to-end tests: the running service (`TestApp`) with a real wheel pipeline watching a
//! camera folder, the Twilio stand-in that validates against the published spec, and a `wheel-health` model made
//! for the test so that each simulated capture scores exactly what the test asks (`make_step_model.py`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prognos_alerts::standins::{ReceivedSms, TwilioStandIn, TWILIO_OPENAPI_PATH};
use prognos_formats::icon::write_pair;
use prognos_simulate::{capture_stem, simulate, WheelSpec};
use prognos_store::Store;
use prognos_tests::{python, repo_root, TestApp, VIEWER_TOKEN};
use serde_json::Value;

/// The account SID the stand-in is called with.
pub const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
/// The first escalation level's phone.
pub const TECH: &str = "+15005550006";
/// The second escalation level's phone.
pub const LEAD: &str = "+15005550007";

/// One capture of the test, and the health score the test model gives it (`None`: the model outputs NaN).
#[derive(Debug, Clone)]
pub struct Shot {
    /// The simulated capture.
    pub spec: WheelSpec,
    /// Its score.
    pub target: Option<f64>,
}

/// A small capture of `wheel` (1536 x 120), distinct per `n`.
pub fn shot(wheel: &str, n: u32, target: Option<f64>) -> Shot {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).unwrap() + chrono::Duration::seconds(i64::from(n));
    let mut spec = WheelSpec::healthy(wheel, "Cam_01", at, 4000 + u64::from(n));
    spec.width = 1536;
    spec.profiles = 120;
    Shot { spec, target }
}

/// The wheel-v1 feature names, in the order the featurizer writes them (the committed model's card lists them so).
fn feature_names() -> Vec<String> {
    let card: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo_root().join("models/wheel-health/1.0.0/card.toml")).unwrap())
            .unwrap();
    let names: Vec<String> =
        card["input"]["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), 23, "wheel-v1 has 23 features");
    names
}

/// Writes a registry under `dir` whose `wheel-health` model scores each of `shots` as asked.
pub async fn step_registry(dir: &Path, shots: &[Shot]) -> PathBuf {
    let specs: Vec<WheelSpec> = shots.iter().map(|s| s.spec.clone()).collect();
    let rows = tokio::task::spawn_blocking(move || prognos_simulate::rows_for(&specs, 2).unwrap()).await.unwrap();
    let spec = serde_json::json!({
        "features": feature_names(),
        "rows": rows.iter().map(|r| r.values.clone()).collect::<Vec<_>>(),
        "targets": shots.iter().map(|s| s.target).collect::<Vec<_>>(),
    });
    let spec_path = dir.join("step-model.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let registry = dir.join("models");
    let out = std::process::Command::new(python())
        .arg(repo_root().join("tests/support/make_step_model.py"))
        .arg(&spec_path)
        .arg(&registry)
        .output()
        .unwrap();
    assert!(out.status.success(), "make_step_model.py: {}", String::from_utf8_lossy(&out.stderr));
    registry
}

/// How the alerts are set up for one test.
pub struct Setup {
    /// `route.group_wait_ms`.
    pub group_wait_ms: u64,
    /// `route.escalate_after_s`.
    pub escalate_after_s: u64,
    /// `route.levels`, as TOML.
    pub levels: String,
    /// Extra `[outbox]` lines.
    pub outbox: String,
    /// The cameras' `expected_interval_s` (0: no no-data rule).
    pub expected_interval_s: u64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            group_wait_ms: 0,
            escalate_after_s: 0,
            levels: format!(r#"[[{{ name = "tech", sms = "{TECH}" }}]]"#),
            outbox: String::new(),
            expected_interval_s: 0,
        }
    }
}

/// The service with a wheel pipeline on `cams/Cam_01`, the test model, and alerts to the Twilio stand-in.
pub struct Stack {
    /// The running service.
    pub app: TestApp,
    /// The Twilio stand-in.
    pub twilio: TwilioStandIn,
    /// The camera folder (`.../Cam_01`).
    pub cam: PathBuf,
    /// The service's store, opened by the test.
    pub store: Store,
    /// Holds the test's folders.
    pub root: tempfile::TempDir,
}

impl Stack {
    /// Starts everything; `shots` are the captures the test will write (the model is made for them).
    pub async fn start(shots: &[Shot], setup: Setup) -> Stack {
        let twilio = TwilioStandIn::start(Path::new(TWILIO_OPENAPI_PATH)).await.unwrap();
        let root = tempfile::tempdir().unwrap();
        let registry = step_registry(root.path(), shots).await;
        let cams = root.path().join("cameras");
        std::fs::create_dir_all(root.path().join("pipelines")).unwrap();
        std::fs::write(
            root.path().join("pipelines/wheels.toml"),
            format!(
                "[pipeline]\nname = \"wheel-cameras\"\nkind = \"wheel-cameras\"\nsite = \"coaster-1\"\n\
                 feature_set = \"wheel-v1\"\n[cameras]\nroot = \"{}\"\ncameras = [\"Cam_01\"]\nrescan_ms = 50\n\
                 settle_ms = 100\nexpected_interval_s = {}\n[model]\nname = \"wheel-health\"\n",
                cams.display(),
                setup.expected_interval_s
            ),
        )
        .unwrap();
        let table: toml::Table = toml::from_str(&format!(
            r#"
tick_ms = 50
[engine]
dashboard_url = "http://prognos.test"
[engine.health]
threshold = 70.0
hysteresis = 5.0
[engine.route]
name = "maintenance"
group_wait_ms = {}
escalate_after_s = {}
levels = {}
[twilio]
base_url = "{}"
account_sid = "{ACCOUNT}"
auth_token = "not-a-real-token"
from = "+15005550001"
timeout_ms = 2000
[outbox]
poll_interval_ms = 50
{}
"#,
            setup.group_wait_ms,
            setup.escalate_after_s,
            setup.levels,
            twilio.base_url(),
            setup.outbox
        ))
        .unwrap();
        let pipelines = root.path().join("pipelines");
        let app = TestApp::spawn_with(&[], move |s| {
            s.models.dir = registry;
            s.models.serve = vec!["wheel-health".into()];
            s.pipelines.disabled = false;
            s.pipelines.dir = pipelines;
            s.alerts = table;
        })
        .await;
        let store =
            Store::connect(&format!("sqlite://{}", app.dir.path().join("data/prognos.db").display())).await.unwrap();
        let cam = cams.join("Cam_01");
        std::fs::create_dir_all(&cam).unwrap();
        Stack { app, twilio, cam, store, root }
    }

    /// Writes one capture and waits until the service has handled it (the pair has left the camera folder).
    pub async fn capture(&self, shot: &Shot) {
        let cams = self.cam.parent().unwrap().to_path_buf();
        let data = simulate(&shot.spec).unwrap();
        write_pair(&capture_stem(&cams, &shot.spec), &data).unwrap();
        wait_until("the capture to be handled", Duration::from_secs(30), || {
            std::fs::read_dir(&self.cam).map(|d| d.count() == 0).unwrap_or(false)
        })
        .await;
    }

    /// GET as a viewer, as JSON.
    pub async fn get(&self, path: &str) -> Value {
        self.app.get(path, Some(VIEWER_TOKEN)).await.json().await.unwrap()
    }

    /// The alerts of `asset`, newest first.
    pub async fn alerts_of(&self, asset: &str) -> Vec<Value> {
        self.get(&format!("/v1/alerts?asset={asset}")).await["alerts"].as_array().unwrap().clone()
    }

    /// SMS accepted by the stand-in for `to`.
    pub fn sms_to(&self, to: &str) -> Vec<ReceivedSms> {
        self.twilio.requests().into_iter().filter(|m| m.to == to).collect()
    }

    /// Waits until `n` SMS were accepted in total.
    pub async fn wait_sms(&self, n: usize, timeout: Duration) -> Vec<ReceivedSms> {
        let started = Instant::now();
        loop {
            let got = self.twilio.requests();
            if got.len() >= n {
                return got;
            }
            assert!(
                started.elapsed() < timeout,
                "waited {timeout:?} for {n} SMS, got {got:#?}; refused: {:?}",
                self.twilio.rejected()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stops the service and the stand-in.
    pub async fn stop(self) {
        self.app.stop().await;
        self.twilio.stop().await;
    }
}

/// Polls `done` every 25 ms; panics with `what` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How many times each body was accepted.
pub fn bodies(sms: &[ReceivedSms]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in sms {
        *counts.entry(m.body.clone()).or_insert(0) += 1;
    }
    counts
}
