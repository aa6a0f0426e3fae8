//! Time-bucketed trends computed in SQL: min, mean, max and count of one metric of one asset per bucket.
//!
//! The raw series comes from an index that covers it (`predictions (asset_id, observed_at, health_score)`,
//! `captures (asset_id, captured_at)`, `feature_rows (asset_id, feature_set, observed_at)`). Days that retention
//! has folded into `daily_aggregates` (before the `raw` watermark) are read from there instead, in the same
//! statement, so one query spans both.

use chrono::{DateTime, Duration, DurationRound, Utc};
use prognos_core::Metric;

use crate::connect::{on_pool, Pool};
use crate::retention::RAW_WATERMARK;
use crate::time::Ts;
use crate::{Store, StoreError};

/// The feature set whose window rows back the inverter feature metrics by default.
pub const INVERTER_FEATURE_SET: &str = "inverter-v1";

/// What a trend measures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrendMetric {
    /// The model's health score of each prediction (0 to 100), by the prediction's `observed_at`.
    HealthScore,
    /// A wheel capture's mean tread height, by capture time.
    MeanHeight,
    /// A wheel capture's mean intensity, by capture time.
    MeanIntensity,
    /// One canonical metric of an inverter's raw readings (e.g. `ac_power_w`), by reading time.
    Reading(Metric),
    /// One feature of an asset's window feature rows (e.g. `inverter-v1` / `efficiency`), by `observed_at`.
    Feature {
        /// The feature set (e.g. [`INVERTER_FEATURE_SET`]).
        feature_set: String,
        /// The feature's name within the set.
        name: String,
    },
}

impl TrendMetric {
    /// Parses `health_score`, `mean_height`, `mean_intensity`, a reading metric (`ac_power_w`, ... as in
    /// [`Metric`]), `<feature_set>:<feature>` or a bare feature name (taken from `default_feature_set`). Feature
    /// names may hold letters, digits, `_`, `-` and `.`.
    pub fn parse(text: &str, default_feature_set: &str) -> Result<TrendMetric, StoreError> {
        let metric = match text {
            "health_score" => TrendMetric::HealthScore,
            "mean_height" => TrendMetric::MeanHeight,
            "mean_intensity" => TrendMetric::MeanIntensity,
            other => match other.parse::<Metric>() {
                Ok(m) => TrendMetric::Reading(m),
                Err(_) => {
                    let (set, name) = other.split_once(':').unwrap_or((default_feature_set, other));
                    TrendMetric::Feature { feature_set: set.to_string(), name: name.to_string() }
                }
            },
        };
        if let TrendMetric::Feature { feature_set, name } = &metric {
            let ok = |s: &str| {
                !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            };
            if !ok(feature_set) || !ok(name) {
                return Err(StoreError::InvalidInput(format!(
                    "metric {text:?}: use health_score, mean_height, mean_intensity, or a feature name \
                     (letters, digits, _ - .), optionally as <feature_set>:<feature>"
                )));
            }
        }
        Ok(metric)
    }

    /// The name used in `daily_aggregates.metric` and in API answers.
    pub fn key(&self) -> String {
        match self {
            TrendMetric::HealthScore => "health_score".into(),
            TrendMetric::MeanHeight => "mean_height".into(),
            TrendMetric::MeanIntensity => "mean_intensity".into(),
            TrendMetric::Reading(m) => m.as_str().into(),
            TrendMetric::Feature { feature_set, name } => format!("{feature_set}:{name}"),
        }
    }
}

/// One trend request: metric, asset, time range `[from, to)` and bucket width.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendRequest {
    /// The asset.
    pub asset_id: String,
    /// What to measure.
    pub metric: TrendMetric,
    /// Start, inclusive.
    pub from: DateTime<Utc>,
    /// End, exclusive.
    pub to: DateTime<Utc>,
    /// Bucket width: whole seconds, at least one. Buckets start at `from`, `from + bucket`, ...
    pub bucket: Duration,
}

/// The most buckets one request may ask for.
pub const MAX_BUCKETS: i64 = 100_000;

/// One non-empty bucket of a trend.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendBucket {
    /// The bucket's start (`from + k * bucket`).
    pub start: DateTime<Utc>,
    /// Smallest value.
    pub min: f64,
    /// Mean value.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
    /// How many values.
    pub count: i64,
}

#[derive(sqlx::FromRow)]
struct BucketRow {
    b: i64,
    mn: f64,
    mx: f64,
    total: f64,
    n: i64,
}

/// Where a metric's raw values live: table, time column, value expression and extra conditions. `$1` is the
/// asset id; the feature variants bind the feature set as `$7` and the feature name as `$8`.
struct Source {
    table: &'static str,
    time: &'static str,
    value: String,
    extra: &'static str,
}

