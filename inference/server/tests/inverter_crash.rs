//! `kill -9` of `prognos ingest` in the middle of Kaggle Plant 1 (68,778 rows), then a re-run of the same
//! command: every reading is stored exactly once, the re-run counts what the killed run had committed as
//! duplicates, and a third run stores nothing new.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prognos_store::Store;
use prognos_tests::repo_root;
use serde_json::Value;

const PLANT_1_ROWS: u64 = 68_778;

fn ingest(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prognos"));
    cmd.args(["ingest", "--json", "--pipeline"])
        .arg(repo_root().join("pipelines/kaggle-plant-1.toml"))
        .arg(repo_root().join("../shared/data/real/kaggle-solar-plants/Plant_1_Generation_Data.csv"))
        // The pipeline names its weather file relative to the repository.
        .current_dir(repo_root())
        .env("PROGNOS__DATA_DIR", dir)
        .env("PROGNOS__MODELS__PYTHON_ENV", repo_root().join(".venv"))
        .env("PROGNOS__MODELS__DIR", repo_root().join("models"))
        .env("PROGNOS__LOG__FILTER", "warn");
    cmd
}

fn report_of(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "prognos ingest failed: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("report {line:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_mid_file_then_a_rerun_stores_every_reading_once() {
    let dir = tempfile::tempdir().unwrap();
    // Its stderr is kept to show why, should it end on its own (it is killed after a second or so of work).
    let mut first = ingest(dir.path()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let url = format!("sqlite://{}", dir.path().join("prognos.db").display());
    let started = Instant::now();
    let store = loop {
        if dir.path().join("prognos.db").exists() {
            if let Ok(s) = Store::connect(&url).await {
                break s;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the store never appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Kill as soon as a first chunk is committed, well before the file's end.
    loop {
        if store.count_readings(Some("kaggle-plant-1")).await.unwrap_or(0) > 0 {
            break;
        }
        if first.try_wait().unwrap().is_some() {
            let out = first.wait_with_output().unwrap();
            panic!("the first run ended before it could be killed: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(started.elapsed() < Duration::from_secs(120), "no chunk committed within 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let partial = store.count_readings(Some("kaggle-plant-1")).await.unwrap() as u64;
    assert!(partial > 0 && partial < PLANT_1_ROWS, "killed mid-file: {partial} stored");

    let out = tokio::task::spawn_blocking(move || ingest(dir.path()).output().map(|o| (o, dir))).await.unwrap();
    let (out, dir) = out.unwrap();
    let r = report_of(&out);
    assert_eq!(r["rows"], PLANT_1_ROWS, "{r:#}");
    assert_eq!(r["rejected"], 0, "{r:#}");
    assert_eq!(r["duplicate"], partial, "what the killed run committed counts as duplicates: {r:#}");
    assert_eq!(r["accepted"], PLANT_1_ROWS - partial, "{r:#}");
    assert_eq!(store.count_readings(Some("kaggle-plant-1")).await.unwrap() as u64, PLANT_1_ROWS);
    // Every window of the file is computed after the re-run: 34 days of 22 inverters at least (hourly too).
    assert!(r["windows"].as_u64().unwrap() >= 22 * 34, "{r:#}");
    assert!(r["scored"].as_u64().unwrap() >= 22 * 34, "the daily windows are scored: {r:#}");

    let out = tokio::task::spawn_blocking(move || ingest(dir.path()).output().map(|o| (o, dir))).await.unwrap();
    let (out, _dir) = out.unwrap();
    let r = report_of(&out);
    assert_eq!((r["accepted"].as_u64(), r["duplicate"].as_u64()), (Some(0), Some(PLANT_1_ROWS)), "{r:#}");
    assert_eq!(store.count_readings(Some("kaggle-plant-1")).await.unwrap() as u64, PLANT_1_ROWS);
    store.close().await;
}
