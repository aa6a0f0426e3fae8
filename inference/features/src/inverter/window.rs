//! [`window_features`]: the polars pipeline from a site's readings to one `inverter-v1` row per inverter per
//! window.
//!
//! 1. Per timestamp: the site's median AC power over the inverters reporting then (`peer_med`, null with
//!    fewer than [`WindowSpec::min_peers`]), and the daylight / productive flags.
//! 2. Per inverter and truncated window start: sums, counts and maxima of the filtered columns.
//! 3. Per window: the median efficiency over the site's inverters.
//! 4. Per inverter and day: the daily aggregates behind the degradation and trend features
//!    ([`super::degradation`]), attached to each window through its last day.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use polars::prelude::*;
use prognos_core::Reading;

use super::degradation::{daily_from_frame, DailyPerformance, TrendCache};
use super::frame::{site_frame, SiteFrame};
use super::schema::idx;
use super::spec::estimate_ac_limit;
use super::{FeatureError, WindowSpec, FEATURE_COUNT};

/// One inverter's `inverter-v1` features over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct InverterWindowRow {
    /// The inverter's asset id.
    pub asset: String,
    /// Start of the window (inclusive).
    pub window_start: DateTime<Utc>,
    /// Nominal end of the window (exclusive); a live window may not have reached it yet.
    pub window_end: DateTime<Utc>,
    /// Readings of this inverter in the window.
    pub readings: usize,
    /// Feature values in [`super::feature_names`] order; NaN where undefined (see `FEATURES.md`).
    pub values: Vec<f64>,
}

/// The enriched per-reading frame: the site frame plus `peer_med`, `day_f` (daylight) and `prod_f`
/// (productive) columns.
pub(crate) fn enriched(site: &SiteFrame, spec: &WindowSpec, limit: f64) -> Result<DataFrame, FeatureError> {
    let peers_ok = col("ac").count().over([col("ts")])?.gt_eq(lit(spec.min_peers as u32));
    let peer_med =
        when(peers_ok).then(col("ac").median().over([col("ts")])?).otherwise(lit(NULL).cast(DataType::Float64));
    let flag = |irr_min: f64, share: f64| {
        when(col("irr").is_not_null())
            .then(col("irr").gt_eq(lit(irr_min)))
            .otherwise(col("peer_med").gt_eq(lit(share * limit)))
            .fill_null(lit(false))
    };
    let df = site
        .frame
        .clone()
        .lazy()
        .with_column(peer_med.alias("peer_med"))
        .with_columns([
            flag(spec.daylight_irradiance_w_m2, 0.02).alias("day_f"),
            flag(spec.productive_irradiance_w_m2, 0.10).alias("prod_f"),
        ])
        .collect()?;
    Ok(df)
}

/// A float column's values, `missing` for nulls.
pub(crate) fn f64_column(df: &DataFrame, name: &str, missing: f64) -> Result<Vec<f64>, FeatureError> {
    let ca = df.column(name)?.cast(&DataType::Float64)?;
    let ca = ca.f64()?;
    Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or(missing)).collect())
}

/// An unsigned column's values (0 for nulls).
pub(crate) fn u32_column(df: &DataFrame, name: &str) -> Result<Vec<u32>, FeatureError> {
    let ca = df.column(name)?.cast(&DataType::UInt32)?;
    let ca = ca.u32()?;
    Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or(0)).collect())
}

/// A 64-bit integer column's values (0 for nulls).
pub(crate) fn i64_column(df: &DataFrame, name: &str) -> Result<Vec<i64>, FeatureError> {
    let ca = df.column(name)?.cast(&DataType::Int64)?;
    let ca = ca.i64()?;
    Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or(0)).collect())
}

/// Sum of `expr` over the rows where `mask` holds, as f64 (0 when none).
fn sum_where(expr: Expr, mask: Expr) -> Expr {
    expr.filter(mask).cast(DataType::Float64).sum()
}

