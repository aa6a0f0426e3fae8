//! Retention: raw rows older than a configured age are folded into `daily_aggregates` and deleted, one UTC day
//! per transaction.
//!
//! For each day before the cut-off (midnight UTC, `raw_days` ago), in one transaction: the day's predictions
//! become `health_score` aggregates; the captures whose feature rows go become `mean_height` and
//! `mean_intensity` aggregates; window feature rows become `<feature_set>:<feature>` aggregates of every numeric
//! feature; each canonical metric of the inverter readings becomes an aggregate of its name (`ac_power_w`, ...);
//! then the day's predictions, feature rows (captures' and windows') and the rows of every declared
//! table ([`RetainedTable`], e.g. raw inverter readings) are deleted, and the `raw` watermark moves to the end of
//! the day. Aggregates merge with those already kept for that day (late data), so nothing is counted twice.
//! Captures themselves are kept (they are the record of what was received and archived).

use chrono::{DateTime, Duration, DurationRound, Utc};
use prognos_core::Metric;

use crate::connect::{on_pool, Pool};
use crate::time::Ts;
use crate::{Store, StoreError};

/// The watermark the trends read: raw data observed before it has been aggregated and deleted.
pub const RAW_WATERMARK: &str = "raw";

/// A table whose rows retention deletes by age, besides predictions and feature rows (which it always covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedTable {
    /// Table name (letters, digits and `_`).
    pub table: String,
    /// Its time column (a timestamp written by this store's conventions).
    pub time_column: String,
}

impl RetainedTable {
    /// The raw inverter readings (`readings.ts`). Declared, each reading metric is also folded into daily
    /// aggregates before the rows go.
    pub fn readings() -> Self {
        RetainedTable { table: "readings".into(), time_column: "ts".into() }
    }

    fn is_readings(&self) -> bool {
        *self == Self::readings()
    }

    /// Parses `table.column` (e.g. `readings.observed_at`).
    pub fn parse(text: &str) -> Result<RetainedTable, StoreError> {
        let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match text.split_once('.') {
            Some((table, column)) if ident(table) && ident(column) => {
                Ok(RetainedTable { table: table.into(), time_column: column.into() })
            }
            _ => Err(StoreError::InvalidInput(format!("retained table {text:?}: expected table.column"))),
        }
    }
}

/// What one [`Store::apply_retention`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Days aggregated and pruned.
    pub days: u32,
    /// Predictions deleted.
    pub predictions: u64,
    /// Feature rows deleted.
    pub feature_rows: u64,
    /// Rows deleted from declared tables; tables that do not exist (yet) are skipped.
    pub other_rows: u64,
    /// The watermark after the run.
    pub watermark: Option<DateTime<Utc>>,
}

fn day_expr(pool: &Pool, column: &str) -> String {
    match pool {
        Pool::Sqlite(_) => format!("substr({column}, 1, 10) || 'T00:00:00.000000Z'"),
        Pool::Postgres(_) => format!("date_trunc('day', {column}, 'UTC')"),
    }
}

/// Merges into existing aggregates: `LEAST`/`GREATEST` on PostgreSQL, scalar `min`/`max` on SQLite.
fn upsert_tail(pool: &Pool) -> &'static str {
    match pool {
        Pool::Sqlite(_) => {
            " ON CONFLICT (asset_id, metric, day) DO UPDATE SET min = min(daily_aggregates.min, excluded.min), \
             max = max(daily_aggregates.max, excluded.max), sum = daily_aggregates.sum + excluded.sum, \
             count = daily_aggregates.count + excluded.count"
        }
        Pool::Postgres(_) => {
            " ON CONFLICT (asset_id, metric, day) DO UPDATE SET min = LEAST(daily_aggregates.min, excluded.min), \
             max = GREATEST(daily_aggregates.max, excluded.max), sum = daily_aggregates.sum + excluded.sum, \
             count = daily_aggregates.count + excluded.count"
        }
    }
}

