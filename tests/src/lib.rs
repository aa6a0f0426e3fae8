//! End-to-end test harness: [`TestApp`] runs the real application on port 0 with its own data folder, model
//! registry and tokens; [`fixtures`] builds real exported models with the project's Python environment.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use prognos_core::{Role, Settings, TokenEntry};
use prognos_server::auth::hash_token;
use prognos_server::Application;
use tokio_util::sync::CancellationToken;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs a `notebooks-export` training script on the committed training data into a temporary registry and
/// asserts it reproduces the committed `models/<model>/<version>/`: the same training-data hash, metrics,
/// evaluation, input and ONNX bytes. Returns the committed card for further checks.
pub fn assert_training_reproduces(script: &str, data: &str, model: &str, version: &str) -> toml::Table {
    let out = tempfile::tempdir().unwrap();
    let root = repo_root();
    let status = std::process::Command::new(python())
        .arg(root.join("notebooks-export").join(script))
        .args(["--data", root.join("training-data").join(data).to_str().unwrap()])
        .args(["--out", out.path().to_str().unwrap(), "--version", version])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{script} failed");
    let committed = root.join("models").join(model).join(version);
    let fresh = out.path().join(model).join(version);
    let card = |dir: &Path| -> toml::Table {
        toml::from_str(&std::fs::read_to_string(dir.join("card.toml")).unwrap()).unwrap()
    };
    let (a, b) = (card(&committed), card(&fresh));
    assert_eq!(a["provenance"]["training_data_sha256"], b["provenance"]["training_data_sha256"]);
    assert_eq!(a["provenance"]["metrics"], b["provenance"]["metrics"], "metrics differ from the committed card");
    assert_eq!(a["evaluation"], b["evaluation"]);
    assert_eq!(a["input"], b["input"]);
    assert_eq!(
        std::fs::read(committed.join("model.onnx")).unwrap(),
        std::fs::read(fresh.join("model.onnx")).unwrap(),
        "the committed model.onnx is not what the script produces"
    );
    a
}

/// The project's Python interpreter (`.venv`), which the test command installs.
pub fn python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "the project's Python environment is missing: run scripts/setup-python.sh (scripts/test.sh does)"
    );
    python
}

/// Exported models of every kind (`tests/fixtures/make_exporter_models.py`), generated once per test binary.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("prognos-fixtures-{}", std::process::id()));
        let status = std::process::Command::new(python())
            .arg(repo_root().join("tests/fixtures/make_exporter_models.py"))
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run the fixture generator");
        assert!(status.success(), "make_exporter_models.py failed");
        dir
    })
}

