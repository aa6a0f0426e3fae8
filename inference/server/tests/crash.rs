//! `kill -9` in the middle of a backlog of captures, then a restart: every capture ends up stored exactly
//! once and every file leaves the camera folder.

mod support;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prognos_formats::icon::write_pair;
use prognos_simulate::{capture_stem, simulate, WheelSpec};
use prognos_store::Store;
use support::serve;

#[tokio::test]
async fn kill_dash_nine_mid_backlog_loses_nothing_and_scores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(
        root.join("pipelines/wheels.toml"),
        "[pipeline]\nname = \"wheel-cameras\"\nkind = \"wheel-cameras\"\nsite = \"t\"\nfeature_set = \"wheel-v1\"\n\
         [cameras]\nroot = \"cameras\"\ncameras = [\"Cam_01\"]\nrescan_ms = 50\nsettle_ms = 200\n\
         [model]\nname = \"wheel-health\"\n",
    )
    .unwrap();
    let total: i64 = 24;
    std::fs::create_dir_all(root.join("cameras/Cam_01")).unwrap();
    for i in 0..total {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap() + chrono::Duration::seconds(i);
        let mut spec = WheelSpec::healthy(&format!("W{i:02}"), "Cam_01", at, 7000 + i as u64);
        spec.profiles = 800;
        write_pair(&capture_stem(&root.join("cameras"), &spec), &simulate(&spec).unwrap()).unwrap();
    }
    let url = format!("sqlite://{}", root.join("data/prognos.db").display());

    let (mut first, _) = serve(root).await;
    let started = Instant::now();
    let store = loop {
        if let Ok(s) = Store::connect(&url).await {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    loop {
        let n = store.count_captures().await.unwrap();
        if n >= 5 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "nothing was stored");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL: no shutdown path runs
    first.wait().unwrap();
    let at_kill = store.count_captures().await.unwrap();
    assert!(at_kill < total, "the backlog was finished before the kill ({at_kill}); make it larger");

    let (mut second, _) = serve(root).await;
    let started = Instant::now();
    loop {
        let left = std::fs::read_dir(root.join("cameras/Cam_01")).unwrap().count();
        if store.count_captures().await.unwrap() == total && left == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "after restart: {left} files left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(store.count_captures().await.unwrap(), total);
    assert_eq!(store.count_predictions().await.unwrap(), total, "no capture scored twice");
    let archived = std::fs::read_dir(root.join("data/archive/wheel-cameras/Cam_01")).unwrap().count();
    assert_eq!(archived, total as usize * 2);
}
