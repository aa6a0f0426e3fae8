//! Daily aggregates per inverter and the slow-change features built on them: the degradation estimate
//! (year-on-year when two years exist, a normalised trend otherwise) and the trend of the peer ratio.
//!
//! The daily *performance index* is the day's AC energy over the energy the AC limit would give at the
//! measured irradiance (daylight readings): weather-normalised yield. The year-on-year method follows NREL
//! RdTools: pair each day with the same day a year earlier and take the median of the relative changes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use prognos_core::Reading;

use super::frame::{site_frame, DAY_MS};
use super::spec::estimate_ac_limit;
use super::window::{enriched, f64_column, i64_column, u32_column};
use super::{FeatureError, WindowSpec};

/// One inverter's aggregates over one day (daylight readings only).
#[derive(Debug, Clone, PartialEq)]
pub struct DailyPerformance {
    /// The inverter.
    pub asset: String,
    /// Start of the day (aligned on [`WindowSpec::align_offset`]).
    pub day: DateTime<Utc>,
    /// Sum of AC power over daylight readings with irradiance (W x readings).
    pub ac_sum: f64,
    /// Sum of irradiance / 1000 x AC limit over the same readings (W x readings).
    pub expected_sum: f64,
    /// Sum of AC power over daylight readings that have a peer median.
    pub peer_ac_sum: f64,
    /// Sum of the peer median over the same readings.
    pub peer_sum: f64,
}

impl DailyPerformance {
    /// `ac_sum / expected_sum`, NaN when nothing was expected.
    pub fn performance_index(&self) -> f64 {
        if self.expected_sum > 0.0 {
            self.ac_sum / self.expected_sum
        } else {
            f64::NAN
        }
    }

    /// `peer_ac_sum / peer_sum`, NaN without peers.
    pub fn peer_ratio(&self) -> f64 {
        if self.peer_sum > 0.0 {
            self.peer_ac_sum / self.peer_sum
        } else {
            f64::NAN
        }
    }
}

/// How a degradation rate was estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DegradationMethod {
    /// Median of the changes between each day and the same day a year earlier.
    YearOnYear,
    /// Least-squares slope of the performance index normalised by its mean.
    Trend,
}

/// A degradation rate and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DegradationEstimate {
    /// The method.
    pub method: DegradationMethod,
    /// Rate in % per year (negative = losing yield).
    pub pct_per_year: f64,
    /// Days (year-on-year: day pairs) it rests on.
    pub days: usize,
}

/// Daily aggregates of every inverter of one site, sorted by inverter then day.
pub fn daily_performance(readings: &[Reading], spec: &WindowSpec) -> Result<Vec<DailyPerformance>, FeatureError> {
    spec.validate()?;
    if readings.is_empty() {
        return Ok(Vec::new());
    }
    let limit = spec.ac_limit_w.or_else(|| estimate_ac_limit(readings)).unwrap_or(f64::NAN);
    let site = site_frame(readings, spec, &HashMap::new())?;
    let rows = enriched(&site, spec, limit)?;
    let daily = daily_from_frame(&rows, limit)?;
    Ok(daily.into_iter().map(|(a, d)| DailyPerformance { asset: site.assets[a].clone(), ..d }).collect())
}

