//! Alert benchmarks against the real application on loopback, with the Twilio stand-in as the provider.
//!
//! - latency: threshold crossed to the first SMS request on the wire, no `for` duration, `group_wait_ms = 0`.
//!   One capture at a time, each a new wheel the test model scores 40; from the prediction's `scored_at` (the
//!   moment the score exists, just before it is stored and judged) to the stand-in's receive timestamp of the SMS
//!   naming that wheel. Reports p50/p90/p99/max over `LATENCY_N` samples.
//! - burst: scoring throughput (`POST /v1/score/wheel-health`, 64-row batches, 2 clients) for `SCORE_S` seconds
//!   alone, then for `SCORE_S` seconds while 10,000 alerting predictions (10,000 wheels below 70) are judged by an
//!   alert engine and outbox worker in the same process on the same store, grouped (`group_wait_ms = 2000`) and
//!   sent to the stand-in. Reports both throughputs side by side, the burst's duration and how many messages the
//!   10,000 alerts became.
//!
//!   The burst runs twice: arriving evenly over `BURST_S` seconds (default 60: the target's "10,000 in one
//!   minute"), then as fast as the engine judges them.
//!
//! `cargo bench -p prognos-tests --bench alerts` (env: LATENCY_N, default 200; BURST_N, default 10000; SCORE_S,
//! default 10; BURST_S, default 60)

#[path = "../tests/alerts_support/mod.rs"]
mod alerts_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alerts_support::{shot, Setup, Stack, TECH};
use prognos_alerts::engine::{AlertEngine, EngineConfig};
use prognos_alerts::notify::{Notifier, TwilioConfig, TwilioNotifier};
use prognos_alerts::outbox::{OutboxOptions, OutboxWorker};
use prognos_tests::VIEWER_TOKEN;
use tokio_util::sync::CancellationToken;

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn latency(n: usize) {
    let shots: Vec<_> = (0..n).map(|i| shot(&format!("B{i:04}"), i as u32, Some(40.0))).collect();
    let stack = Stack::start(&shots, Setup::default()).await;
    let mut samples = Vec::with_capacity(n);
    for (i, s) in shots.iter().enumerate() {
        let wheel = format!("B{i:04}");
        stack.capture(s).await;
        let started = Instant::now();
        let sms = loop {
            if let Some(m) = stack.sms_to(TECH).into_iter().find(|m| m.body.contains(&wheel)) {
                break m;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no SMS for {wheel}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let prediction = stack.store.predictions_for_asset(&wheel, 1).await.unwrap();
        let crossed = prediction[0].scored_at;
        samples.push((sms.at - crossed).num_microseconds().unwrap() as f64 / 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "alerts latency (threshold crossed -> SMS on the wire), n={n}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, \
         max {:.1} ms",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
    stack.stop().await;
}

/// Scores 64-row batches with 2 clients until `stop`; returns rows scored.
async fn score_load(address: String, seconds: u64) -> f64 {
    let row: Vec<f32> = (0..23).map(|i| i as f32 * 0.1).collect();
    let body = serde_json::json!({ "rows": vec![row; 64] }).to_string();
    let rows = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (rows, stop, body, address) = (rows.clone(), stop.clone(), body.clone(), address.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    let r = client
                        .post(format!("{address}/v1/score/wheel-health"))
                        .bearer_auth(VIEWER_TOKEN)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    rows.fetch_add(64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    rows.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// `over_s`: the predictions arrive evenly over this many seconds (the target's "in one minute"); 0 sends them
/// as fast as the engine takes them (a harsher case).
async fn burst(n: usize, seconds: u64, over_s: u64) {
    let stack = Stack::start(&[shot("W00", 0, Some(90.0))], Setup::default()).await;
    let alone = score_load(stack.app.address.clone(), seconds).await;

    // The same engine and worker the service runs, in the same process, on the same store.
    let config: EngineConfig = serde_json::from_value(serde_json::json!({
        "route": { "name": "burst", "group_wait_ms": 2000, "escalate_after_s": 0,
                   "levels": [[{ "name": "tech", "sms": TECH }]] }
    }))
    .unwrap();
    let twilio: TwilioConfig = serde_json::from_value(serde_json::json!({
        "base_url": stack.twilio.base_url(), "account_sid": alerts_support::ACCOUNT,
        "auth_token": "not-a-real-token", "from": "+15005550001",
    }))
    .unwrap();
    let notifiers: Vec<Arc<dyn Notifier>> = vec![Arc::new(TwilioNotifier::new(twilio).unwrap())];
    let options = OutboxOptions { poll_interval_ms: 100, ..OutboxOptions::default() };
    let worker = OutboxWorker::new(stack.store.clone(), notifiers, options).unwrap();
    let engine = Arc::new(AlertEngine::new(stack.store.clone(), config).unwrap().with_outbox_waker(worker.waker()));
    let token = CancellationToken::new();
    let worker = tokio::spawn(worker.run(token.clone()));
    let ticker = {
        let (engine, token) = (engine.clone(), token.clone());
        tokio::spawn(async move {
            while !token.is_cancelled() {
                engine.tick(chrono::Utc::now()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let before = stack.twilio.requests().len();
    let started = Instant::now();
    let producer = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let gap = Duration::from_secs_f64(over_s as f64 / n as f64);
            let start = tokio::time::Instant::now();
            for i in 0..n {
                if over_s > 0 {
                    tokio::time::sleep_until(start + gap * i as u32).await;
                }
                let asset = format!("X{i:05}");
                engine
                    .observe_health("burst", "site-b", &asset, 40.0, "wheel-health@1.0.0", chrono::Utc::now())
                    .await
                    .unwrap();
            }
            Instant::now()
        })
    };
    let during = score_load(stack.app.address.clone(), seconds).await;
    let judged_at = producer.await.unwrap();
    let drained = loop {
        let counts = stack.store.notification_counts().await.unwrap();
        let filter =
            prognos_store::AlertFilter { route: Some("burst".into()), firing_or_notice: true, ..Default::default() };
        let firing = stack.store.alerts(&filter).await.unwrap();
        let waiting = firing.iter().filter(|a| a.pending_notice.is_some()).count();
        if counts.pending + counts.sending == 0 && waiting == 0 {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    token.cancel();
    worker.await.unwrap();
    ticker.await.unwrap();
    let sms = stack.twilio.requests().len() - before;
    println!(
        "alerts burst ({}): {n} alerting predictions judged in {:.1} s, all told in {:.1} s as {sms} SMS; \
         scoring {alone:.0} rows/s alone vs {during:.0} rows/s during the burst ({:+.1}%)",
        if over_s > 0 { format!("arriving over {over_s} s") } else { "as fast as judged".to_string() },
        (judged_at - started).as_secs_f64(),
        (drained - started).as_secs_f64(),
        (during / alone - 1.0) * 100.0
    );
    stack.stop().await;
}

#[tokio::main]
async fn main() {
    let n = env_n("LATENCY_N", 200);
    if n > 0 {
        latency(n).await;
    }
    let b = env_n("BURST_N", 10_000);
    if b > 0 {
        burst(b, env_n("SCORE_S", 10) as u64, env_n("BURST_S", 60) as u64).await;
        burst(b, env_n("SCORE_S", 10) as u64, 0).await;
    }
}
