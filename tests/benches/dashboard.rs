//! Dashboard pages with the trend benchmark's data: ~10 million predictions (96 wheels, a year of 5-minute
//! predictions each), on SQLite and on PostgreSQL. The real application serves the pages; a logged-in client asks
//! for each page `PAGES_N` times (default 30) one at a time over loopback, after two unmeasured requests, and the
//! time to the last byte of the HTML is recorded: the server's render time plus a loopback round trip. Reports
//! the median, p90 and max per page.
//!
//! Pages: the fleet (96 wheels ranked, 14 days of daily averages, alerts, sources), the asset page of the middle
//! wheel (default range: its whole year of predictions in daily buckets; then 30 days and one day), and the model
//! page. The capture page needs a stored capture, which these
//! predictions do not have: its figure comes from a smaller run (see BENCHMARKS.md).
//!
//! `cargo bench -p prognos-tests --bench dashboard` (the data is loaded on first use, as for
//! `cargo bench -p prognos-store --bench trend`, and shared with it).

use std::time::{Duration, Instant};

use prognos_store::testing::bulk::{bench_databases, bench_spec, BulkSpec};
use prognos_tests::{repo_root, TestApp, VIEWER_TOKEN};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn measure(name: &str, url: String, spec: &BulkSpec, n: usize) {
    let app = TestApp::spawn_with(&[], |s| {
        s.store.url = Some(url);
        s.models.dir = repo_root().join("models");
        s.models.serve = vec!["wheel-health".into()];
    })
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = client.post(format!("{}/login", app.address)).form(&[("token", VIEWER_TOKEN), ("next", "/fleet")]);
    let login = login.send().await.unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let asset = BulkSpec::asset_id(spec.assets / 2);
    let pages = [
        "/fleet".to_string(),
        format!("/assets/{asset}"),
        format!("/assets/{asset}?range=30d"),
        format!("/assets/{asset}?range=1d"),
        "/models/wheel-health".to_string(),
    ];
    for page in pages {
        let mut samples = Vec::with_capacity(n);
        let mut bytes = 0;
        for i in 0..n + 2 {
            let started = Instant::now();
            let resp = client.get(format!("{}{page}", app.address)).header("cookie", &cookie).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{page}");
            let body = resp.text().await.unwrap();
            let took = started.elapsed();
            assert!(body.contains("</html>"), "{page}: not a whole page");
            bytes = body.len();
            if i >= 2 {
                samples.push(took.as_secs_f64() * 1000.0);
            }
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "{name} {page}: median {:.1} ms, p90 {:.1} ms, max {:.1} ms ({} KiB, n={n})",
            percentile(&samples, 0.5),
            percentile(&samples, 0.9),
            samples[samples.len() - 1],
            bytes / 1024
        );
    }
    app.stop().await;
}

fn main() {
    let n: usize = std::env::var("PAGES_N").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let spec = bench_spec();
        for (name, url) in bench_databases(&spec).await {
            measure(name, url, &spec, n).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}