/// The aggregation statements for one day `[$1, $2)`, in order.
fn aggregate_sql(pool: &Pool, readings: bool) -> Vec<String> {
    let insert = "INSERT INTO daily_aggregates (asset_id, metric, day, min, max, sum, count) ";
    let tail = upsert_tail(pool);
    let p_day = day_expr(pool, "observed_at");
    let c_day = day_expr(pool, "c.captured_at");
    let f_day = day_expr(pool, "f.observed_at");
    // `WHERE true` keeps SQLite's upsert-after-SELECT parse unambiguous.
    let mut sql = vec![format!(
        "{insert}SELECT asset_id, 'health_score', {p_day}, MIN(health_score), MAX(health_score), SUM(health_score), \
         COUNT(*) FROM predictions WHERE observed_at >= $1 AND observed_at < $2 GROUP BY asset_id, {p_day}{tail}"
    )];
    for column in ["mean_height", "mean_intensity"] {
        sql.push(format!(
            "{insert}SELECT c.asset_id, '{column}', {c_day}, MIN(c.{column}), MAX(c.{column}), SUM(c.{column}), \
             COUNT(*) FROM captures c WHERE c.captured_at >= $1 AND c.captured_at < $2 AND EXISTS \
             (SELECT 1 FROM feature_rows f WHERE f.capture_id = c.id AND f.observed_at < $2) \
             GROUP BY c.asset_id, {c_day}{tail}"
        ));
    }
    let (each, key, value, numeric) = match pool {
        Pool::Sqlite(_) => ("json_each(f.feature_values) j", "j.key", "j.value", "j.type IN ('integer', 'real')"),
        Pool::Postgres(_) => (
            "jsonb_each(f.feature_values::jsonb) j",
            "j.key",
            "(j.value #>> '{}')::double precision",
            "jsonb_typeof(j.value) = 'number'",
        ),
    };
    sql.push(format!(
        "{insert}SELECT f.asset_id, f.feature_set || ':' || {key}, {f_day}, MIN({value}), MAX({value}), \
         SUM({value}), COUNT(*) FROM feature_rows f, {each} WHERE f.capture_id IS NULL AND f.observed_at >= $1 \
         AND f.observed_at < $2 AND {numeric} GROUP BY f.asset_id, f.feature_set, {key}, {f_day}{tail}"
    ));
    // Each canonical metric of the inverter readings, under its own name (e.g. `ac_power_w`), when retention
    // deletes them (otherwise a later run would count the same day again).
    let r_day = day_expr(pool, "ts");
    for m in Metric::ALL.iter().filter(|_| readings) {
        let column = m.as_str();
        sql.push(format!(
            "{insert}SELECT asset_id, '{column}', {r_day}, MIN({column}), MAX({column}), SUM({column}), \
             COUNT({column}) FROM readings WHERE ts >= $1 AND ts < $2 AND {column} IS NOT NULL \
             GROUP BY asset_id, {r_day}{tail}"
        ));
    }
    sql
}

const UPSERT_WATERMARK: &str = "INSERT INTO retention_watermarks (name, until) VALUES ($1, $2) \
    ON CONFLICT (name) DO UPDATE SET until = excluded.until WHERE excluded.until > retention_watermarks.until";

