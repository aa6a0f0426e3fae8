//! Inverter readings end to end: HTTP batches (JSON and CSV), the drop folder and MQTT (against the real local
//! broker) all feed one path; every bad-input case is counted by reason; the NREL file goes through by its TOML
//! alone. (A `kill -9` mid-file, then a re-run: `inference/server/tests/inverter_crash.rs`.)

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prognos_core::PipelineFile;
use prognos_scoring::ModelSet;
use prognos_server::ingest::inverters::InverterPipeline;
use prognos_store::Store;
use prognos_tests::{
    plant_1_pipeline, real_data as real, repo_root, TestApp, ADMIN_TOKEN, OPERATOR_TOKEN, VIEWER_TOKEN,
};
use serde_json::{json, Value};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The app with Plant 1's pipeline renamed `name`: metrics are process-wide, so tests running side by side in
/// this binary use different names to keep their counters apart.
async fn plant_app(dir: &Path, topic: &str, name: &str) -> TestApp {
    plant_app_keeping(dir, topic, name, 0).await
}

/// [`plant_app`] with retention: raw rows older than `retention_days` are folded away (checked every second).
async fn plant_app_keeping(dir: &Path, topic: &str, name: &str, retention_days: u32) -> TestApp {
    let root = dir.to_path_buf();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(root.join("pipelines/plant.toml"), plant_1_pipeline(&root, topic, name, 5)).unwrap();
    TestApp::spawn_with(&[], move |s| {
        s.models.dir = repo_root().join("models");
        s.models.serve = vec!["wheel-health".into(), "inverter-health".into()];
        s.pipelines.disabled = false;
        s.pipelines.dir = root.join("pipelines");
        s.store.url = Some(format!("sqlite://{}", root.join("store.db").display()));
        s.store.retention_days = retention_days;
        s.store.retention_interval_s = 1;
        s.data_dir = root.join("data");
    })
    .await
}

async fn store_of(dir: &Path) -> Store {
    Store::connect(&format!("sqlite://{}", dir.join("store.db").display())).await.unwrap()
}

