//! Load generator for model operations (not criterion: the figures are latencies under concurrent load).
//!
//! 1. Hot swap: 4 clients score single rows without pause while 200 consecutive swaps load, warm and activate a
//!    new version (and unload the retired one, as the service does). Reports failed requests (must be 0), the
//!    swap time (load + warm + pointer swap) median and p99, and resident memory growth from swap 10 to 200.
//! 2. Shadow overhead: the latency of one-row scoring requests from 2 concurrent clients, without and with a
//!    shadow candidate attached; median and p99 of each.
//!
//! `cargo bench -p prognos-scoring --bench model_ops` (needs `.venv` with onnxruntime, as the service does).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prognos_scoring::{serve, FeatureBatch, ModelSet, RuntimeLocator, SessionOptions, WorkerOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Writes `root/wheel-health/<version>/` from the committed 1.0.0 (same graph, card renamed).
fn install(root: &Path, version: &str) -> PathBuf {
    let from = repo().join("models/wheel-health/1.0.0");
    let to = root.join("wheel-health").join(version);
    std::fs::create_dir_all(&to).unwrap();
    std::fs::copy(from.join("model.onnx"), to.join("model.onnx")).unwrap();
    let card = std::fs::read_to_string(from.join("card.toml")).unwrap();
    std::fs::write(to.join("card.toml"), card.replacen("version = \"1.0.0\"", &format!("version = \"{version}\""), 1))
        .unwrap();
    to
}

/// One holdout row in the card's feature order.
fn row() -> Vec<f32> {
    let text = std::fs::read_to_string(repo().join("training-data/wheels/holdout.csv")).unwrap();
    let line = text.lines().nth(1).unwrap();
    let cols: Vec<&str> = line.split(',').collect();
    cols[4..cols.len() - 2].iter().map(|v| v.parse().unwrap()).collect()
}

struct Clients {
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicU64>,
    ok: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<Vec<f64>>>,
}

/// `record`: keep every latency (phase 2). Phase 1 does not, so that the bench's own growing vectors do not
/// count as the service's memory growth.
fn start_clients(
    rt: &tokio::runtime::Runtime,
    set: &Arc<ModelSet>,
    n: usize,
    pause: Duration,
    record: bool,
) -> Clients {
    let (stop, failed, ok) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let values = row();
    let tasks = (0..n)
        .map(|_| {
            let (stop, failed, ok, set, values) =
                (stop.clone(), failed.clone(), ok.clone(), set.clone(), values.clone());
            rt.spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let result = match set.resolve("wheel-health") {
                        Ok(h) => h.score_for(FeatureBatch { values: values.clone(), rows: 1 }, Some("W01")).await,
                        Err(e) => Err(e),
                    };
                    if record {
                        latencies.push(t.elapsed().as_secs_f64() * 1e6);
                    }
                    match result {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
                latencies
            })
        })
        .collect();
    Clients { stop, failed, ok, tasks }
}

fn stop_clients(rt: &tokio::runtime::Runtime, c: Clients) -> (u64, u64, Vec<f64>) {
    c.stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in c.tasks {
        all.extend(rt.block_on(t).unwrap());
    }
    all.sort_by(f64::total_cmp);
    (c.ok.load(Ordering::Relaxed), c.failed.load(Ordering::Relaxed), all)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let registry = tempfile::tempdir().unwrap();
    let session =
        SessionOptions { intra_threads: 1, locator: RuntimeLocator { configured: None, python_env: ".venv".into() } };
    let workers = WorkerOptions::default();
    let set = Arc::new(ModelSet::default());
    set.insert(serve(&install(registry.path(), "1.0.0"), &session, workers).unwrap());

    // 1. 200 consecutive swaps under load.
    let clients = start_clients(&rt, &set, 4, Duration::ZERO, false);
    let swaps: usize = std::env::var("SWAPS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let mut rss_trace = Vec::new();
    let mut times = Vec::new();
    let mut rss_at_10 = 0;
    for i in 1..=swaps {
        let version = format!("1.0.{i}");
        let dir = install(registry.path(), &version);
        let t = Instant::now();
        let handle = serve(&dir, &session, workers).unwrap();
        set.insert_inactive(handle);
        set.activate("wheel-health", &version).unwrap();
        set.retain("wheel-health", &[]);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        std::fs::remove_dir_all(&dir).ok();
        if i == 10 {
            rss_at_10 = rss_kib();
        }
        if i % 50 == 0 {
            rss_trace.push(format!("{i}: {} KiB", rss_kib()));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let rss_end = rss_kib();
    let (ok, failed, _) = stop_clients(&rt, clients);
    times.sort_by(f64::total_cmp);
    println!(
        "swaps: {swaps} under 4 clients: {ok} requests ok, {failed} failed; swap (load+warm+activate) median {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms; RSS after swap 10 {} KiB, after swap {swaps} {} KiB ({:+.2}%)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().unwrap(),
        rss_at_10,
        rss_end,
        (rss_end as f64 / rss_at_10 as f64 - 1.0) * 100.0
    );

    println!("RSS every 50 swaps: {}", rss_trace.join(", "));

    // 2. Shadow overhead: 2 clients pacing 1-row requests, without and with a shadow.
    let active = set.active_version("wheel-health").unwrap();
    set.insert_inactive(serve(&install(registry.path(), "2.0.0"), &session, workers).unwrap());
    let measure = |label: &str| {
        let clients = start_clients(&rt, &set, 2, Duration::from_micros(200), true);
        std::thread::sleep(Duration::from_secs(5));
        let (ok, failed, lat) = stop_clients(&rt, clients);
        let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
        println!("{label}: {ok} requests ({failed} failed), latency median {p50:.0} us, p99 {p99:.0} us");
        (p50, p99)
    };
    let (base50, base99) = measure("no shadow");
    set.set_shadow("wheel-health", Some("2.0.0")).unwrap();
    let (sh50, sh99) = measure("with shadow");
    let report = set.shadow_report("wheel-health").unwrap();
    println!(
        "shadow overhead: median {:+.1}%, p99 {:+.1}% (shadow compared {} rows, skipped {} batches; active {active})",
        (sh50 / base50 - 1.0) * 100.0,
        (sh99 / base99 - 1.0) * 100.0,
        report.rows,
        report.skipped_batches
    );
}
