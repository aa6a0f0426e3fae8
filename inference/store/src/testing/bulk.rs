//! Bulk synthetic predictions for benchmarks (feature `testing`): millions of rows generated inside the database
//! (`generate_series` on PostgreSQL, a recursive CTE on SQLite) in large transactions, so no row crosses the
//! client connection.

use chrono::{DateTime, Duration, Utc};

use crate::connect::{on_pool, Pool};
use crate::time::Ts;
use crate::{Store, StoreError};

/// What to generate: `assets` wheels (`B000`, `B001`, ...) at one site, each with one prediction every
/// `interval` from `start`, `total` predictions in all (time-major: every asset at t0, then at t1, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct BulkSpec {
    /// Number of assets.
    pub assets: u32,
    /// Total predictions.
    pub total: u64,
    /// The first observation time.
    pub start: DateTime<Utc>,
    /// Time between two predictions of one asset (whole seconds).
    pub interval: Duration,
    /// Rows per transaction.
    pub batch: u64,
}

impl BulkSpec {
    /// The id of asset `n`.
    pub fn asset_id(n: u32) -> String {
        format!("B{n:03}")
    }
}

fn insert_sql(pool: &Pool) -> &'static str {
    // $1 first row index, $2 last row index (exclusive), $3 assets, $4 start (epoch s), $5 interval (s).
    // Scores: a slow daily wave per asset plus hash noise, 0..100.
    match pool {
        Pool::Sqlite(_) => {
            "WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2)
             INSERT INTO predictions (asset_id, capture_id, feature_row_id, model, model_version, health_score, label,
                 probabilities, scored_at, observed_at)
             SELECT printf('B%03d', i % $3), NULL, NULL, 'bench-model', '1.0.0', s,
                 CASE WHEN s >= 50 THEN 'healthy' ELSE 'defect' END, '{\"healthy\":0.5,\"defect\":0.5}', t, t
             FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%S.000000Z', $4 + (i / $3) * $5, 'unixepoch') AS t,
                          ((i * 2654435761) % 10000) / 100.0 AS s FROM n)"
        }
        Pool::Postgres(_) => {
            "INSERT INTO predictions (asset_id, capture_id, feature_row_id, model, model_version, health_score, label,
                 probabilities, scored_at, observed_at)
             SELECT 'B' || lpad((i % $3)::text, 3, '0'), NULL, NULL, 'bench-model', '1.0.0', s,
                 CASE WHEN s >= 50 THEN 'healthy' ELSE 'defect' END, '{\"healthy\":0.5,\"defect\":0.5}', t, t
             FROM (SELECT i, to_timestamp($4 + (i / $3) * $5) AS t, ((i * 2654435761) % 10000) / 100.0 AS s
                   FROM generate_series($1::bigint, $2::bigint - 1) AS i) g"
        }
    }
}