const HEADER: &str = "DATE_TIME,PLANT_ID,SOURCE_KEY,DC_POWER,AC_POWER,DAILY_YIELD,TOTAL_YIELD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_batches_count_every_bad_row_and_store_good_ones_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = plant_app(dir.path(), &format!("prognos-test/{}/http", std::process::id()), "plant").await;
    let row = |t: &str, inv: &str, ac: Value, total: f64| {
        json!({"DATE_TIME": t, "PLANT_ID": 1, "SOURCE_KEY": inv, "DC_POWER": 100.0, "AC_POWER": ac,
               "DAILY_YIELD": 0, "TOTAL_YIELD": total})
    };
    let body = json!({"readings": [
        row("15-05-2020 12:00", "INV-A", json!(900.0), 1000.0),
        row("15-05-2020 12:00", "INV-B", json!(880.0), 2000.0),
        row("15-05-2020 12:15", "INV-A", json!(910.0), 1010.0),
        row("15-05-2020 12:15", "INV-A", json!(910.0), 1010.0),          // duplicate in the batch
        row("yesterday", "INV-A", json!(1.0), 1.0),                      // unparseable timestamp
        row("15-05-2020 12:30", "", json!(1.0), 1.0),                    // missing asset
        row("15-05-2020 12:30", "INV-A", json!("n/a"), 1.0),             // not a number
        row("15-05-2020 12:30", "INV-B", json!("NaN"), 1.0),             // NaN
        row("15-05-2099 12:30", "INV-A", json!(1.0), 1.0),               // future
        row("15-05-2020 12:45", "INV-A", json!(920.0), 5.0),             // counter reset (kept)
        row("15-05-2020 11:45", "INV-B", json!(870.0), 1990.0),          // out of order (kept)
        json!({"DATE_TIME": "15-05-2020 12:30", "SOURCE_KEY": "INV-A", "TOTAL_YIELD": 1}), // missing AC_POWER
        json!({"DATE_TIME": "15-05-2030 12:30", "SOURCE_KEY": "INV-A", "AC_POWER": 1, "DC_POWER": 1,
               "TOTAL_YIELD": 1, "FIRMWARE": "2.1"}),                   // unknown column (reported), future
    ]});
    let resp = app.post("/v1/ingest/plant", Some(OPERATOR_TOKEN), body.to_string()).await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["rows"], 13, "{r:#}");
    assert_eq!(r["accepted"], 5, "{r:#}");
    assert_eq!(r["duplicate"], 1);
    assert_eq!(r["rejected"], 7);
    let by = &r["rejected_by_reason"];
    assert_eq!(by["unparseable_timestamp"], 1);
    assert_eq!(by["missing_asset"], 1);
    assert_eq!(by["not_a_number"], 1);
    assert_eq!(by["nan_value"], 1);
    assert_eq!(by["future_timestamp"], 2);
    assert_eq!(by["missing_column"], 1);
    // 5 after 1010 (INV-A), and the late INV-B row (1990 after 2000): compared with the previous row.
    assert_eq!(r["warnings"]["counter_reset"], 2);
    assert_eq!(r["warnings"]["out_of_order"], 1);
    assert_eq!(r["unknown_columns"], json!(["FIRMWARE"]));
    assert_eq!(r["rejections"][0]["row"], 5);
    assert_eq!(r["rejections"][0]["reason"], "unparseable_timestamp");

    // The same batch again: nothing new, every good row a duplicate.
    let r: Value = app.post("/v1/ingest/plant", Some(ADMIN_TOKEN), body.to_string()).await.json().await.unwrap();
    assert_eq!((r["accepted"].as_u64(), r["duplicate"].as_u64()), (Some(0), Some(6)), "{r:#}");

    // CSV with a negative irradiance is impossible here (weather comes from the station file), so: CSV body.
    let csv = format!("{HEADER}\n15-05-2020 13:00,1,INV-A,100,930,0,1030\n15-05-2020 13:00,1,INV-C,oops,1,0,1\n");
    let resp = app
        .client
        .post(format!("{}/v1/ingest/plant", app.address))
        .bearer_auth(OPERATOR_TOKEN)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let r: Value = resp.json().await.unwrap();
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(1)), "{r:#}");
    // The weather station's row at 13:00 was joined in (irradiance in W/m2).
    let store = store_of(dir.path()).await;
    let t = chrono::DateTime::parse_from_rfc3339("2020-05-15T07:30:00Z").unwrap().with_timezone(&chrono::Utc);
    let back = store.readings_in_range("plant-site", t, t + chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(back.len(), 1);
    assert!(back[0].get(prognos_core::Metric::IrradianceWM2).is_some_and(|v| v > 100.0), "{back:?}");
    assert_eq!(store.count_readings(Some("plant-site")).await.unwrap(), 6);
    // The daily windows export in the training-data format, each with the readings it holds.
    let export = app
        .get("/v1/exports/features.csv?feature_set=inverter-v1&site=plant-site", Some(VIEWER_TOKEN))
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = export.lines().collect();
    let training = std::fs::read_to_string(repo_root().join("training-data/inverters/kaggle-plant-1.csv")).unwrap();
    assert_eq!(lines.first(), training.lines().next().as_ref(), "the training-data header");
    assert_eq!(lines.len(), 3, "{export}");
    let day = "2020-05-14T18:30:00Z,2020-05-15T18:30:00Z,plant-site"; // local midnight (+05:30) to midnight
    assert!(lines[1].starts_with(&format!("plant-site/INV-A/2020-05-14T18:30:00Z,{day},INV-A,4,")), "{export}");
    assert!(lines[2].starts_with(&format!("plant-site/INV-B/2020-05-14T18:30:00Z,{day},INV-B,2,")), "{export}");
    assert!(lines[1].ends_with(",,"), "label and severity are left empty: {export}");
    // The same windows, and the readings, as Parquet: the CSV's table, typed.
    for (query, rows) in [
        ("features.{}?feature_set=inverter-v1&site=plant-site", 2),
        ("readings.{}?site=plant-site&from=2020-05-14T00:00:00Z&to=2020-05-16T00:00:00Z", 6),
    ] {
        let path = |format: &str| format!("/v1/exports/{}", query.replace("{}", format));
        let csv = app.get(&path("csv"), Some(VIEWER_TOKEN)).await.text().await.unwrap();
        let parquet = app.get(&path("parquet"), Some(VIEWER_TOKEN)).await.bytes().await.unwrap();
        let frame = prognos_tests::parquet::read(&parquet);
        assert_eq!(prognos_tests::parquet::assert_same_table(&csv, &frame), rows, "{query}");
    }

    // A CSV without a required column is refused as a whole, naming it.
    let resp = app
        .client
        .post(format!("{}/v1/ingest/plant", app.address))
        .bearer_auth(OPERATOR_TOKEN)
        .header("content-type", "text/csv")
        .body("DATE_TIME,SOURCE_KEY,DC_POWER,TOTAL_YIELD\n15-05-2020 13:00,INV-A,1,1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let e: Value = resp.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("missing column \"AC_POWER\""), "{e}");

    // Access: viewers may not ingest; unknown pipelines are 404.
    assert_eq!(app.post("/v1/ingest/plant", Some(VIEWER_TOKEN), "[]").await.status(), 403);
    assert_eq!(app.post("/v1/ingest/plant", None, "[]").await.status(), 401);
    assert_eq!(app.post("/v1/ingest/nope", Some(ADMIN_TOKEN), "[]").await.status(), 404);

    // Rejections are in /metrics by pipeline and reason.
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("prognos_ingest_rejected_total") && l.contains("reason=\"future_timestamp\""))
        .unwrap_or_else(|| panic!("no future_timestamp counter in\n{metrics}"));
    assert!(line.contains("pipeline=\"plant\"") && line.ends_with(" 4"), "{line}");
    app.stop().await;
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !f().await {
        assert!(started.elapsed() < timeout, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drop_folder_archives_ingested_files_and_quarantines_refused_ones() {
    let dir = tempfile::tempdir().unwrap();
    let app = plant_app(dir.path(), &format!("prognos-test/{}/folder", std::process::id()), "plant").await;
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // Written elsewhere and renamed in, as a logger should; and a second file missing a column.
    let good = format!("{HEADER}\n15-05-2020 12:00,1,INV-A,100,900,0,1000\n15-05-2020 12:15,1,INV-A,100,bad,0,1001\n");
    std::fs::write(dir.path().join("good.tmp"), good).unwrap();
    std::fs::rename(dir.path().join("good.tmp"), inbox.join("good.csv")).unwrap();
    std::fs::write(inbox.join("bad.csv"), "DATE_TIME,SOURCE_KEY\n15-05-2020 12:00,INV-A\n").unwrap();
    let archive = dir.path().join("archive");
    let quarantine = dir.path().join("quarantine");
    wait_until("files leave the inbox", Duration::from_secs(20), || {
        let (a, q) = (archive.join("good.csv"), quarantine.join("bad.csv.reason"));
        async move { a.exists() && q.exists() }
    })
    .await;
    let report: Value = serde_json::from_slice(&std::fs::read(archive.join("good.csv.report.json")).unwrap()).unwrap();
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(1)), "{report:#}");
    assert_eq!(report["rejected_by_reason"]["not_a_number"], 1);
    let reason = std::fs::read_to_string(quarantine.join("bad.csv.reason")).unwrap();
    assert!(reason.contains("missing column \"DC_POWER\""), "{reason}");
    assert!(quarantine.join("bad.csv").exists());
    assert!(std::fs::read_dir(&inbox).unwrap().next().is_none(), "the inbox is empty");
    assert_eq!(store_of(dir.path()).await.count_readings(Some("plant-site")).await.unwrap(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_messages_are_stored_through_the_same_path() {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    // The broker must be there: under CI its absence fails the test; elsewhere it is skipped with a note.
    if std::net::TcpStream::connect_timeout(&"127.0.0.1:1883".parse().unwrap(), Duration::from_secs(2)).is_err() {
        assert!(!in_ci(), "the MQTT broker at 127.0.0.1:1883 is unreachable under CI=true");
        eprintln!("note: skipping the MQTT test, no broker at 127.0.0.1:1883");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let topic = format!("prognos-test/{}/{}/mqtt", std::process::id(), rand_suffix());
    let app = plant_app(dir.path(), &topic, "plant-mqtt").await;
    let store = store_of(dir.path()).await;
    let mut options = MqttOptions::new(format!("prognos-test-pub-{}", rand_suffix()), "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 64);
    let pump = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    // The subscription is made once the app has connected: publish until the first reading lands.
    let first = json!({"DATE_TIME": "15-05-2020 12:00", "PLANT_ID": 1, "SOURCE_KEY": "INV-M", "DC_POWER": 100,
        "AC_POWER": 900, "DAILY_YIELD": 0, "TOTAL_YIELD": 1});
    let started = Instant::now();
    loop {
        client.publish(&topic, QoS::AtLeastOnce, false, first.to_string()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        if store.count_readings(Some("plant-site")).await.unwrap() >= 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no MQTT reading stored within 20 s");
    }
    // An array message with one bad row, and a message that is not JSON: counted, the good rows stored.
    let batch = json!([
        {"DATE_TIME": "15-05-2020 12:15", "PLANT_ID": 1, "SOURCE_KEY": "INV-M", "DC_POWER": 100, "AC_POWER": 905,
         "DAILY_YIELD": 0, "TOTAL_YIELD": 2},
        {"DATE_TIME": "15-05-2020 12:30", "PLANT_ID": 1, "SOURCE_KEY": "INV-M", "DC_POWER": 100, "AC_POWER": 910,
         "DAILY_YIELD": 0, "TOTAL_YIELD": 3},
        {"DATE_TIME": "garbage", "PLANT_ID": 1, "SOURCE_KEY": "INV-M", "DC_POWER": 100, "AC_POWER": 910,
         "DAILY_YIELD": 0, "TOTAL_YIELD": 3}
    ]);
    client.publish(&topic, QoS::AtLeastOnce, false, "{not json").await.unwrap();
    client.publish(&topic, QoS::AtLeastOnce, false, batch.to_string()).await.unwrap();
    wait_until("three MQTT readings stored", Duration::from_secs(10), || {
        let store = store.clone();
        async move { store.count_readings(Some("plant-site")).await.unwrap() == 3 }
    })
    .await;
    // The counters are bumped after the batch is stored: poll /metrics until they show it.
    let rejected = |l: &str| {
        l.starts_with("prognos_ingest_rejected_total")
            && l.contains("pipeline=\"plant-mqtt\"")
            && l.contains("reason=\"unparseable_timestamp\"")
            && l.ends_with(" 1")
    };
    let refused = |l: &str| {
        l.starts_with("prognos_ingest_refused_total") && l.contains("pipeline=\"plant-mqtt\"") && l.ends_with(" 1")
    };
    let started = Instant::now();
    loop {
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        if metrics.lines().any(rejected) && metrics.lines().any(refused) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "rejection counters not in /metrics: {metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.disconnect().await.ok();
    pump.abort();
    app.stop().await;
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 % 1_000_000_007
}

async fn pipeline(toml: &str, store: &Store) -> Arc<InverterPipeline> {
    let file = PipelineFile::load(&repo_root().join("pipelines").join(toml)).unwrap();
    Arc::new(InverterPipeline::new(file, &repo_root(), store.clone(), Arc::new(ModelSet::default())).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nrel_file_goes_through_by_its_toml_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path()).await;
    let p = pipeline("nrel-rsf-ii.toml", &store).await;
    let r = p.ingest_csv_file(&real("nrel-pvdaq/nrel_RSF_II.csv")).await.unwrap();
    assert_eq!((r.rows, r.accepted, r.duplicate, r.rejected), (480, 480, 0, 0), "{r:#?}");
    assert!(r.unknown_columns.is_empty());
    // Five days: 5 daily windows and 120 hourly ones, stored as feature rows of the one inverter.
    assert_eq!(r.windows, 5 + 120, "{r:#?}");
    let asset = store.asset("nrel-rsf-ii-inv2").await.unwrap().unwrap();
    assert_eq!(asset.kind, prognos_store::AssetKind::Inverter);
    // Local standard time -07:00: the first row (1/2/2022 0:00) is 07:00 UTC.
    assert_eq!(asset.first_seen.to_rfc3339(), "2022-01-02T07:00:00+00:00");
    store.close().await;
}

/// The live path computes only the windows a batch touches, from the store; training computed the whole file
/// at once. Plant 2's stored daily windows must be the rows `training-data/inverters/real-kaggle-plant-2.csv`
/// holds (written by `prognos simulate inverters` from the same file): same windows, same values, the slow
/// features (degradation, peer trend) included, with the AC limit the training used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_windows_are_the_windows_the_model_was_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path()).await;
    let p = pipeline("kaggle-plant-2.toml", &store).await;
    let replica = pipeline("kaggle-plant-2.toml", &store).await;
    // As a site sends it: in pieces that end mid-day (here seven files of 10,000 rows), each a batch whose
    // windows are recomputed when it is stored. The first four go to one pipeline, which recomputes a piece's
    // first day from the readings it kept of the last; the rest alternate with a second pipeline on the same
    // store (a replica), whose kept readings then lack the other's part of the day, which must be read. Each
    // piece's windows are computed while it is stored, from what it parsed and what the pipeline kept: used for
    // the first pipeline's pieces, discarded (the store holds more in the span) for the replica's and for the
    // first pipeline's piece after one of the replica's.
    let file = std::fs::read_to_string(real("kaggle-solar-plants/Plant_2_Generation_Data.csv")).unwrap();
    let (head, body) = file.split_once('\n').unwrap();
    let rows: Vec<&str> = body.lines().collect();
    for (i, piece) in rows.chunks(10_000).enumerate() {
        let path = dir.path().join(format!("piece-{i}.csv"));
        std::fs::write(&path, format!("{head}\n{}\n", piece.join("\n"))).unwrap();
        let by = if i == 4 || i == 6 { &replica } else { &p };
        let r = by.ingest_csv_file(&path).await.unwrap();
        assert_eq!((r.rejected, r.accepted), (0, piece.len() as u64), "{r:#?}");
    }
    let live = store.windows_of_site("kaggle-plant-2", "inverter-v1").await.unwrap();
    // And the whole file at once into a new store: its windows come from the readings in hand (nothing else is
    // stored in their span), not read back; they must be the same.
    let whole_dir = tempfile::tempdir().unwrap();
    let whole_store = store_of(whole_dir.path()).await;
    let whole = pipeline("kaggle-plant-2.toml", &whole_store).await;
    let r = whole.ingest_csv_file(&real("kaggle-solar-plants/Plant_2_Generation_Data.csv")).await.unwrap();
    assert_eq!((r.rejected, r.accepted), (0, rows.len() as u64), "{r:#?}");
    let at_once = whole_store.windows_of_site("kaggle-plant-2", "inverter-v1").await.unwrap();
    assert_eq!(at_once.len(), live.len());
    for (a, b) in at_once.iter().zip(&live) {
        assert_eq!((&a.asset_id, a.window_start), (&b.asset_id, b.window_start));
        for ((name, x), (_, y)) in a.values.iter().zip(&b.values) {
            let same = (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * y.abs().max(1e-9);
            assert!(same, "{} {} {name}: whole file {x}, in pieces {y}", a.asset_id, a.window_start);
        }
    }
    whole_store.close().await;

    let text = std::fs::read_to_string(repo_root().join("training-data/inverters/real-kaggle-plant-2.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let features = &header[6..header.len() - 2];
    let trained: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(live.len(), trained.len(), "one stored window per inverter and local day of the file");
    let mut slow_defined = 0;
    for (w, t) in live.iter().zip(&trained) {
        let when = w.window_start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!((w.asset_id.as_str(), when.as_str()), (t[4], t[1]), "windows in the same order");
        let names: Vec<&str> = w.values.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, features);
        for ((name, got), want) in w.values.iter().zip(&t[6..t.len() - 2]) {
            let want: f64 = if want.is_empty() { f64::NAN } else { want.parse().unwrap() };
            let same = (got.is_nan() && want.is_nan()) || (got - want).abs() <= 1e-9 * want.abs().max(1e-9);
            assert!(same, "{} {when} {name}: live {got}, training {want}", w.asset_id);
            if name == "degradation_pct_per_year" && got.is_finite() {
                slow_defined += 1;
            }
        }
    }
    assert!(slow_defined > 22 * 20, "degradation is defined once a week of history exists: {slow_defined}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_folds_old_raw_rows_into_daily_aggregates_the_trend_still_shows() {
    let dir = tempfile::tempdir().unwrap();
    let topic = format!("prognos-test/{}/retention", std::process::id());
    // Two days of Plant 1 through HTTP, kept raw (retention off).
    let app = plant_app(dir.path(), &topic, "plant-kept").await;
    let file = std::fs::read_to_string(real("kaggle-solar-plants/Plant_1_Generation_Data.csv")).unwrap();
    let two_days: Vec<&str> = file.lines().take_while(|l| !l.starts_with("17-05-2020")).collect();
    let resp = app
        .client
        .post(format!("{}/v1/ingest/plant-kept", app.address))
        .bearer_auth(OPERATOR_TOKEN)
        .header("content-type", "text/csv")
        .body(two_days.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let store = store_of(dir.path()).await;
    let readings = store.count_readings(Some("plant-site")).await.unwrap();
    assert_eq!(readings as usize, two_days.len() - 1);
    let predictions = store.count_predictions().await.unwrap();
    assert!(predictions > 0);
    let trend = "/v1/assets/1BY6WEcLGh8j5v7/trend?metric=health_score&from=2020-05-14T00:00:00Z\
                 &to=2020-05-18T00:00:00Z&bucket=1d";
    let before: Value = app.get(trend, Some(VIEWER_TOKEN)).await.json().await.unwrap();
    let power = trend.replace("metric=health_score", "metric=ac_power_w");
    let power_before: Value = app.get(&power, Some(VIEWER_TOKEN)).await.json().await.unwrap();
    // The inverter's asset page charts its AC power and window features.
    let (status, page) = app.dashboard_session().await.page("/assets/1BY6WEcLGh8j5v7").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("AC power (W)") && page.contains("Efficiency (AC / DC)"), "{page}");
    app.stop().await;

    // Restarted keeping 30 days: the 2020 rows are folded into daily aggregates and deleted.
    let app = plant_app_keeping(dir.path(), &topic, "plant-kept", 30).await;
    let started = Instant::now();
    while store.count_readings(None).await.unwrap() > 0 || store.count_predictions().await.unwrap() > 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "retention did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.count_feature_rows().await.unwrap(), 0);
    let after: Value = app.get(trend, Some(VIEWER_TOKEN)).await.json().await.unwrap();
    let counts = |v: &Value| -> Vec<(String, i64)> {
        v["buckets"]
            .as_array()
            .unwrap_or_else(|| panic!("{v:#}"))
            .iter()
            .map(|b| (b["start"].as_str().unwrap().to_string(), b["count"].as_i64().unwrap()))
            .collect()
    };
    assert!(!counts(&before).is_empty(), "{before:#}");
    assert_eq!(counts(&after), counts(&before), "the trend reads the kept daily aggregates");
    assert_eq!(after["buckets"][0]["mean"], before["buckets"][0]["mean"]);
    // The readings' metrics were folded into daily aggregates too: the power trend keeps its days.
    let power_after: Value = app.get(&power, Some(VIEWER_TOKEN)).await.json().await.unwrap();
    assert_eq!(counts(&power_after), counts(&power_before), "{power_after:#}");
    let in_file = two_days.iter().filter(|l| l.contains(",1BY6WEcLGh8j5v7,")).count() as i64;
    assert_eq!(counts(&power_before).iter().map(|c| c.1).sum::<i64>(), in_file, "every reading of the inverter");
    let mean = |v: &Value| v["buckets"][1]["mean"].as_f64().unwrap();
    assert!((mean(&power_after) - mean(&power_before)).abs() < 1e-6 * mean(&power_before).abs().max(1.0));
    app.stop().await;
}
