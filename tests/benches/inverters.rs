//! Inverter ingest benchmarks on the embedded default (SQLite), with the shipped `kaggle-plant-1` pipeline and
//! the shipped `inverter-health` model, on real data (Kaggle Plant 1, 68,778 readings of 22 inverters).
//!
//! - file: `InverterPipeline::ingest_csv_file` of all of Plant 1 into a fresh store, the path `prognos ingest`
//!   and the drop folder take: parse, validate, store readings, recompute every touched window (1 h and 1 d) with
//!   polars, score the daily windows, store feature rows and predictions. `FILE_RUNS` runs (default 5), each on
//!   a new store; also the parse alone, to show where the time goes.
//! - http: `POST /v1/ingest/kaggle-plant-1` with JSON batches of 1,000 readings, one at a time, against the
//!   running service on loopback: `HTTP_PASSES` passes (default 3) over Plant 1 (68 batches each), each pass
//!   shifted 35 days later so every batch is new data. Latency from send to the answer (which comes after
//!   the batch is stored, its windows recomputed and scored).
//! - mqtt: one reading published (QoS 1) to the pipeline's topic on the local Mosquitto, then polled for in
//!   the store until its inverter's daily window carries a prediction scored after the publish: "published to
//!   stored and scored". `MQTT_N` readings (default 200), one at a time, with the pipeline's default linger
//!   (20 ms).
//!
//! `cargo bench -p prognos-tests --bench inverters`

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use prognos_core::{PipelineFile, Settings};
use prognos_server::ingest::inverters::InverterPipeline;
use prognos_store::{PredictionFilter, Store};
use prognos_tests::{plant_1_pipeline, real_data, repo_root, TestApp, ADMIN_TOKEN};
use serde_json::{json, Value};

const PLANT_1_ROWS: usize = 68_778;

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "n {}, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        percentile(&ms, 0.99),
        ms[ms.len() - 1]
    )
}

fn plant_1_file() -> std::path::PathBuf {
    real_data("kaggle-solar-plants/Plant_1_Generation_Data.csv")
}

fn settings() -> Settings {
    let mut s = Settings::default();
    s.models.dir = repo_root().join("models");
    s.models.python_env = repo_root().join(".venv");
    s
}

async fn file_runs(runs: usize) {
    let settings = settings();
    let file = PipelineFile::load(&repo_root().join("pipelines/kaggle-plant-1.toml")).unwrap();
    let models = prognos_server::commands::ingest::load_model(&settings, &file.model.name);
    assert!(!models.is_empty(), "the inverter-health model did not load");
    let mut parse_s = Vec::new();
    let mut total_s = Vec::new();
    for run in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("bench.db").display())).await.unwrap();
        let p = InverterPipeline::new(file.clone(), &repo_root(), store.clone(), Arc::clone(&models)).unwrap();
        // The parse alone (the same reader, chunk by chunk), then the whole path.
        let mapping = Arc::clone(&p.mapping);
        let path = plant_1_file();
        let started = Instant::now();
        let parsed = tokio::task::spawn_blocking(move || {
            let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
            let mut rows = mapping.csv(reader).unwrap();
            let mut n = 0;
            loop {
                let chunk = rows.next_chunk(prognos_server::ingest::inverters::CHUNK_ROWS).unwrap();
                if chunk.is_empty() {
                    break n;
                }
                n += chunk.len();
            }
        })
        .await
        .unwrap();
        parse_s.push(started.elapsed().as_secs_f64());
        assert_eq!(parsed, PLANT_1_ROWS);
        let started = Instant::now();
        let r = p.ingest_csv_file(&plant_1_file()).await.unwrap();
        let took = started.elapsed().as_secs_f64();
        total_s.push(took);
        assert_eq!((r.accepted as usize, r.rejected), (PLANT_1_ROWS, 0), "{r:#?}");
        assert!(r.scored >= 22 * 34, "scored windows: {}", r.scored);
        println!(
            "file run {run}: {:.3} s ({:.0} readings/s), {} windows stored, {} scored by {}",
            took,
            PLANT_1_ROWS as f64 / took,
            r.windows,
            r.scored,
            r.scoring.as_deref().unwrap_or("-")
        );
        store.close().await;
    }
    total_s.sort_by(f64::total_cmp);
    parse_s.sort_by(f64::total_cmp);
    let (total, parse) = (percentile(&total_s, 0.5), percentile(&parse_s, 0.5));
    println!(
        "file: all of Plant 1 end to end, median {:.3} s ({:.0} readings/s); min {:.3} s; parse alone median {:.3} s \
         ({:.0} readings/s)",
        total,
        PLANT_1_ROWS as f64 / total,
        total_s[0],
        parse,
        PLANT_1_ROWS as f64 / parse
    );
}

/// Plant 1's rows as JSON objects keyed by the site's columns, dates shifted by `shift_days`.
fn plant_1_rows(shift_days: i64) -> Vec<Value> {
    let text = std::fs::read_to_string(plant_1_file()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            let mut row = serde_json::Map::new();
            for (name, value) in header.iter().zip(line.split(',')) {
                let v = match *name {
                    "DATE_TIME" => {
                        let t = NaiveDateTime::parse_from_str(value, "%d-%m-%Y %H:%M").unwrap()
                            + chrono::Duration::days(shift_days);
                        json!(t.format("%d-%m-%Y %H:%M").to_string())
                    }
                    "SOURCE_KEY" => json!(value),
                    _ => json!(value.parse::<f64>().unwrap()),
                };
                row.insert(name.to_string(), v);
            }
            Value::Object(row)
        })
        .collect()
}