fn source(pool: &Pool, metric: &TrendMetric) -> Source {
    match metric {
        TrendMetric::HealthScore => {
            Source { table: "predictions", time: "observed_at", value: "health_score".into(), extra: "" }
        }
        TrendMetric::MeanHeight => {
            Source { table: "captures", time: "captured_at", value: "mean_height".into(), extra: "" }
        }
        TrendMetric::MeanIntensity => {
            Source { table: "captures", time: "captured_at", value: "mean_intensity".into(), extra: "" }
        }
        // The column name comes from the fixed list of canonical metrics, never from the request.
        TrendMetric::Reading(m) => Source { table: "readings", time: "ts", value: m.as_str().into(), extra: "" },
        TrendMetric::Feature { .. } => Source {
            table: "feature_rows",
            time: "observed_at",
            value: match pool {
                Pool::Sqlite(_) => "json_extract(feature_values, '$.\"' || $8 || '\"')".into(),
                Pool::Postgres(_) => "(feature_values::jsonb ->> $8)::double precision".into(),
            },
            extra: " AND feature_set = $7",
        },
    }
}

/// The bucket index of time column `column` relative to `$5` (the start, as epoch seconds) with width `$6`.
fn bucket_expr(pool: &Pool, column: &str) -> String {
    match pool {
        Pool::Sqlite(_) => format!("CAST((unixepoch({column}, 'subsec') - $5) / $6 AS INTEGER)"),
        Pool::Postgres(_) => format!("floor((EXTRACT(EPOCH FROM {column})::double precision - $5) / $6)::bigint"),
    }
}

/// How the raw values are bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendPlan {
    /// One index range aggregate per bucket (no sort): the fastest for up to a few thousand buckets.
    PerBucket,
    /// One pass over the raw rows grouped by bucket index (a sort or hash of every row): for many small buckets.
    Grouped,
}

/// Above this many buckets, [`TrendPlan::Grouped`] is chosen (each bucket costs a few index seeks otherwise).
pub const PER_BUCKET_MAX: i64 = 2_000;

/// The statement: raw values from `max(from, watermark)`, daily aggregates for whole days before the watermark.
/// `$1` asset, `$2` raw start, `$3` end, `$4` metric key, `$5` from (epoch seconds), `$6` width (seconds),
/// `$9` the first aggregated day to read, `$10` the watermark (end of aggregated days), `$11` the number of
/// buckets, `$12` from (as a timestamp).
fn trend_sql(pool: &Pool, metric: &TrendMetric, plan: TrendPlan) -> String {
    let s = source(pool, metric);
    let day_bucket = bucket_expr(pool, "day");
    // `$7`/`$8` are bound for every metric; reference them so both engines know their types.
    let unused = if matches!(metric, TrendMetric::Feature { .. }) { "" } else { " AND $7 = $7 AND $8 = $8" };
    let (time, value, table, extra) = (s.time, s.value, s.table, s.extra);
    let raw = match (plan, pool) {
        (TrendPlan::Grouped, _) => format!(
            "SELECT {raw_bucket} AS b, v AS mn, v AS mx, v AS total, 1 AS n FROM (
                SELECT {time}, {value} AS v FROM {table}
                WHERE asset_id = $1 AND {time} >= $2 AND {time} < $3{extra}{unused} AND $11 = $11 AND $12 = $12
            ) raw WHERE v IS NOT NULL",
            raw_bucket = bucket_expr(pool, time),
        ),
        // SQLite has no LATERAL: four correlated aggregates per bucket, each an index range scan (cheaper than
        // one sort of every row). Bounds are text in the stored format: whole seconds, then from's fraction.
        (TrendPlan::PerBucket, Pool::Sqlite(_)) => {
            let bound = |k: &str| {
                let seconds = format!("unixepoch(substr($12, 1, 19)) + {k} * $6");
                format!("strftime('%Y-%m-%dT%H:%M:%S', {seconds}, 'unixepoch') || substr($12, 20)")
            };
            let agg = |f: &str| {
                let range = format!("{time} >= lo AND {time} < hi{extra}{unused}");
                format!("(SELECT {f}({value}) FROM {table} WHERE asset_id = $1 AND {range})")
            };
            format!(
                "SELECT b, {mn} AS mn, {mx} AS mx, {total} AS total, {n} AS n FROM (
                    WITH RECURSIVE k(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM k WHERE b + 1 < $11)
                    SELECT b, max({lo}, $2) AS lo, min({hi}, $3) AS hi FROM k
                ) bounds WHERE lo < hi",
                mn = agg("MIN"),
                mx = agg("MAX"),
                total = agg("SUM"),
                n = agg("COUNT"),
                lo = bound("b"),
                hi = bound("(b + 1)"),
            )
        }
        (TrendPlan::PerBucket, Pool::Postgres(_)) => format!(
            "SELECT g.b, a.mn, a.mx, a.total, a.n FROM generate_series(0, $11 - 1) AS g(b)
            CROSS JOIN LATERAL (
                SELECT MIN(v) AS mn, MAX(v) AS mx, SUM(v) AS total, COUNT(v) AS n FROM (
                    SELECT {value} AS v FROM {table}
                    WHERE asset_id = $1 AND {time} >= GREATEST($12 + make_interval(secs => g.b * $6), $2)
                    AND {time} < LEAST($12 + make_interval(secs => (g.b + 1) * $6), $3){extra}{unused}
                ) raw
            ) a"
        ),
    };
    format!(
        "SELECT b, MIN(mn) AS mn, MAX(mx) AS mx, SUM(total) AS total, CAST(SUM(n) AS BIGINT) AS n FROM (
            {raw}
            UNION ALL
            SELECT CASE WHEN {day_bucket} < 0 THEN 0 ELSE {day_bucket} END, min, max, sum, count FROM daily_aggregates
            WHERE asset_id = $1 AND metric = $4 AND day >= $9 AND day < $10 AND day < $3
        ) parts GROUP BY b HAVING SUM(n) > 0 ORDER BY b"
    )
}

