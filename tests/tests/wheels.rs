//! Wheel cameras end to end: simulated SICK captures written into camera folders are picked up, parsed,
//! featurized, scored by the committed wheel-health model, stored and archived; bad input is quarantined
//! with its reason while the service keeps going; restarts and second copies never score twice.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prognos_formats::icon::{encode, write_pair};
use prognos_simulate::{capture_stem, simulate, FailureMode, WheelSpec};
use prognos_tests::{repo_root, TestApp, VIEWER_TOKEN};
use serde_json::{json, Value};

/// A test app running the wheel-camera pipeline on folders inside its own temp dir.
async fn wheel_app(dir: &Path) -> TestApp {
    let root = dir.to_path_buf();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(
        root.join("pipelines/wheels.toml"),
        format!(
            "[pipeline]\nname = \"wheel-cameras\"\nkind = \"wheel-cameras\"\nsite = \"test\"\nfeature_set = \"wheel-v1\"\n\
             [cameras]\nroot = \"{cams}\"\ncameras = [\"Cam_01\", \"Cam_02\"]\nrescan_ms = 50\nsettle_ms = 300\n\
             orphan_timeout_s = 2\narchive_dir = \"{archive}\"\nquarantine_dir = \"{quarantine}\"\n\
             [rfid]\npath = \"{cams}/rfid.csv\"\ntolerance_ms = 1000\n[model]\nname = \"wheel-health\"\n",
            cams = root.join("cameras").display(),
            archive = root.join("archive").display(),
            quarantine = root.join("quarantine").display(),
        ),
    )
    .unwrap();
    TestApp::spawn_with(&[], move |s| {
        s.models.dir = repo_root().join("models");
        s.models.serve = vec!["wheel-health".into()];
        s.pipelines.disabled = false;
        s.pipelines.dir = root.join("pipelines");
        s.store.url = Some(format!("sqlite://{}", root.join("store.db").display()));
        s.data_dir = root.join("data");
    })
    .await
}

fn spec(wheel: &str, camera: &str, second: u32, failure: Option<(FailureMode, f32)>) -> WheelSpec {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, second).unwrap();
    let mut s = WheelSpec::healthy(wheel, camera, at, 1000 + second as u64);
    s.profiles = 600;
    s.failure = failure;
    s
}

fn write(cams: &Path, s: &WheelSpec) -> PathBuf {
    let stem = capture_stem(cams, s);
    std::fs::create_dir_all(stem.parent().unwrap()).unwrap();
    write_pair(&stem, &simulate(s).unwrap()).unwrap();
    stem
}

async fn predictions(app: &TestApp) -> Vec<Value> {
    let v: Value = app.get("/v1/predictions?limit=1000", Some(VIEWER_TOKEN)).await.json().await.unwrap();
    v["predictions"].as_array().unwrap().clone()
}

