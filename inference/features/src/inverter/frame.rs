//! Readings of one site to a polars frame: one row per reading, sorted by inverter and time, with the
//! sequential per-inverter quantities (stale runs, gaps) computed in the same pass that fills the columns.

use std::collections::HashMap;

use polars::prelude::*;
use prognos_core::{Metric, Reading};

use super::{FeatureError, WindowSpec};

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// A reading's value if reported and finite.
fn value(r: &Reading, m: Metric) -> Option<f64> {
    r.get(m).filter(|v| v.is_finite())
}

/// The site's readings as a frame, plus the inverter names (the `asset` column holds indices into it).
pub(crate) struct SiteFrame {
    /// Inverter names, sorted; `asset` values index this.
    pub assets: Vec<String>,
    /// Columns `asset` (u32), `ts`, `win`, `day` (i64 ms since the epoch), `ac`, `dc`, `inv_t`, `amb`, `irr`
    /// (f64, null when not reported), `stale_h` (f64: hours since the start of the current stale run),
    /// `gap` (bool: follows the previous reading by more than 1.5 intervals).
    pub frame: DataFrame,
}

/// Builds the frame. Windows and days are aligned on the epoch plus the spec's offset. `last_before` holds, per
/// inverter, the time (ms) of its last reading before `readings` when they are a range of a longer series: an
/// inverter's first reading in the range is a gap if it follows that one by too long.
pub(crate) fn site_frame(
    readings: &[Reading],
    spec: &WindowSpec,
    last_before: &HashMap<String, i64>,
) -> Result<SiteFrame, FeatureError> {
    let distinct: std::collections::HashSet<&str> = readings.iter().map(|r| r.asset.as_str()).collect();
    let mut assets: Vec<String> = distinct.into_iter().map(str::to_string).collect();
    assets.sort_unstable();
    let asset_index = |name: &str| assets.binary_search_by(|a| a.as_str().cmp(name)).unwrap_or(0) as u32;
    let mut order: Vec<(u32, i64, usize)> =
        readings.iter().enumerate().map(|(i, r)| (asset_index(&r.asset), r.ts.timestamp_millis(), i)).collect();
    order.sort_unstable();

    let interval_ms = match spec.interval {
        Some(i) => Some(i.num_milliseconds()),
        None => median_spacing(&order),
    };
    let win_ms = spec.window_ms();
    let win_off = spec.offset_ms(win_ms);
    let day_off = spec.offset_ms(DAY_MS);

    let n = order.len();
    let mut asset = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let mut win = Vec::with_capacity(n);
    let mut day = Vec::with_capacity(n);
    let mut cols: [Vec<Option<f64>>; 5] = std::array::from_fn(|_| Vec::with_capacity(n));
    let metrics =
        [Metric::AcPowerW, Metric::DcPowerW, Metric::InverterTempC, Metric::AmbientTempC, Metric::IrradianceWM2];
    let mut stale_h = Vec::with_capacity(n);
    let mut gap = Vec::with_capacity(n);

    let mut prev: Option<Previous> = None;
    let mut run_start = 0i64;
    for &(a, t, i) in &order {
        let r = &readings[i];
        let w = (t - win_off).div_euclid(win_ms) * win_ms + win_off;
        let d = (t - day_off).div_euclid(DAY_MS) * DAY_MS + day_off;
        let ac = value(r, Metric::AcPowerW);
        let dc = value(r, Metric::DcPowerW);
        let (same, is_gap) = match prev {
            Some((pa, pt, pw, pac, pdc)) if pa == a => {
                let same = pw == w && ac.is_some_and(|v| v != 0.0) && ac == pac && dc == pdc;
                let is_gap = interval_ms.is_some_and(|iv| (t - pt) as f64 > 1.5 * iv as f64);
                (same, is_gap)
            }
            _ => {
                let before = last_before.get(&assets[a as usize]).filter(|&&pt| pt < t);
                (false, before.is_some_and(|&pt| interval_ms.is_some_and(|iv| (t - pt) as f64 > 1.5 * iv as f64)))
            }
        };
        if !same {
            run_start = t;
        }
        stale_h.push((t - run_start) as f64 / 3_600_000.0);
        gap.push(is_gap);
        prev = Some((a, t, w, ac, dc));
        asset.push(a);
        ts.push(t);
        win.push(w);
        day.push(d);
        for (col, m) in cols.iter_mut().zip(metrics) {
            col.push(value(r, m));
        }
    }
    let [ac, dc, inv_t, amb, irr] = cols;
    let frame = DataFrame::new(
        n,
        vec![
            Column::new("asset".into(), asset),
            Column::new("ts".into(), ts),
            Column::new("win".into(), win),
            Column::new("day".into(), day),
            Column::new("ac".into(), ac),
            Column::new("dc".into(), dc),
            Column::new("inv_t".into(), inv_t),
            Column::new("amb".into(), amb),
            Column::new("irr".into(), irr),
            Column::new("stale_h".into(), stale_h),
            Column::new("gap".into(), gap),
        ],
    )?;
    Ok(SiteFrame { assets, frame })
}

/// The previous reading in (asset, time) order: asset, ts, window, AC power, DC power.
type Previous = (u32, i64, i64, Option<f64>, Option<f64>);

/// Median spacing of consecutive readings of the same inverter (positive spacings only).
fn median_spacing(order: &[(u32, i64, usize)]) -> Option<i64> {
    let mut dts: Vec<i64> =
        order.windows(2).filter(|p| p[0].0 == p[1].0).map(|p| p[1].1 - p[0].1).filter(|&d| d > 0).collect();
    if dts.is_empty() {
        return None;
    }
    let mid = dts.len() / 2;
    let (_, m, _) = dts.select_nth_unstable(mid);
    Some(*m)
}