impl Store {
    /// The trend `request` asks for: one [`TrendBucket`] per non-empty bucket, oldest first, computed in SQL.
    ///
    /// Raw values are read for `[max(from, watermark), to)`; for days before the retention watermark (see
    /// [`Store::apply_retention`]) the kept daily aggregates are used, each whole day counted in the bucket that
    /// holds its midnight (or the first bucket, for the day `from` falls in).
    pub async fn trend(&self, request: &TrendRequest) -> Result<Vec<TrendBucket>, StoreError> {
        self.trend_planned(request, None).await
    }

    /// [`Store::trend`] with the plan chosen by the caller (`None`: by the number of buckets, see
    /// [`PER_BUCKET_MAX`]). Both plans give the same buckets; tests and benchmarks compare them.
    pub async fn trend_planned(
        &self,
        request: &TrendRequest,
        plan: Option<TrendPlan>,
    ) -> Result<Vec<TrendBucket>, StoreError> {
        let width = request.bucket.num_seconds();
        if width < 1 || request.bucket != Duration::seconds(width) {
            return Err(StoreError::InvalidInput(format!(
                "bucket of {} ms: use a whole number of seconds, at least one",
                request.bucket.num_milliseconds()
            )));
        }
        if request.from >= request.to {
            return Err(StoreError::InvalidInput("from must be before to".into()));
        }
        let span = (request.to - request.from).num_seconds();
        if span / width >= MAX_BUCKETS {
            return Err(StoreError::InvalidInput(format!(
                "more than {MAX_BUCKETS} buckets: widen the bucket or narrow the range"
            )));
        }
        let watermark = self.watermark(RAW_WATERMARK).await?;
        let raw_from = match watermark {
            Some(w) if w > request.from => w,
            _ => request.from,
        };
        let first_day = request
            .from
            .duration_trunc(Duration::days(1))
            .map_err(|e| StoreError::InvalidInput(format!("from {}: cannot truncate to the day: {e}", request.from)))?;
        let aggregated_until = watermark.unwrap_or(first_day);
        let from_epoch = request.from.timestamp() as f64 + f64::from(request.from.timestamp_subsec_micros()) / 1e6;
        let (set, name) = match &request.metric {
            TrendMetric::Feature { feature_set, name } => (feature_set.clone(), name.clone()),
            _ => (String::new(), String::new()),
        };
        let span_us = (request.to - request.from).num_microseconds().map_or(i128::MAX, i128::from);
        let width_us = i128::from(width) * 1_000_000;
        // from < to was checked: the span is positive.
        let buckets = i64::try_from((span_us + width_us - 1) / width_us).unwrap_or(i64::MAX);
        let plan = plan.unwrap_or(if buckets <= PER_BUCKET_MAX { TrendPlan::PerBucket } else { TrendPlan::Grouped });
        let sql = trend_sql(&self.pool, &request.metric, plan);
        let rows: Vec<BucketRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(&request.asset_id)
                .bind(Ts::new(raw_from))
                .bind(Ts::new(request.to))
                .bind(request.metric.key())
                .bind(from_epoch)
                .bind(width as f64)
                .bind(&set)
                .bind(&name)
                .bind(Ts::new(first_day))
                .bind(Ts::new(aggregated_until))
                .bind(buckets)
                .bind(Ts::new(request.from))
                .fetch_all(pool)
                .await?
        });
        // `HAVING SUM(n) > 0`: every row is a bucket with values.
        Ok(rows
            .into_iter()
            .map(|r| TrendBucket {
                start: request.from + Duration::seconds(r.b * width),
                min: r.mn,
                mean: r.total / r.n as f64,
                max: r.mx,
                count: r.n,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_parse() {
        assert_eq!(TrendMetric::parse("health_score", "inverter-v1").unwrap(), TrendMetric::HealthScore);
        assert_eq!(TrendMetric::parse("mean_height", "x").unwrap(), TrendMetric::MeanHeight);
        assert_eq!(
            TrendMetric::parse("efficiency", "inverter-v1").unwrap(),
            TrendMetric::Feature { feature_set: "inverter-v1".into(), name: "efficiency".into() }
        );
        assert_eq!(TrendMetric::parse("wheel-v1:tread_height", "inverter-v1").unwrap().key(), "wheel-v1:tread_height");
        assert!(TrendMetric::parse("x'; DROP TABLE predictions; --", "inverter-v1").is_err());
        assert!(TrendMetric::parse("", "inverter-v1").is_err());
        assert!(TrendMetric::parse("a\"b", "inverter-v1").is_err());
    }
}
