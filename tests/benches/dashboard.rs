//! Dashboard pages with the trend benchmark's data: ~10 million predictions (96 wheels, a year of 5-minute
//! predictions each), on SQLite and on PostgreSQL. The real application serves the pages; a logged-in client asks
//! for each page `PAGES_N` times (default 30) one at a time over loopback, after two unmeasured requests, and the
//! time to the last byte of the HTML is recorded: the server's render time plus a loopback round trip. Reports
//! the median, p90 and max per page.
//!
//! Pages: the fleet (96 wheels ranked, 14 days of daily averages, alerts, sources), the asset page of the middle
//! wheel (default range: its whole year of predictions in daily buckets; then 30 days and one day), and the model
//! page; and the trend API for the year in daily buckets (JSON). The capture page needs a stored capture, which these
//! predictions do not have: it is timed (with its height and intensity pictures) on the dashboard test's scenario,
//! real captures stored by the wheel pipeline.
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

/// Logs in through the form; returns the session cookie.
async fn login(app: &TestApp, client: &reqwest::Client) -> String {
    let login = client.post(format!("{}/login", app.address)).form(&[("token", VIEWER_TOKEN), ("next", "/fleet")]);
    let login = login.send().await.unwrap();
    assert_eq!(login.status(), 303);
    login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

/// Times each of `pages` `n` times (after two unmeasured requests) and prints median, p90 and max.
async fn time_pages(name: &str, app: &TestApp, pages: &[String], n: usize) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cookie = login(app, &client).await;
    for page in pages {
        let mut samples = Vec::with_capacity(n);
        let mut bytes = 0;
        for i in 0..n + 2 {
            let started = Instant::now();
            let resp = client
                .get(format!("{}{page}", app.address))
                .header("cookie", &cookie)
                .bearer_auth(VIEWER_TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{page}");
            let body = resp.bytes().await.unwrap();
            let took = started.elapsed();
            let whole = if page.starts_with("/v1/") {
                String::from_utf8_lossy(&body).matches("\"count\"").count() == 365
            } else if page.ends_with(".png") {
                body.starts_with(b"\x89PNG")
            } else {
                String::from_utf8_lossy(&body).contains("</html>")
            };
            assert!(whole, "{page}: not a whole answer");
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
}

/// The pages over the 10-million-prediction database at `url`.
async fn big_data(name: &str, url: String, spec: &BulkSpec, n: usize) {
    let app = TestApp::spawn_with(&[], |s| {
        s.store.url = Some(url);
        s.models.dir = repo_root().join("models");
        s.models.serve = vec!["wheel-health".into()];
    })
    .await;
    let asset = BulkSpec::asset_id(spec.assets / 2);
    let pages = [
        "/fleet".to_string(),
        format!("/assets/{asset}"),
        format!("/assets/{asset}?range=30d"),
        format!("/assets/{asset}?range=1d"),
        "/models/wheel-health".to_string(),
        format!(
            "/v1/assets/{asset}/trend?metric=health_score&from=2023-01-01T00:00:00Z&to=2024-01-01T00:00:00Z&bucket=1d"
        ),
    ];
    time_pages(name, &app, &pages, n).await;
    app.stop().await;
}

/// The capture page and its two pictures, for a real 600-profile capture stored by the wheel pipeline (the
/// dashboard test's scenario: 12 captures on SQLite).
async fn capture_page(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let app = prognos_tests::dashboard::app(dir.path()).await;
    prognos_tests::dashboard::feed(&app, dir.path()).await;
    let pages: Vec<String> = ["", "/height.png", "/intensity.png"].iter().map(|p| format!("/captures/1{p}")).collect();
    time_pages("sqlite (12 captures)", &app, &pages, n).await;
    app.stop().await;
}

fn main() {
    let n: usize = std::env::var("PAGES_N").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let spec = bench_spec();
        for (name, url) in bench_databases(&spec).await {
            big_data(name, url, &spec, n).await;
        }
        capture_page(n).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}