async fn http(app: &TestApp, passes: usize) -> NaiveDateTime {
    let mut ms = Vec::new();
    // Split by whether the batch crosses the plant's local midnight (two days of windows to recompute).
    let (mut one_day, mut two_days) = (Vec::new(), Vec::new());
    let mut last = NaiveDateTime::default();
    for pass in 0..passes {
        let rows = plant_1_rows(35 * pass as i64);
        last = NaiveDateTime::parse_from_str(rows[rows.len() - 1]["DATE_TIME"].as_str().unwrap(), "%d-%m-%Y %H:%M")
            .unwrap();
        for batch in rows.chunks(1000) {
            let body = json!({ "readings": batch }).to_string();
            let started = Instant::now();
            let answer = app.post("/v1/ingest/kaggle-plant-1", Some(ADMIN_TOKEN), body).await;
            let status = answer.status();
            let report: Value = answer.json().await.unwrap();
            let took = started.elapsed().as_secs_f64() * 1e3;
            ms.push(took);
            let day = |r: &Value| r["DATE_TIME"].as_str().unwrap()[..10].to_string();
            if day(&batch[0]) == day(&batch[batch.len() - 1]) { &mut one_day } else { &mut two_days }.push(took);
            assert_eq!(status, 200, "{report:#}");
            assert_eq!(report["accepted"].as_u64(), Some(batch.len() as u64), "{report:#}");
            assert!(report["scored"].as_u64().unwrap() > 0, "{report:#}");
        }
    }
    println!("http: JSON batch of 1,000 readings, send to answer: {}", summary(ms));
    println!("http: within one local day: {}", summary(one_day));
    println!("http: across a local midnight: {}", summary(two_days));
    last
}

async fn mqtt(store: &Store, topic: &str, after: NaiveDateTime, n: usize) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut options = MqttOptions::new(format!("prognos-bench-pub-{}", std::process::id()), "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 64);
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    let inverters: Vec<String> =
        plant_1_rows(0).iter().take(22).map(|r| r["SOURCE_KEY"].as_str().unwrap().to_string()).collect();
    // Noon of the day after the last HTTP reading, one inverter at a time, 15 minutes apart per round.
    let base = after.date().succ_opt().unwrap().and_hms_opt(10, 0, 0).unwrap();
    let reading = |i: usize| {
        let at = base + chrono::Duration::minutes(15 * (i / inverters.len()) as i64);
        json!({"DATE_TIME": at.format("%d-%m-%Y %H:%M").to_string(), "PLANT_ID": 4135001,
            "SOURCE_KEY": inverters[i % inverters.len()], "DC_POWER": 9000.0 + i as f64, "AC_POWER": 880.0,
            "DAILY_YIELD": 1000.0, "TOTAL_YIELD": 7_000_000.0 + i as f64})
    };
    // The subscription is made when the service connects: the first reading is published until it lands.
    let started = Instant::now();
    loop {
        client.publish(topic, QoS::AtLeastOnce, false, reading(0).to_string()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        if scored_since(store, &inverters[0], started_utc(started)).await {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the service never took an MQTT reading");
    }
    let mut ms = Vec::new();
    for i in 1..=n {
        let asset = &inverters[i % inverters.len()];
        let t0 = Utc::now();
        let started = Instant::now();
        client.publish(topic, QoS::AtLeastOnce, false, reading(i).to_string()).await.unwrap();
        while !scored_since(store, asset, t0).await {
            assert!(started.elapsed() < Duration::from_secs(10), "reading {i} not scored within 10 s");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    println!("mqtt: one reading published to stored and scored: {}", summary(ms));
}

fn started_utc(started: Instant) -> chrono::DateTime<Utc> {
    Utc::now() - chrono::Duration::from_std(started.elapsed()).unwrap()
}

/// Whether `asset`'s newest window carries a prediction scored at or after `t0` (less 1 ms of rounding).
async fn scored_since(store: &Store, asset: &str, t0: chrono::DateTime<Utc>) -> bool {
    let filter = PredictionFilter { asset_id: Some(asset.to_string()), limit: 1, ..Default::default() };
    let newest = store.list_predictions(&filter).await.unwrap();
    newest.first().is_some_and(|p| p.scored_at >= t0 - chrono::Duration::milliseconds(1))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        file_runs(env_n("FILE_RUNS", 5)).await;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let topic = format!("prognos-bench/{}/readings", std::process::id());
        std::fs::create_dir_all(root.join("pipelines")).unwrap();
        let default_linger = 20;
        std::fs::write(
            root.join("pipelines/plant.toml"),
            plant_1_pipeline(&root, &topic, "kaggle-plant-1", default_linger),
        )
        .unwrap();
        let app = TestApp::spawn_with(&[], |s| {
            s.models.dir = repo_root().join("models");
            s.models.serve = vec!["inverter-health".into()];
            s.pipelines.disabled = false;
            s.pipelines.dir = root.join("pipelines");
            s.store.url = Some(format!("sqlite://{}", root.join("store.db").display()));
            s.data_dir = root.join("data");
        })
        .await;
        let last = http(&app, env_n("HTTP_PASSES", 3)).await;
        if std::net::TcpStream::connect_timeout(&"127.0.0.1:1883".parse().unwrap(), Duration::from_secs(2)).is_err() {
            println!("mqtt: skipped, no broker at 127.0.0.1:1883");
        } else {
            let store = Store::connect(&format!("sqlite://{}", root.join("store.db").display())).await.unwrap();
            mqtt(&store, &topic, last, env_n("MQTT_N", 200)).await;
            store.close().await;
        }
        app.stop().await;
        drop(dir);
    });
}