/// Copies fixture variants (`name` or `bad/name`) into a fresh registry folder.
pub fn registry_with(dest: &Path, variants: &[&str]) {
    for variant in variants {
        let from = fixtures().join(variant).join("1.0.0");
        let name = Path::new(variant).file_name().unwrap();
        let to = dest.join(name).join("1.0.0");
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap().flatten() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The tokens every [`TestApp`] accepts.
pub const ADMIN_TOKEN: &str = "prg_test_admin_token";
/// A read-only token.
pub const VIEWER_TOKEN: &str = "prg_test_viewer_token";
/// An operator's token (acknowledge alerts, silences).
pub const OPERATOR_TOKEN: &str = "prg_test_operator_token";

/// A viewer's dashboard session over HTTP, as a browser holds it: a client that does not follow redirects and
/// the session cookie the login form set.
pub struct DashboardSession {
    /// The client (redirects are answers to check, not to follow).
    pub client: reqwest::Client,
    /// The `Cookie` header value (`name=id`).
    pub cookie: String,
    /// The whole `Set-Cookie` header the login answered with.
    pub set_cookie: String,
    base: String,
}

impl DashboardSession {
    /// A request for `path` with the session cookie.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base)).header("cookie", &self.cookie)
    }

    /// The status and text of the page at `path`.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let resp = self.get(path).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// A client that does not follow redirects.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A running application.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// Its data and model folders live here.
    pub dir: tempfile::TempDir,
    /// An HTTP client.
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Settings for a test app: port 0, its own folders, the two test tokens.
    pub fn settings(dir: &Path) -> Settings {
        let mut s = Settings { data_dir: dir.join("data"), ..Default::default() };
        s.server.port = 0;
        s.server.shutdown_grace_seconds = 2;
        s.models.dir = dir.join("models");
        s.models.python_env = repo_root().join(".venv");
        s.store.url = Some(format!("sqlite://{}", dir.join("data/prognos.db").display()));
        s.pipelines.disabled = true;
        s.auth.tokens = vec![
            TokenEntry { name: "admin".into(), role: Role::Admin, sha256: hash_token(ADMIN_TOKEN) },
            TokenEntry { name: "viewer".into(), role: Role::Viewer, sha256: hash_token(VIEWER_TOKEN) },
            TokenEntry { name: "operator".into(), role: Role::Operator, sha256: hash_token(OPERATOR_TOKEN) },
        ];
        s
    }

    /// Logs in through the dashboard's form with the viewer token, as a browser would; the form must answer with
    /// a redirect to the fleet page and a session cookie.
    pub async fn dashboard_session(&self) -> DashboardSession {
        let client = no_redirects();
        let resp = self.login_form(&client, VIEWER_TOKEN, "/fleet").await;
        assert_eq!(resp.status(), 303, "the login form refused the viewer token");
        assert_eq!(resp.headers()["location"], "/fleet");
        let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        DashboardSession { client, cookie, set_cookie, base: self.address.clone() }
    }

    /// Posts the dashboard's login form with `token` and the page to go to after it (`next`, empty: none).
    pub async fn login_form(&self, client: &reqwest::Client, token: &str, next: &str) -> reqwest::Response {
        let form: &[(&str, &str)] =
            if next.is_empty() { &[("token", token)] } else { &[("token", token), ("next", next)] };
        client.post(format!("{}/login", self.address)).form(form).send().await.unwrap()
    }

    /// Spawns the app serving the given fixture variants, and waits until `/readyz` says ready.
    pub async fn spawn(variants: &[&str]) -> Self {
        Self::spawn_with(variants, |_| {}).await
    }

    /// Like [`TestApp::spawn`], after `edit` has adjusted the settings.
    pub async fn spawn_with(variants: &[&str], edit: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let variants: Vec<String> = variants.iter().map(|s| s.to_string()).collect();
        let models = dir.path().join("models");
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = variants.iter().map(String::as_str).collect();
            registry_with(&models, &refs)
        })
        .await
        .unwrap();
        let mut settings = Self::settings(dir.path());
        edit(&mut settings);
        let shutdown = CancellationToken::new();
        let app = Application::build(settings, shutdown.clone()).await.expect("build the app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let task = tokio::spawn(app.run_until_stopped());
        let test = TestApp { address, dir, client: reqwest::Client::new(), shutdown, task: Some(task) };
        test.wait_ready(Duration::from_secs(60)).await;
        test
    }

    /// Polls `/readyz` until 200 (panics after `timeout`).
    pub async fn wait_ready(&self, timeout: Duration) {
        let started = Instant::now();
        loop {
            if let Ok(r) = self.client.get(format!("{}/readyz", self.address)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(started.elapsed() < timeout, "the app did not become ready within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POST JSON text to a path with a token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: impl Into<reqwest::Body>) -> reqwest::Response {
        let mut req =
            self.client.post(format!("{}{path}", self.address)).header("content-type", "application/json").body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// GET a path with a token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.address));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Cancels the app and waits for it to stop. Its folder is deleted.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Cancels the app, waits for it to stop and hands back its folder (data, store, models), so that a
    /// restart can run on the same data. Dropping the returned folder deletes it.
    pub async fn stop_keeping_dir(mut self) -> tempfile::TempDir {
        self.halt().await;
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    async fn halt(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A file of `../shared/data/real/` (real data nobody here made).
pub fn real_data(path: &str) -> PathBuf {
    repo_root().join("../shared/data/real").join(path)
}

/// A pipeline's `[drop_folder]` settings with its inbox, archive and quarantine under `dir`, watched every 50 ms.
pub fn drop_folder_under(dir: &Path) -> String {
    format!(
        "path = \"{}\"\nrescan_ms = 50\nsettle_ms = 200\narchive_dir = \"{}\"\nquarantine_dir = \"{}\"",
        dir.join("inbox").display(),
        dir.join("archive").display(),
        dir.join("quarantine").display()
    )
}

/// Kaggle Plant 1's shipped pipeline (`pipelines/kaggle-plant-1.toml`) renamed `name`, on site `plant-site`,
/// with an absolute weather path, its drop folder, archive and quarantine under `dir`, and the MQTT `topic`
/// gathered for `linger_ms`.
pub fn plant_1_pipeline(dir: &Path, topic: &str, name: &str, linger_ms: u64) -> String {
    let text = std::fs::read_to_string(repo_root().join("pipelines/kaggle-plant-1.toml")).unwrap();
    let weather = real_data("kaggle-solar-plants/Plant_1_Weather_Sensor_Data.csv");
    text.replace("name = \"kaggle-plant-1\"", &format!("name = \"{name}\""))
        .replace("site = \"kaggle-plant-1\"", "site = \"plant-site\"")
        .replace("../shared/data/real/kaggle-solar-plants/Plant_1_Weather_Sensor_Data.csv", weather.to_str().unwrap())
        .replace("path = \"data/inbox/kaggle-plant-1\"", &drop_folder_under(dir))
        .replace(
            "topics = [\"prognos/kaggle-plant-1/readings\"]",
            &format!(
                "topics = [\"{topic}\"]\nclient_id = \"prognos-test-{}\"\nlinger_ms = {linger_ms}",
                topic.replace('/', "-")
            ),
        )
}

/// The dashboard scenario `tests/tests/dashboard.rs` and `tests/tests/dashboard_browser.rs` share: an app with
/// the wheel-camera pipeline and an alert engine, fed simulated captures of a wheel that wears through the
/// alert threshold beside a healthy one.
pub mod dashboard {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use chrono::{DurationRound, Utc};
    use prognos_formats::icon::write_pair;
    use prognos_simulate::{capture_stem, simulate, FailureMode, WheelSpec};
    use serde_json::Value;

    use super::{repo_root, TestApp, VIEWER_TOKEN};

    /// The degrading wheel.
    pub const WORN: &str = "W03";
    /// The healthy wheel beside it.
    pub const HEALTHY: &str = "W01";
    /// How bad the worn wheel's flat spot is on each pass, one pass a minute.
    pub const SEVERITIES: [f32; 6] = [0.0, 0.0, 0.4, 0.7, 0.9, 0.95];

    /// An app with the wheel pipeline (its camera folders and archive under `dir`) and an alert engine (its
    /// only contact has no notifier configured, so its notifications fail: the fleet page shows them).
    pub async fn app(dir: &Path) -> TestApp {
        let root = dir.to_path_buf();
        std::fs::create_dir_all(root.join("pipelines")).unwrap();
        std::fs::write(
            root.join("pipelines/wheels.toml"),
            format!(
                "[pipeline]\nname = \"wheel-cameras\"\nkind = \"wheel-cameras\"\nsite = \"coaster-1\"\nfeature_set = \"wheel-v1\"\n\
                 [cameras]\nroot = \"{cams}\"\ncameras = [\"Cam_01\", \"Cam_02\"]\nrescan_ms = 50\nsettle_ms = 200\n\
                 archive_dir = \"{archive}\"\n[model]\nname = \"wheel-health\"\n",
                cams = root.join("cameras").display(),
                archive = root.join("archive").display(),
            ),
        )
        .unwrap();
        let alerts: toml::Table = toml::from_str(
            r#"
tick_ms = 100
[engine]
dashboard_url = "http://prognos.test"
[engine.health]
threshold = 70.0
[engine.route]
name = "maintenance"
group_wait_ms = 200
escalate_after_s = 0
levels = [[{ name = "tech", email = "tech@example.com" }]]
[outbox]
poll_interval_ms = 100
"#,
        )
        .unwrap();
        TestApp::spawn_with(&[], move |s| {
            s.models.dir = repo_root().join("models");
            s.models.serve = vec!["wheel-health".into()];
            s.pipelines.disabled = false;
            s.pipelines.dir = root.join("pipelines");
            s.store.url = Some(format!("sqlite://{}", root.join("store.db").display()));
            s.data_dir = root.join("data");
            s.alerts = alerts;
        })
        .await
    }

    /// Writes one pass of the worn wheel per minute (ending now) and a healthy [`HEALTHY`] beside it into the
    /// camera folders under `root`; waits until all are scored and an alert is open for the worn wheel.
    pub async fn feed(app: &TestApp, root: &Path) {
        let cams = root.join("cameras");
        let start = Utc::now().duration_trunc(chrono::Duration::seconds(1)).unwrap() - chrono::Duration::minutes(6);
        for (i, severity) in SEVERITIES.iter().enumerate() {
            let at = start + chrono::Duration::minutes(i as i64);
            let worn = (*severity > 0.0).then_some((FailureMode::FlatSpot, *severity));
            // Distinct seeds: two healthy captures from one seed would be byte-identical, and stored once.
            for (k, (wheel, camera, failure)) in
                [(WORN, "Cam_01", worn), (HEALTHY, "Cam_02", None)].into_iter().enumerate()
            {
                let mut spec = WheelSpec::healthy(wheel, camera, at, 500 + 2 * i as u64 + k as u64);
                spec.profiles = 600;
                spec.failure = failure;
                let stem = capture_stem(&cams, &spec);
                std::fs::create_dir_all(stem.parent().unwrap()).unwrap();
                write_pair(&stem, &simulate(&spec).unwrap()).unwrap();
            }
        }
        let want = SEVERITIES.len() * 2;
        let started = Instant::now();
        loop {
            let p: Value = app.get("/v1/predictions?limit=100", Some(VIEWER_TOKEN)).await.json().await.unwrap();
            let a: Value = app.get(&format!("/v1/alerts?asset={WORN}"), Some(VIEWER_TOKEN)).await.json().await.unwrap();
            let scored = p["predictions"].as_array().map(Vec::len).unwrap_or(0);
            let alerts = a["alerts"].as_array().map(Vec::len).unwrap_or(0);
            if scored >= want && alerts >= 1 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{scored} of {want} scored, {alerts} alerts for {WORN}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Parquet exports checked against their CSV twins.
pub mod parquet {
    use polars::prelude::{AnyValue, DataFrame, TimeUnit};
    use polars_io::parquet::read::ParquetReader;
    use polars_io::SerReader;

    /// Reads a Parquet file from memory.
    pub fn read(bytes: &[u8]) -> DataFrame {
        ParquetReader::new(std::io::Cursor::new(bytes.to_vec())).finish().expect("a readable Parquet file")
    }

    /// Asserts that `frame` holds exactly the table of `csv`: the same columns in order and the same rows, with
    /// each typed cell equal to its CSV text (an empty cell is a null, `NaN` a NaN, a time the same instant).
    /// Returns the number of rows.
    pub fn assert_same_table(csv: &str, frame: &DataFrame) -> usize {
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
        assert_eq!(names, header, "Parquet columns vs CSV header");
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(frame.height(), records.len(), "Parquet rows vs CSV rows");
        for (c, column) in frame.columns().iter().enumerate() {
            for (r, record) in records.iter().enumerate() {
                let text = &record[c];
                let value = column.get(r).unwrap();
                let same = match value.clone() {
                    AnyValue::Null => text.is_empty(),
                    AnyValue::String(s) => s == text,
                    AnyValue::StringOwned(s) => s.as_str() == text,
                    AnyValue::Int64(v) => text.parse::<i64>().ok() == Some(v),
                    AnyValue::Float64(v) if v.is_nan() => text == "NaN",
                    AnyValue::Float64(v) => text.parse::<f64>().ok() == Some(v),
                    AnyValue::Datetime(v, TimeUnit::Microseconds, Some(tz)) if tz.as_str() == "UTC" => {
                        chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_micros()).ok() == Some(v)
                    }
                    other => panic!("column {} holds an unexpected {other:?}", header[c]),
                };
                assert!(same, "row {r} column {}: Parquet {value:?} vs CSV {text:?}", header[c]);
            }
        }
        records.len()
    }
}