impl Store {
    /// The retention watermark `name` (see [`RAW_WATERMARK`]), if retention ever ran.
    pub async fn watermark(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<Ts> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT until FROM retention_watermarks WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|t| t.0))
    }

    /// Folds raw rows observed before midnight UTC of `now - raw_days` into daily aggregates and deletes them
    /// (see the module docs), one day per transaction, oldest first. `tables` are also pruned by age; one that
    /// does not exist yet is skipped. Safe to run from several replicas at once: each day's work is one
    /// transaction and the aggregates merge, the deletes make a second run of the same day a no-op.
    pub async fn apply_retention(
        &self,
        now: DateTime<Utc>,
        raw_days: u32,
        tables: &[RetainedTable],
    ) -> Result<RetentionReport, StoreError> {
        let cutoff = (now - Duration::days(i64::from(raw_days)))
            .duration_trunc(Duration::days(1))
            .map_err(|e| StoreError::InvalidInput(format!("retention cut-off: {e}")))?;
        let mut report = RetentionReport::default();
        let existing = self.existing_tables(tables).await?;
        let readings = existing.iter().any(RetainedTable::is_readings);
        let oldest_sql = format!(
            "SELECT MIN(t) FROM (SELECT MIN(observed_at) AS t FROM predictions \
             UNION ALL SELECT MIN(observed_at) FROM feature_rows{}) x",
            if readings { " UNION ALL SELECT MIN(ts) FROM readings" } else { "" }
        );
        let oldest: Option<Ts> = on_pool!(self, pool => {
            sqlx::query_scalar(&oldest_sql)
            .fetch_one(pool)
            .await?
        });
        let mut day = match oldest {
            Some(t) => t.0.duration_trunc(Duration::days(1)).map_err(|e| StoreError::InvalidInput(e.to_string()))?,
            None => cutoff,
        };
        while day < cutoff {
            let next = day + Duration::days(1);
            let (p, f, o) = self.retain_day(day, next, &existing).await?;
            report.days += 1;
            report.predictions += p;
            report.feature_rows += f;
            report.other_rows += o;
            day = next;
        }
        // Declared tables may hold rows older than any prediction or feature row: prune them up to the cut-off.
        for t in &existing {
            let sql = format!("DELETE FROM {} WHERE {} < $1", t.table, t.time_column);
            report.other_rows +=
                on_pool!(self, pool => sqlx::query(&sql).bind(Ts::new(cutoff)).execute(pool).await?.rows_affected());
        }
        on_pool!(self, pool => {
            sqlx::query(UPSERT_WATERMARK).bind(RAW_WATERMARK).bind(Ts::new(cutoff)).execute(pool).await?;
        });
        report.watermark = self.watermark(RAW_WATERMARK).await?;
        Ok(report)
    }

    async fn existing_tables(&self, tables: &[RetainedTable]) -> Result<Vec<RetainedTable>, StoreError> {
        let sql = match &self.pool {
            Pool::Sqlite(_) => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            Pool::Postgres(_) => "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = $1",
        };
        let mut found = Vec::new();
        for t in tables {
            RetainedTable::parse(&format!("{}.{}", t.table, t.time_column))?;
            let n: i64 = on_pool!(self, pool => sqlx::query_scalar(sql).bind(&t.table).fetch_one(pool).await?);
            if n > 0 {
                found.push(t.clone());
            }
        }
        Ok(found)
    }

    /// One day `[from, to)` in one transaction: aggregate, delete, move the watermark.
    async fn retain_day(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tables: &[RetainedTable],
    ) -> Result<(u64, u64, u64), StoreError> {
        let aggregates = aggregate_sql(&self.pool, tables.iter().any(RetainedTable::is_readings));
        let begin = self.pool.begin_write();
        let (lo, hi) = (Ts::new(from), Ts::new(to));
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            for sql in &aggregates {
                sqlx::query(sql).bind(lo).bind(hi).execute(&mut *tx).await?;
            }
            let p = sqlx::query("DELETE FROM predictions WHERE observed_at >= $1 AND observed_at < $2")
                .bind(lo)
                .bind(hi)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let f = sqlx::query("DELETE FROM feature_rows WHERE observed_at >= $1 AND observed_at < $2")
                .bind(lo)
                .bind(hi)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let mut o = 0;
            for t in tables {
                let sql = format!("DELETE FROM {} WHERE {col} >= $1 AND {col} < $2", t.table, col = t.time_column);
                o += sqlx::query(&sql).bind(lo).bind(hi).execute(&mut *tx).await?.rows_affected();
            }
            sqlx::query(UPSERT_WATERMARK).bind(RAW_WATERMARK).bind(hi).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok((p, f, o))
        })
    }
}
