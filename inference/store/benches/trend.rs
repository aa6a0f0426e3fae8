//! The trend target: one asset's year of 5-minute predictions in daily buckets, with ~10 million predictions
//! stored (96 assets x 105,120), on SQLite and on PostgreSQL; each plan (one index range per bucket, one grouped
//! pass) side by side, and the default picks per-bucket for up to `PER_BUCKET_MAX` buckets.
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/t-me cargo bench -p prognos-store --bench trend
//! ```
//!
//! The first run loads the data once (a few minutes per engine), generated inside each database:
//! - SQLite: `<target dir>/prognos-bench/trend-10m.db` (`$CARGO_TARGET_DIR`, else the workspace's `target/`;
//!   `PROGNOS_BENCH_DIR` overrides the folder);
//! - PostgreSQL: database `prognos_bench_trend` on `PROGNOS_BENCH_POSTGRES_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`); skipped with a note when unreachable.
//!
//! Later runs find the rows and go straight to measuring. `PROGNOS_BENCH_ASSETS` changes the asset count (and so
//! the total); delete the file / drop the database to reload.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use prognos_store::testing::bulk::BulkSpec;
use prognos_store::{Store, TrendMetric, TrendPlan, TrendRequest};
use sqlx::{ConnectOptions, Connection};

const PER_ASSET: u64 = 365 * 24 * 12;

fn spec() -> BulkSpec {
    let assets: u32 = std::env::var("PROGNOS_BENCH_ASSETS").ok().and_then(|v| v.parse().ok()).unwrap_or(96);
    BulkSpec {
        assets,
        total: u64::from(assets) * PER_ASSET,
        start: Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap(),
        interval: Duration::minutes(5),
        batch: 500_000,
    }
}

fn bench_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PROGNOS_BENCH_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("prognos-bench")
}

/// Opens the store, loading the rows once if they are not all there.
async fn prepared(url: &str, spec: &BulkSpec, what: &str) -> Store {
    let store = Store::connect(url).await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let have = store.count_predictions().await.unwrap() as u64;
    if have != spec.total {
        assert_eq!(have, 0, "{what} holds {have} predictions, not {}: delete it to reload", spec.total);
        eprintln!("{what}: loading {} predictions (one time)...", spec.total);
        let started = Instant::now();
        store
            .bulk_load_synthetic_predictions(spec, |n| {
                eprintln!("  {what}: {n} rows, {:.0} s", started.elapsed().as_secs_f64());
            })
            .await
            .unwrap();
        eprintln!("{what}: loaded in {:.0} s", started.elapsed().as_secs_f64());
    }
    store
}

async fn postgres_url() -> Option<String> {
    let admin = std::env::var("PROGNOS_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| prognos_store::testing::DEFAULT_POSTGRES_URL.to_string());
    let options = sqlx::postgres::PgConnectOptions::from_str(&admin).ok()?;
    let mut conn = match tokio::time::timeout(StdDuration::from_secs(5), options.connect()).await {
        Ok(Ok(conn)) => conn,
        _ => {
            eprintln!("note: PostgreSQL at {admin} is unreachable; skipping the PostgreSQL trend bench");
            return None;
        }
    };
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = 'prognos_bench_trend'")
        .fetch_optional(&mut conn)
        .await
        .ok()?;
    if exists.is_none() {
        sqlx::raw_sql("CREATE DATABASE prognos_bench_trend").execute(&mut conn).await.ok()?;
    }
    conn.close().await.ok();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    Some(format!("{base}/prognos_bench_trend"))
}

fn trend(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let spec = spec();
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite_url = format!("sqlite://{}", dir.join("trend-10m.db").display());
    let mut stores = vec![("sqlite", runtime.block_on(prepared(&sqlite_url, &spec, "sqlite")))];
    if let Some(url) = runtime.block_on(postgres_url()) {
        stores.push(("postgres", runtime.block_on(prepared(&url, &spec, "postgres"))));
    }
    let asset = BulkSpec::asset_id(spec.assets / 2);
    let year = TrendRequest {
        asset_id: asset.clone(),
        metric: TrendMetric::HealthScore,
        from: spec.start,
        to: spec.start + Duration::days(365),
        bucket: Duration::days(1),
    };
    let mut group = c.benchmark_group("trend_year_daily_buckets");
    group.sample_size(30).measurement_time(StdDuration::from_secs(10));
    for (name, store) in &stores {
        let mut answers = Vec::new();
        for plan in [TrendPlan::PerBucket, TrendPlan::Grouped] {
            let buckets = runtime.block_on(store.trend_planned(&year, Some(plan))).unwrap();
            assert_eq!(buckets.len(), 365, "{name} {plan:?}");
            assert_eq!(buckets.iter().map(|b| b.count).sum::<i64>() as u64, PER_ASSET, "{name} {plan:?}");
            answers.push(buckets.iter().map(|b| (b.start, b.min, b.max, b.count)).collect::<Vec<_>>());
            group.bench_function(format!("{name}/{plan:?}"), |b| {
                b.iter(|| runtime.block_on(store.trend_planned(&year, Some(plan))).unwrap())
            });
        }
        assert_eq!(answers[0], answers[1], "{name}: the plans disagree");
    }
    group.finish();
    let mut group = c.benchmark_group("trend_week_hourly_buckets");
    group.sample_size(30);
    let week = TrendRequest {
        from: spec.start + Duration::days(200),
        to: spec.start + Duration::days(207),
        bucket: Duration::hours(1),
        ..year.clone()
    };
    for (name, store) in &stores {
        for plan in [TrendPlan::PerBucket, TrendPlan::Grouped] {
            group.bench_function(format!("{name}/{plan:?}"), |b| {
                b.iter(|| runtime.block_on(store.trend_planned(&week, Some(plan))).unwrap())
            });
        }
    }
    group.finish();
    for (_, store) in stores {
        runtime.block_on(store.close());
    }
}

criterion_group!(benches, trend);
criterion_main!(benches);