async fn wait_for(app: &TestApp, n: usize, timeout: Duration) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let p = predictions(app).await;
        if p.len() >= n {
            return p;
        }
        assert!(started.elapsed() < timeout, "only {} of {n} predictions after {timeout:?}", p.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn captures_in_both_camera_folders_are_scored_stored_and_archived() {
    let dir = tempfile::tempdir().unwrap();
    let app = wheel_app(dir.path()).await;
    let cams = dir.path().join("cameras");
    let specs = [
        spec("W01", "Cam_01", 1, None),
        spec("W02", "Cam_01", 2, Some((FailureMode::Chunking, 0.9))),
        spec("W03", "Cam_02", 3, None),
        spec("W04", "Cam_02", 4, Some((FailureMode::FlatSpot, 0.95))),
    ];
    for s in &specs {
        write(&cams, s);
    }
    let preds = wait_for(&app, 4, Duration::from_secs(30)).await;
    let health =
        |wheel: &str| preds.iter().find(|p| p["asset"] == wheel).map(|p| p["health_score"].as_f64().unwrap()).unwrap();
    assert!(health("W01") >= 70.0 && health("W03") >= 70.0, "healthy wheels: {preds:?}");
    assert!(health("W02") < 70.0 && health("W04") < 70.0, "severe defects: {preds:?}");
    for p in &preds {
        assert_eq!(p["model"], "wheel-health");
        assert!(p["model_version"].as_str().unwrap().contains('.'));
    }
    let per_asset: Value = app.get("/v1/predictions?asset=W02", Some(VIEWER_TOKEN)).await.json().await.unwrap();
    assert_eq!(per_asset["predictions"].as_array().unwrap().len(), 1);
    let asset: Value = app.get("/v1/assets/W02", Some(VIEWER_TOKEN)).await.json().await.unwrap();
    assert_eq!(asset["kind"], "wheel");
    assert_eq!(asset["latest"]["health_score"].as_f64().unwrap(), health("W02"));
    // The trend places a score when its capture was taken (these captures are dated in the past).
    let observed = preds.iter().find(|p| p["asset"] == "W04").unwrap()["observed_at"].as_str().unwrap().to_string();
    let observed = chrono::DateTime::parse_from_rfc3339(&observed).unwrap().with_timezone(&chrono::Utc);
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT00:00:00Z").to_string();
    let path = format!(
        "/v1/assets/W04/trend?bucket=1d&from={}&to={}",
        day(observed),
        day(observed + chrono::Duration::days(1))
    );
    let trend: Value = app.get(&path, Some(VIEWER_TOKEN)).await.json().await.unwrap();
    let default: Value = app.get("/v1/assets/W04/trend", Some(VIEWER_TOKEN)).await.json().await.unwrap();
    let recent = chrono::Utc::now() - observed < chrono::Duration::days(7);
    assert_eq!(default["buckets"].as_array().unwrap().is_empty(), !recent, "default: the last 7 days: {default}");
    let buckets = trend["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 1, "{trend}");
    assert_eq!(buckets[0]["count"], 1);
    assert_eq!(buckets[0]["min"].as_f64().unwrap(), health("W04"));
    assert_eq!(buckets[0]["max"].as_f64().unwrap(), health("W04"));
    let bad = app.get("/v1/assets/W04/trend?metric=voltage", Some(VIEWER_TOKEN)).await;
    assert_eq!(bad.status(), 422);
    // Other metrics: the capture's mean height, and a wheel-v1 feature of its feature row.
    for metric in ["mean_height", "wheel-v1:flat_spot_depth"] {
        let t: Value = app.get(&format!("{path}&metric={metric}"), Some(VIEWER_TOKEN)).await.json().await.unwrap();
        assert_eq!(t["buckets"][0]["count"], 1, "{metric}: {t}");
        assert_eq!(t["metric"], metric);
    }
    assert_eq!(app.get("/v1/assets/nope", Some(VIEWER_TOKEN)).await.status(), 404);
    // Listings: assets by kind in id order, paged by cursor, each with its latest prediction.
    let get = |path: String| {
        let app = &app;
        async move { app.get(&path, Some(VIEWER_TOKEN)).await.json::<Value>().await.unwrap() }
    };
    let page = get("/v1/assets?kind=wheel&limit=3".into()).await;
    let ids: Vec<&str> = page["assets"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["W01", "W02", "W03"], "{page}");
    assert_eq!(page["next"], "W03");
    assert_eq!(page["assets"][1]["latest"]["health_score"].as_f64().unwrap(), health("W02"));
    let last = get("/v1/assets?kind=wheel&limit=3&after=W03".into()).await;
    assert_eq!(last["assets"].as_array().unwrap().len(), 1);
    assert_eq!((&last["assets"][0]["id"], &last["next"]), (&json!("W04"), &Value::Null));
    assert_eq!(get("/v1/assets?kind=inverter".into()).await["assets"], json!([]));
    assert_eq!(app.get("/v1/assets?kind=pump", Some(VIEWER_TOKEN)).await.status(), 422);
    // Predictions: newest observation first, paged, filtered by model, version and time.
    let mut seen = Vec::new();
    let mut path = "/v1/predictions?limit=3".to_string();
    loop {
        let page = get(path.clone()).await;
        seen.extend(page["predictions"].as_array().unwrap().iter().map(|p| p["asset"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/predictions?limit=3&after={}", next.replace('+', "%2B")),
            None => break,
        }
    }
    assert_eq!(seen, ["W04", "W03", "W02", "W01"], "pages cover every prediction once, newest capture first");
    let recent =
        get("/v1/predictions?model=wheel-health&from=2026-11-22T10:00:03Z&to=2026-11-22T10:00:04Z".into()).await;
    let recent: Vec<&str> =
        recent["predictions"].as_array().unwrap().iter().map(|p| p["asset"].as_str().unwrap()).collect();
    assert_eq!(recent, ["W03"], "from inclusive, to exclusive");
    assert_eq!(get("/v1/predictions?model_version=0.0.0".into()).await["predictions"], json!([]));
    assert_eq!(app.get("/v1/predictions?after=yesterday", Some(VIEWER_TOKEN)).await.status(), 422);
    assert_eq!(app.get("/v1/predictions?limit=0", Some(VIEWER_TOKEN)).await.status(), 422);
    // Processed pairs leave the camera folders for the archive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for cam in ["Cam_01", "Cam_02"] {
        assert!(files_in(&cams.join(cam)).is_empty(), "{cam} still has {:?}", files_in(&cams.join(cam)));
        assert_eq!(files_in(&dir.path().join("archive").join(cam)).len(), 4);
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    // The recorder is shared by every test in this binary: at least this test's two Cam_01 captures.
    let scored: f64 = metrics
        .lines()
        .find(|l| {
            l.starts_with("prognos_captures_total{pipeline=\"wheel-cameras\",camera=\"Cam_01\",outcome=\"scored\"}")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    assert!(scored >= 2.0, "{metrics}");
    assert!(metrics.contains("prognos_capture_seconds_bucket"));
    app.stop().await;
}

#[tokio::test]
async fn a_second_copy_or_a_restart_never_scores_twice() {
    let dir = tempfile::tempdir().unwrap();
    let cams = dir.path().join("cameras");
    let app = wheel_app(dir.path()).await;
    let stem = write(&cams, &spec("W05", "Cam_01", 5, None));
    wait_for(&app, 1, Duration::from_secs(30)).await;
    // Copy the archived pair back in: same content, same hash.
    let archived = dir.path().join("archive/Cam_01");
    let name = stem.file_name().unwrap().to_string_lossy().into_owned();
    for ext in ["xml", "dat"] {
        std::fs::copy(archived.join(format!("{name}.{ext}")), cams.join("Cam_01").join(format!("copy.{ext}"))).unwrap();
    }
    let started = Instant::now();
    while !files_in(&cams.join("Cam_01")).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "the copy was never taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(predictions(&app).await.len(), 1, "a copy must not be scored again");
    app.stop().await;

    // Files left in the folders while the service is down are taken at the next start, once.
    for second in 10..16 {
        write(&cams, &spec(&format!("W{second}"), "Cam_02", second, None));
    }
    let app = wheel_app(dir.path()).await;
    let preds = wait_for(&app, 7, Duration::from_secs(30)).await;
    assert_eq!(preds.len(), 7);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(predictions(&app).await.len(), 7);
    app.stop().await;
}

#[tokio::test]
async fn the_rfid_log_names_the_wheel_and_its_run_count() {
    let dir = tempfile::tempdir().unwrap();
    let cams = dir.path().join("cameras");
    std::fs::create_dir_all(&cams).unwrap();
    std::fs::write(
        cams.join("rfid.csv"),
        "timestamp,wheel_id\n2026-11-22T09:00:00Z,RF-7\n2026-11-22T10:00:20.300Z,RF-7\n2026-11-22T10:00:40Z,RF-8\n",
    )
    .unwrap();
    let app = wheel_app(dir.path()).await;
    write(&cams, &spec("FILE-A", "Cam_01", 20, None)); // 300 ms from RF-7's second pass
    write(&cams, &spec("FILE-B", "Cam_01", 30, None)); // nothing within 1 s: the file name's id
    let preds = wait_for(&app, 2, Duration::from_secs(30)).await;
    let assets: Vec<&str> = preds.iter().map(|p| p["asset"].as_str().unwrap()).collect();
    assert!(assets.contains(&"RF-7") && assets.contains(&"FILE-B"), "{assets:?}");
    let store =
        prognos_store::Store::connect(&format!("sqlite://{}", dir.path().join("store.db").display())).await.unwrap();
    let rf7 = store.predictions_for_asset("RF-7", 10).await.unwrap();
    assert_eq!(rf7.len(), 1);
    app.stop().await;
}

/// Writes a pair by hand (bytes as given) with a plain write, not a rename.
fn write_raw(cams: &Path, camera: &str, stem: &str, xml: Option<&[u8]>, dat: Option<&[u8]>) {
    let dir = cams.join(camera);
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(x) = xml {
        std::fs::write(dir.join(format!("{stem}.xml")), x).unwrap();
    }
    if let Some(d) = dat {
        std::fs::write(dir.join(format!("{stem}.dat")), d).unwrap();
    }
}

#[tokio::test]
async fn every_kind_of_bad_capture_is_quarantined_with_its_reason_and_the_service_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let cams = dir.path().join("cameras");
    let app = wheel_app(dir.path()).await;
    let good = simulate(&spec("W01", "Cam_01", 1, None)).unwrap();
    let (xml, dat) = encode(&good).unwrap();
    let mut float = spec("W02", "Cam_01", 2, None);
    float.encoding = prognos_simulate::Encoding::FloatMm;
    let (fxml, mut fdat) = encode(&simulate(&float).unwrap()).unwrap();
    fdat[400..404].copy_from_slice(&f32::NAN.to_le_bytes());
    let width = good.width;
    // (stem, .xml bytes, .dat bytes, a word the reason must contain)
    type Case<'a> = (&'a str, Option<Vec<u8>>, Option<Vec<u8>>, &'a str);
    let cases: Vec<Case> = vec![
        ("truncated", Some(xml.clone().into_bytes()), Some(dat[..dat.len() - 7].to_vec()), "truncated"),
        ("empty-dat", Some(xml.clone().into_bytes()), Some(Vec::new()), "empty"),
        ("not-icon", Some(b"<html><body>hello</body></html>".to_vec()), Some(dat.clone()), "icon"),
        ("absurd-width", Some(xml.replace(&format!(">{width}<"), ">1000000000<").into_bytes()), Some(dat.clone()), ""),
        ("unknown-type", Some(xml.replacen("\"WORD\"", "\"QUAD\"", 1).into_bytes()), Some(dat.clone()), "QUAD"),
        ("nan-float", Some(fxml.into_bytes()), Some(fdat), "NaN"),
        ("dat-only", None, Some(dat.clone()), "did not arrive"),
        ("xml-only", Some(xml.clone().into_bytes()), None, "did not arrive"),
    ];
    for (stem, x, d, _) in &cases {
        write_raw(&cams, "Cam_01", stem, x.as_deref(), d.as_deref());
    }
    let quarantine = dir.path().join("quarantine/Cam_01");
    let started = Instant::now();
    loop {
        let reasons = files_in(&quarantine).into_iter().filter(|f| f.ends_with(".reason")).count();
        if reasons == cases.len() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "quarantined so far: {:?}", files_in(&quarantine));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (stem, x, d, needle) in &cases {
        let reason = std::fs::read_to_string(quarantine.join(format!("{stem}.reason"))).unwrap();
        assert!(reason.to_lowercase().contains(&needle.to_lowercase()), "{stem}: {reason}");
        assert_eq!(quarantine.join(format!("{stem}.xml")).exists(), x.is_some(), "{stem}: the .xml is kept");
        assert_eq!(quarantine.join(format!("{stem}.dat")).exists(), d.is_some(), "{stem}: the .dat is kept");
    }
    // The service kept going.
    write(&cams, &spec("W09", "Cam_02", 9, None));
    let preds = wait_for(&app, 1, Duration::from_secs(30)).await;
    assert_eq!(preds.len(), 1);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    let quarantined: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("prognos_captures_total") && l.contains("outcome=\"quarantined\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(quarantined, cases.len() as f64, "{metrics}");
    app.stop().await;
}