/// `inverter-v1` rows for every inverter and window of one site's readings (any order), sorted by inverter
/// name then window start. Empty input gives no rows.
pub fn window_features(readings: &[Reading], spec: &WindowSpec) -> Result<Vec<InverterWindowRow>, FeatureError> {
    Ok(window_features_with_history(readings, spec, &History::default())?.0)
}

/// What came before a range of a longer series, for [`window_features_with_history`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Daily aggregates of earlier days (any inverters, any order; a day the readings also cover is taken
    /// from the readings).
    pub days: Vec<DailyPerformance>,
    /// Per inverter, its last reading before the range (for the gap before its first reading in it).
    pub last_reading: HashMap<String, DateTime<Utc>>,
}

/// [`window_features`] for a range of a longer series, given what came before it: `degradation_pct_per_year`
/// and `peer_trend_pct_per_day` see every day up to each window's last day and `gap_count` the gap before an
/// inverter's first reading, as they do when the whole series is computed at once (the range must start on a
/// window start). Also returns the daily aggregates of the days the readings cover (complete only for days the
/// readings cover whole).
pub fn window_features_with_history(
    readings: &[Reading],
    spec: &WindowSpec,
    history: &History,
) -> Result<(Vec<InverterWindowRow>, Vec<DailyPerformance>), FeatureError> {
    spec.validate()?;
    if readings.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let limit = spec.ac_limit_w.or_else(|| estimate_ac_limit(readings)).unwrap_or(f64::NAN);
    let last_before: HashMap<String, i64> =
        history.last_reading.iter().map(|(a, t)| (a.clone(), t.timestamp_millis())).collect();
    let site = site_frame(readings, spec, &last_before)?;
    let rows = enriched(&site, spec, limit)?;

    let ac_ok = col("ac").is_not_null();
    let day = col("day_f");
    let prod = col("prod_f").and(ac_ok.clone());
    let agg = rows
        .clone()
        .lazy()
        .group_by([col("asset"), col("win")])
        .agg([
            len().alias("n"),
            sum_where(col("ac"), day.clone().and(col("dc").gt(lit(0.0))).and(ac_ok.clone())).alias("eff_ac"),
            sum_where(col("dc"), day.clone().and(col("dc").gt(lit(0.0))).and(ac_ok.clone())).alias("eff_dc"),
            sum_where(col("ac"), day.clone().and(col("irr").is_not_null()).and(ac_ok.clone())).alias("sy_ac"),
            sum_where(
                col("irr") / lit(1000.0) * lit(limit),
                day.clone().and(col("irr").is_not_null()).and(ac_ok.clone()),
            )
            .alias("sy_exp"),
            sum_where(col("ac"), day.clone().and(col("peer_med").is_not_null()).and(ac_ok.clone())).alias("pd_ac"),
            sum_where(col("peer_med"), day.clone().and(col("peer_med").is_not_null()).and(ac_ok.clone()))
                .alias("pd_peer"),
            sum_where(col("prod_f"), prod.clone()).alias("n_prod"),
            sum_where(col("ac").lt(lit(spec.near_zero_share * limit)), prod.clone()).alias("n_zero"),
            sum_where(col("ac").gt_eq(lit((1.0 - spec.clipping_tolerance) * limit)), prod).alias("n_clip"),
            col("stale_h").max().alias("stale_h"),
            col("gap").cast(DataType::Float64).sum().alias("gaps"),
            (col("inv_t") - col("amb"))
                .filter(
                    col("ac")
                        .gt_eq(lit(spec.load_share * limit))
                        .and(col("inv_t").is_not_null())
                        .and(col("amb").is_not_null()),
                )
                .mean()
                .alias("t_rise"),
        ])
        .with_column(
            when(col("eff_dc").gt(lit(0.0)))
                .then(col("eff_ac") / col("eff_dc"))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("eff"),
        )
        .with_columns([
            col("eff").median().over([col("win")])?.alias("eff_med"),
            col("eff").count().over([col("win")])?.alias("eff_n"),
        ])
        .sort(["asset", "win"], SortMultipleOptions::default())
        .collect()?;

    let daily = daily_from_frame(&rows, limit)?;
    let mut all_days = daily.clone();
    if !history.days.is_empty() {
        let index: HashMap<&str, usize> = site.assets.iter().enumerate().map(|(i, a)| (a.as_str(), i)).collect();
        let covered: HashSet<(usize, i64)> = daily.iter().map(|(a, d)| (*a, d.day.timestamp_millis())).collect();
        for h in &history.days {
            if let Some(&a) = index.get(h.asset.as_str()) {
                if !covered.contains(&(a, h.day.timestamp_millis())) {
                    all_days.push((a, h.clone()));
                }
            }
        }
        all_days.sort_by_key(|(a, d)| (*a, d.day.timestamp_millis()));
    }
    let mut trends = TrendCache::new(&all_days, site.assets.len(), spec);
    let f = |name: &str| f64_column(&agg, name, f64::NAN);
    let (eff, eff_med) = (f("eff")?, f("eff_med")?);
    let (sy_ac, sy_exp, pd_ac, pd_peer) = (f("sy_ac")?, f("sy_exp")?, f("pd_ac")?, f("pd_peer")?);
    let (n_prod, n_zero, n_clip) = (f("n_prod")?, f("n_zero")?, f("n_clip")?);
    let (stale_h, gaps, t_rise) = (f("stale_h")?, f("gaps")?, f("t_rise")?);
    let eff_n = u32_column(&agg, "eff_n")?;
    let n = u32_column(&agg, "n")?;
    let asset = u32_column(&agg, "asset")?;
    let win = i64_column(&agg, "win")?;

    let ratio = |num: f64, den: f64| if den > 0.0 && num.is_finite() { num / den } else { f64::NAN };
    let limit_known = limit.is_finite() && limit > 0.0;
    let window_ms = spec.window_ms();
    let mut out = Vec::with_capacity(agg.height());
    for i in 0..agg.height() {
        let mut v = vec![f64::NAN; FEATURE_COUNT];
        v[idx::EFFICIENCY] = eff[i];
        v[idx::EFFICIENCY_VS_PEERS] =
            if eff_n[i] as usize >= spec.min_peers { ratio(eff[i], eff_med[i]) - 1.0 } else { f64::NAN };
        v[idx::SPECIFIC_YIELD] = if limit_known { ratio(sy_ac[i], sy_exp[i]) } else { f64::NAN };
        v[idx::PEER_DEVIATION] = ratio(pd_ac[i], pd_peer[i]) - 1.0;
        let share = |k: f64| if limit_known && n_prod[i] > 0.0 { k / n_prod[i] } else { f64::NAN };
        v[idx::ZERO_OUTPUT_SHARE] = share(n_zero[i]);
        v[idx::STALE_RUN_HOURS] = if stale_h[i].is_finite() { stale_h[i] } else { 0.0 };
        v[idx::GAP_COUNT] = if gaps[i].is_finite() { gaps[i] } else { 0.0 };
        v[idx::TEMP_RISE_AT_LOAD] = if limit_known { t_rise[i] } else { f64::NAN };
        v[idx::CLIPPING_SHARE] = share(n_clip[i]);
        let last_day = win[i] + window_ms - 1;
        let (degradation, peer_trend) = trends.at(asset[i] as usize, last_day);
        v[idx::DEGRADATION] = degradation;
        v[idx::PEER_TREND] = peer_trend;
        let start = DateTime::<Utc>::from_timestamp_millis(win[i]).unwrap_or_default();
        out.push(InverterWindowRow {
            asset: site.assets[asset[i] as usize].clone(),
            window_start: start,
            window_end: start + Duration::milliseconds(window_ms),
            readings: n[i] as usize,
            values: v,
        });
    }
    let days = daily.into_iter().map(|(a, d)| DailyPerformance { asset: site.assets[a].clone(), ..d }).collect();
    Ok((out, days))
}
