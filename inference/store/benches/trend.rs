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

use std::time::Duration as StdDuration;

use chrono::Duration;
use criterion::{criterion_group, criterion_main, Criterion};
use prognos_store::testing::bulk::{bench_databases, bench_spec, BulkSpec, YEAR_OF_FIVE_MINUTES as PER_ASSET};
use prognos_store::{Store, TrendMetric, TrendPlan, TrendRequest};

fn trend(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let spec = bench_spec();
    let mut stores = Vec::new();
    for (name, url) in runtime.block_on(bench_databases(&spec)) {
        stores.push((name, runtime.block_on(Store::connect(&url)).unwrap()));
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