/// Daily aggregates from the enriched frame, as (asset index, aggregate with an empty asset name).
pub(crate) fn daily_from_frame(rows: &DataFrame, limit: f64) -> Result<Vec<(usize, DailyPerformance)>, FeatureError> {
    let ac_ok = col("ac").is_not_null();
    let pi_mask = col("day_f").and(col("irr").is_not_null()).and(ac_ok.clone());
    let pr_mask = col("day_f").and(col("peer_med").is_not_null()).and(ac_ok);
    let agg = rows
        .clone()
        .lazy()
        .group_by([col("asset"), col("day")])
        .agg([
            col("ac").filter(pi_mask.clone()).sum().alias("pi_ac"),
            (col("irr") / lit(1000.0) * lit(limit)).filter(pi_mask).sum().alias("pi_exp"),
            col("ac").filter(pr_mask.clone()).sum().alias("pr_ac"),
            col("peer_med").filter(pr_mask).sum().alias("pr_peer"),
        ])
        .sort(["asset", "day"], SortMultipleOptions::default())
        .collect()?;
    let f = |name: &str| f64_column(&agg, name, 0.0);
    let (pi_ac, pi_exp, pr_ac, pr_peer) = (f("pi_ac")?, f("pi_exp")?, f("pr_ac")?, f("pr_peer")?);
    let asset = u32_column(&agg, "asset")?;
    let day = i64_column(&agg, "day")?;
    Ok((0..agg.height())
        .map(|i| {
            let d = DailyPerformance {
                asset: String::new(),
                day: DateTime::<Utc>::from_timestamp_millis(day[i]).unwrap_or_default(),
                ac_sum: pi_ac[i],
                expected_sum: pi_exp[i],
                peer_ac_sum: pr_ac[i],
                peer_sum: pr_peer[i],
            };
            (asset[i] as usize, d)
        })
        .collect())
}

/// Day number since the epoch.
fn day_number(d: &DailyPerformance) -> i64 {
    d.day.timestamp_millis().div_euclid(DAY_MS)
}

/// Least-squares slope of `y` over `x`; NaN with fewer than two distinct x.
fn ols_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in points {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
    }
    if sxx > 0.0 {
        sxy / sxx
    } else {
        f64::NAN
    }
}

/// Degradation rate of one inverter from its daily aggregates (sorted by day). Days whose expected energy is
/// below a fifth of the median day (overcast, partial) are left out. Year-on-year when at least `min_days`
/// day pairs a year apart exist, else the trend of the normalised index over at least `min_days` days; `None`
/// with less.
pub fn degradation_rate(days: &[DailyPerformance], min_days: usize) -> Option<DegradationEstimate> {
    let mut expected: Vec<f64> = days.iter().map(|d| d.expected_sum).filter(|e| *e > 0.0).collect();
    if expected.is_empty() {
        return None;
    }
    let mid = expected.len() / 2;
    let (_, median, _) = expected.select_nth_unstable_by(mid, f64::total_cmp);
    let floor = *median * 0.2;
    let usable: Vec<(i64, f64)> = days
        .iter()
        .filter(|d| d.expected_sum >= floor && d.performance_index().is_finite() && d.performance_index() > 0.0)
        .map(|d| (day_number(d), d.performance_index()))
        .collect();
    let by_day: HashMap<i64, f64> = usable.iter().copied().collect();
    let mut changes: Vec<f64> = usable
        .iter()
        .filter_map(|(d, pi)| {
            by_day.get(&(d - 365)).or_else(|| by_day.get(&(d - 366))).map(|prev| (pi / prev - 1.0) * 100.0)
        })
        .collect();
    if changes.len() >= min_days {
        let mid = changes.len() / 2;
        let (_, m, _) = changes.select_nth_unstable_by(mid, f64::total_cmp);
        return Some(DegradationEstimate {
            method: DegradationMethod::YearOnYear,
            pct_per_year: *m,
            days: changes.len(),
        });
    }
    if usable.len() < min_days {
        return None;
    }
    let mean = usable.iter().map(|(_, pi)| pi).sum::<f64>() / usable.len() as f64;
    let first = usable[0].0;
    let points: Vec<(f64, f64)> = usable.iter().map(|(d, pi)| ((d - first) as f64, pi / mean)).collect();
    let slope = ols_slope(&points);
    slope.is_finite().then_some(DegradationEstimate {
        method: DegradationMethod::Trend,
        pct_per_year: slope * 365.0 * 100.0,
        days: usable.len(),
    })
}