impl Store {
    /// Generates `spec`'s predictions (and their site `bench` and assets), `spec.batch` rows per transaction,
    /// calling `progress` with the rows written so far after each. Returns the number of rows written.
    pub async fn bulk_load_synthetic_predictions(
        &self,
        spec: &BulkSpec,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, StoreError> {
        let interval = spec.interval.num_seconds();
        if spec.assets == 0 || spec.batch == 0 || interval < 1 {
            return Err(StoreError::InvalidInput("bulk spec: assets, batch and interval must be positive".into()));
        }
        let start = Ts::new(spec.start);
        let end = Ts::new(spec.start + spec.interval * (spec.total / u64::from(spec.assets) + 1) as i32);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO sites (id, first_seen, last_seen) VALUES ('bench', $1, $2) ON CONFLICT DO NOTHING")
                .bind(start)
                .bind(end)
                .execute(&mut *tx)
                .await?;
            for n in 0..spec.assets {
                sqlx::query(
                    "INSERT INTO assets (id, kind, site, first_seen, last_seen) VALUES ($1, 'wheel', 'bench', $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(BulkSpec::asset_id(n))
                .bind(start)
                .bind(end)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        let sql = insert_sql(&self.pool);
        let mut done = 0u64;
        while done < spec.total {
            let upto = (done + spec.batch).min(spec.total);
            on_pool!(self, pool => {
                sqlx::query(sql)
                    .bind(done as i64)
                    .bind(upto as i64)
                    .bind(i64::from(spec.assets))
                    .bind(spec.start.timestamp())
                    .bind(interval)
                    .execute(pool)
                    .await?;
            });
            done = upto;
            progress(done);
        }
        if let Pool::Postgres(pool) = &self.pool {
            // Index-only scans need the visibility map; fresh statistics pick the covering index.
            sqlx::raw_sql("VACUUM ANALYZE predictions").execute(pool).await?;
        } else if let Pool::Sqlite(pool) = &self.pool {
            sqlx::raw_sql("ANALYZE").execute(pool).await?;
        }
        Ok(done)
    }
}

/// Predictions per asset in the trend and page benchmarks: a year of 5-minute predictions.
pub const YEAR_OF_FIVE_MINUTES: u64 = 365 * 24 * 12;

/// The trend and page benchmarks' data: `PROGNOS_BENCH_ASSETS` wheels (default 96, so ~10 million predictions)
/// with a year of 5-minute predictions each from 2023-01-01.
pub fn bench_spec() -> BulkSpec {
    let assets: u32 = std::env::var("PROGNOS_BENCH_ASSETS").ok().and_then(|v| v.parse().ok()).unwrap_or(96);
    BulkSpec {
        assets,
        total: u64::from(assets) * YEAR_OF_FIVE_MINUTES,
        start: chrono::TimeZone::with_ymd_and_hms(&Utc, 2023, 1, 1, 0, 0, 0).unwrap(),
        interval: Duration::minutes(5),
        batch: 500_000,
    }
}

/// Where the benchmarks keep their SQLite file: `PROGNOS_BENCH_DIR`, else `prognos-bench/` in
/// `$CARGO_TARGET_DIR` or the workspace's `target/`.
pub fn bench_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("PROGNOS_BENCH_DIR") {
        return dir.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("prognos-bench")
}

/// The benchmark databases, loaded with `spec` once (later runs find the rows): `("sqlite", url)` for
/// `<bench_dir>/trend-10m.db`, and `("postgres", url)` for database `prognos_bench_trend` on
/// `PROGNOS_BENCH_POSTGRES_URL` (default [`DEFAULT_POSTGRES_URL`](crate::testing::DEFAULT_POSTGRES_URL)) when
/// that server answers. Panics on a database holding another number of predictions (delete it to reload).
pub async fn bench_databases(spec: &BulkSpec) -> Vec<(&'static str, String)> {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut urls = vec![("sqlite", format!("sqlite://{}", dir.join("trend-10m.db").display()))];
    if let Some(url) = bench_postgres_url().await {
        urls.push(("postgres", url));
    }
    for (what, url) in &urls {
        let store = Store::connect(url).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let have = store.count_predictions().await.unwrap() as u64;
        if have != spec.total {
            assert_eq!(have, 0, "{what} holds {have} predictions, not {}: delete it to reload", spec.total);
            eprintln!("{what}: loading {} predictions (one time)...", spec.total);
            let started = std::time::Instant::now();
            store
                .bulk_load_synthetic_predictions(spec, |n| {
                    eprintln!("  {what}: {n} rows, {:.0} s", started.elapsed().as_secs_f64());
                })
                .await
                .unwrap();
            eprintln!("{what}: loaded in {:.0} s", started.elapsed().as_secs_f64());
        }
        store.close().await;
    }
    urls
}

async fn bench_postgres_url() -> Option<String> {
    use sqlx::{ConnectOptions, Connection};
    let admin = std::env::var("PROGNOS_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| crate::testing::DEFAULT_POSTGRES_URL.to_string());
    let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&admin).ok()?;
    let mut conn = match tokio::time::timeout(std::time::Duration::from_secs(5), options.connect()).await {
        Ok(Ok(conn)) => conn,
        _ => {
            eprintln!("note: PostgreSQL at {admin} is unreachable; skipping the PostgreSQL benches");
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
