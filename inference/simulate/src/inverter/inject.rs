//! Applying planned faults to real readings, and labelling windows from what was applied.

use std::collections::HashMap;

use prognos_core::{Metric, Reading};
use prognos_features::inverter::{InverterWindowRow, WindowSpec};

use super::fault::{Fault, FaultKind};

/// What a fault did to one reading: its kind and effect in [0, 1].
pub type Effect = Option<(FaultKind, f64)>;

/// Applies `faults` to `readings` in place (one site; any order) and returns the effect on each reading,
/// aligned with `readings`. `ac_limit` is the site's AC limit in W (for derating caps and load).
pub fn inject(readings: &mut [Reading], faults: &[Fault], ac_limit: f64) -> Vec<Effect> {
    let mut by_asset: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in readings.iter().enumerate() {
        by_asset.entry(r.asset.as_str()).or_default().push(i);
    }
    let mut by_asset: HashMap<String, Vec<usize>> = by_asset.into_iter().map(|(a, v)| (a.to_owned(), v)).collect();
    for idx in by_asset.values_mut() {
        idx.sort_by_key(|&i| readings[i].ts);
    }
    let mut effects: Vec<Effect> = vec![None; readings.len()];
    for fault in faults {
        let Some(idx) = by_asset.get(&fault.asset) else { continue };
        let first = idx.partition_point(|&i| readings[i].ts < fault.start);
        let frozen = idx.get(first).map(|&i| readings[i].clone());
        for &i in &idx[first..] {
            if !fault.covers(readings[i].ts) {
                break;
            }
            let e = fault.apply(&mut readings[i], frozen.as_ref(), ac_limit);
            effects[i] = Some((fault.kind, e));
        }
    }
    effects
}

/// The label of each window row: the fault with the largest mean effect over the window's daylight readings
/// of that inverter (its severity, rounded to 4 decimals), or `healthy` with severity 0. `readings` and
/// `effects` must be what the rows were computed from.
pub fn label_windows(
    rows: &[InverterWindowRow],
    readings: &[Reading],
    effects: &[Effect],
    spec: &WindowSpec,
) -> Vec<(String, f64)> {
    let window_ms = spec.window.num_milliseconds();
    let off = spec.align_offset.num_milliseconds().rem_euclid(window_ms);
    // (asset, window start ms) -> (daylight readings, effect sum per kind)
    let mut acc: HashMap<(&str, i64), (usize, [f64; FaultKind::ALL.len()])> = HashMap::new();
    for (r, e) in readings.iter().zip(effects) {
        let daylight = r.get(Metric::IrradianceWM2).is_some_and(|g| g >= spec.daylight_irradiance_w_m2);
        if !daylight {
            continue;
        }
        let t = r.ts.timestamp_millis();
        let w = (t - off).div_euclid(window_ms) * window_ms + off;
        let slot = acc.entry((r.asset.as_str(), w)).or_insert((0, [0.0; FaultKind::ALL.len()]));
        slot.0 += 1;
        if let Some((kind, effect)) = e {
            let k = FaultKind::ALL.iter().position(|x| x == kind).unwrap_or(0);
            slot.1[k] += effect;
        }
    }
    rows.iter()
        .map(|row| {
            let key = (row.asset.as_str(), row.window_start.timestamp_millis());
            let Some((n, sums)) = acc.get(&key).filter(|(n, _)| *n > 0) else {
                return ("healthy".to_owned(), 0.0);
            };
            let (k, best) = sums.iter().enumerate().fold((0, 0.0), |b, (k, s)| if *s > b.1 { (k, *s) } else { b });
            let severity = ((best / *n as f64).min(1.0) * 1e4).round() / 1e4;
            if severity > 0.0 {
                (FaultKind::ALL[k].as_str().to_owned(), severity)
            } else {
                ("healthy".to_owned(), 0.0)
            }
        })
        .collect()
}