/// Slope of the daily peer ratio over the last `trend_days` days with a ratio, in % per day; NaN with fewer
/// than three such days.
fn peer_trend(days: &[DailyPerformance], trend_days: usize) -> f64 {
    let points: Vec<(f64, f64)> =
        days.iter().filter(|d| d.peer_ratio().is_finite()).map(|d| (day_number(d) as f64, d.peer_ratio())).collect();
    let tail = &points[points.len().saturating_sub(trend_days)..];
    if tail.len() < 3 {
        return f64::NAN;
    }
    ols_slope(tail) * 100.0
}

/// Per-inverter daily series with the slow features memoised by (inverter, number of days so far).
pub(crate) struct TrendCache {
    per_asset: Vec<Vec<DailyPerformance>>,
    memo: HashMap<(usize, usize), (f64, f64)>,
    min_days: usize,
    trend_days: usize,
}

impl TrendCache {
    /// Groups the daily aggregates by inverter.
    pub(crate) fn new(daily: &[(usize, DailyPerformance)], assets: usize, spec: &WindowSpec) -> TrendCache {
        let mut per_asset = vec![Vec::new(); assets];
        for (a, d) in daily {
            per_asset[*a].push(d.clone());
        }
        TrendCache { per_asset, memo: HashMap::new(), min_days: spec.degradation_min_days, trend_days: spec.trend_days }
    }

    /// `(degradation_pct_per_year, peer_trend_pct_per_day)` over the inverter's days starting at or before
    /// `last_ms` (NaN when undefined).
    pub(crate) fn at(&mut self, asset: usize, last_ms: i64) -> (f64, f64) {
        let days = &self.per_asset[asset];
        let upto = days.partition_point(|d| d.day.timestamp_millis() <= last_ms);
        let (min_days, trend_days) = (self.min_days, self.trend_days);
        *self.memo.entry((asset, upto)).or_insert_with(|| {
            let prefix = &days[..upto];
            let deg = degradation_rate(prefix, min_days).map_or(f64::NAN, |e| e.pct_per_year);
            (deg, peer_trend(prefix, trend_days))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64, pi: f64, pr: f64) -> DailyPerformance {
        DailyPerformance {
            asset: "a".into(),
            day: DateTime::<Utc>::from_timestamp_millis(n * DAY_MS).unwrap(),
            ac_sum: pi * 1000.0,
            expected_sum: 1000.0,
            peer_ac_sum: pr * 500.0,
            peer_sum: 500.0,
        }
    }

    #[test]
    fn trend_recovers_a_known_slope() {
        // -1 % of the mean per 100 days = -3.65 %/yr.
        let days: Vec<_> = (0..40).map(|i| day(18_000 + i, 0.8 * (1.0 - 0.0001 * i as f64), 1.0)).collect();
        let e = degradation_rate(&days, 7).unwrap();
        assert_eq!(e.method, DegradationMethod::Trend);
        assert!((e.pct_per_year + 3.65).abs() < 0.1, "{e:?}");
        assert!(degradation_rate(&days[..5], 7).is_none());
    }

    #[test]
    fn two_years_use_year_on_year() {
        let days: Vec<_> = (0..800).map(|i| day(18_000 + i, 0.8 * (1.0 - 0.005 * i as f64 / 365.0), 1.0)).collect();
        let e = degradation_rate(&days, 7).unwrap();
        assert_eq!(e.method, DegradationMethod::YearOnYear);
        assert!((e.pct_per_year + 0.5).abs() < 0.02, "{e:?}");
    }

    #[test]
    fn peer_trend_is_percent_per_day_over_the_last_days() {
        let mut days: Vec<_> = (0..30).map(|i| day(18_000 + i, 0.8, 1.0)).collect();
        for (k, d) in days.iter_mut().skip(20).enumerate() {
            d.peer_ac_sum = (1.0 - 0.01 * k as f64) * d.peer_sum;
        }
        assert!((peer_trend(&days, 10) + 1.0).abs() < 1e-9);
        assert!(peer_trend(&days[..2], 10).is_nan());
    }
}
