//! Load generator for the wheel-camera pipeline, against the real application on loopback folders.
//!
//! - latency: one capture at a time, from the moment its `.dat` is renamed into the camera folder (the pair
//!   is complete) to the moment the pair lands in the archive, which happens after its prediction is committed
//!   to the store. Reports p50/p90/p99/max.
//! - throughput: a backlog of captures (staged on the same file system, then renamed into the camera folder
//!   all at once); captures/s from the first rename to the last stored.
//!
//! Captures are the reference size: 2560 columns x 1000 profiles, WORD range, BYTE intensity, extended mark
//! (7.7 MB of .dat each), made by the simulator and written by the iCon writer (xml first, dat renamed last).
//!
//! `cargo bench -p prognos-tests --bench captures` (env: LATENCY_N, default 200; BURST_N, default 300)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prognos_formats::icon::encode;
use prognos_simulate::{simulate, FailureMode, WheelSpec};
use prognos_tests::{repo_root, TestApp};

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Pre-encoded captures (simulating them is not what is measured).
fn captures(n: usize) -> Vec<(String, String, Vec<u8>)> {
    let distinct = 16.min(n);
    let base: Vec<(String, Vec<u8>)> = (0..distinct)
        .map(|i| {
            let at = Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap();
            let mut spec = WheelSpec::healthy("W01", "Cam_01", at, 500 + i as u64);
            spec.profiles = 1000;
            spec.width = 2560;
            if i % 4 == 3 {
                spec.failure = Some((FailureMode::FlatSpot, 0.8));
            }
            encode(&simulate(&spec).unwrap()).unwrap()
        })
        .collect();
    (0..n)
        .map(|i| {
            let (xml, mut dat) = base[i % distinct].clone();
            // Every capture distinct: the last byte of mark data carries the sequence number.
            let len = dat.len();
            dat[len - 4..].copy_from_slice(&(i as u32).to_le_bytes());
            let at =
                Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + chrono::Duration::milliseconds(i as i64 * 40);
            let stem = format!("Cam_01_{}_W{:02}", at.format("%Y%m%dT%H%M%S%3fZ"), i % 32);
            (stem, xml, dat)
        })
        .collect()
}

/// Writes a pair the way the station does: .xml, then .dat to a hidden name renamed into place.
fn publish(dir: &Path, stem: &str, xml: &str, dat: &[u8]) -> PathBuf {
    std::fs::write(dir.join(format!("{stem}.xml")), xml).unwrap();
    let tmp = dir.join(format!(".{stem}.dat.tmp"));
    std::fs::write(&tmp, dat).unwrap();
    let target = dir.join(format!("{stem}.dat"));
    std::fs::rename(&tmp, &target).unwrap();
    target
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    // `cargo test --benches` runs this with --test/--bench flags: only do the work under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let latency_n = env_n("LATENCY_N", 200);
    let burst_n = env_n("BURST_N", 300);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(
        root.join("pipelines/wheels.toml"),
        format!(
            "[pipeline]\nname = \"bench\"\nkind = \"wheel-cameras\"\nsite = \"bench\"\nfeature_set = \"wheel-v1\"\n\
             [cameras]\nroot = \"{}\"\ncameras = [\"Cam_01\"]\nafter = \"archive\"\narchive_dir = \"{}\"\n\
             [model]\nname = \"wheel-health\"\n",
            root.join("cameras").display(),
            root.join("archive").display()
        ),
    )
    .unwrap();
    let cam = root.join("cameras/Cam_01");
    let archive = root.join("archive/Cam_01");
    std::fs::create_dir_all(&cam).unwrap();
    eprintln!("encoding {} captures ...", latency_n + burst_n);
    let all = captures(latency_n + burst_n);
    let dat_mb = all[0].2.len() as f64 / 1e6;
    let root2 = root.clone();
    let app = rt.block_on(TestApp::spawn_with(&[], move |s| {
        s.models.dir = repo_root().join("models");
        s.models.serve = vec!["wheel-health".into()];
        s.pipelines.disabled = false;
        s.pipelines.dir = root2.join("pipelines");
        s.log.filter = "warn".into();
    }));
    std::thread::sleep(Duration::from_millis(300));

    let mut latencies = Vec::with_capacity(latency_n);
    for (stem, xml, dat) in &all[..latency_n] {
        publish(&cam, stem, xml, dat);
        let t0 = Instant::now();
        let done = archive.join(format!("{stem}.dat"));
        while !done.exists() {
            assert!(t0.elapsed() < Duration::from_secs(10), "{stem} was not stored");
            std::thread::sleep(Duration::from_micros(200));
        }
        latencies.push(t0.elapsed());
    }
    latencies.sort();
    println!(
        "latency, one capture at a time ({latency_n} captures of {dat_mb:.1} MB): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.9).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );

    // The burst is staged on the same file system first, so that what is timed is the pipeline, not this
    // process writing 2 GB: then every pair is renamed into the camera folder at once (a full backlog).
    let burst = &all[latency_n..];
    let staging = root.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    for (stem, xml, dat) in burst {
        std::fs::write(staging.join(format!("{stem}.xml")), xml).unwrap();
        std::fs::write(staging.join(format!("{stem}.dat")), dat).unwrap();
    }
    let t0 = Instant::now();
    for (stem, _, _) in burst {
        for ext in ["xml", "dat"] {
            std::fs::rename(staging.join(format!("{stem}.{ext}")), cam.join(format!("{stem}.{ext}"))).unwrap();
        }
    }
    let written = t0.elapsed();
    // Pairs are stored in capture-time order, so the first not yet archived is where to look next.
    let mut next = 0;
    while next < burst.len() {
        if archive.join(format!("{}.dat", burst[next].0)).exists() {
            next += 1;
            continue;
        }
        assert!(t0.elapsed() < Duration::from_secs(600), "burst not stored: {next}");
        std::thread::sleep(Duration::from_millis(2));
    }
    let total = t0.elapsed();
    println!(
        "throughput, backlog of {} captures: moved in within {:.2} s, all stored after {:.2} s: {:.1} captures/s ({:.0} MB/s of .dat)",
        burst.len(),
        written.as_secs_f64(),
        total.as_secs_f64(),
        burst.len() as f64 / total.as_secs_f64(),
        burst.len() as f64 * dat_mb / total.as_secs_f64(),
    );
    rt.block_on(app.stop());
}
