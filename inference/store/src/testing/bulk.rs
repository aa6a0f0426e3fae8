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
