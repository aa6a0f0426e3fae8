//! A seeded plan of fault episodes over a site's real readings: which inverter, which fault, when, how bad.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use prognos_core::{Metric, Reading};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fault::{Fault, FaultKind};

/// How often and how hard faults strike.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlanOptions {
    /// Chance that an episode starts on a healthy day of an inverter (each episode is followed by at least one
    /// healthy day). The default, 0.15, leaves about half of the inverter-days healthy.
    pub episode_start_chance: f64,
    /// Severities are drawn uniformly from `[min_severity, 1]`.
    pub min_severity: f64,
    /// Days start at midnight UTC plus this offset (use the window spec's alignment).
    pub day_offset: Duration,
    /// Irradiance (W/m2) from which a reading counts as daylight when placing trips and frozen loggers.
    pub daylight_irradiance_w_m2: f64,
    /// Fault kinds to draw from; kinds that need `inverter_temp_c` are skipped for inverters without it.
    pub kinds: Vec<FaultKind>,
}

impl Default for FaultPlanOptions {
    fn default() -> Self {
        FaultPlanOptions {
            episode_start_chance: 0.15,
            min_severity: 0.05,
            day_offset: Duration::zero(),
            daylight_irradiance_w_m2: 50.0,
            kinds: FaultKind::ALL.to_vec(),
        }
    }
}

/// First and last daylight reading of a day, if any.
type Span = Option<(DateTime<Utc>, DateTime<Utc>)>;

/// One inverter-day's daylight span.
struct Day {
    start: DateTime<Utc>,
    daylight: Span,
}

/// The fault episodes for `readings` (one site), from `seed`: the same readings, seed and options always give
/// the same plan. Episodes of one inverter never overlap.
pub fn plan_faults(readings: &[Reading], seed: u64, opts: &FaultPlanOptions) -> Vec<Fault> {
    let day_ms = 86_400_000i64;
    let off = opts.day_offset.num_milliseconds().rem_euclid(day_ms);
    // asset -> (has inverter temperature, day start ms -> daylight span)
    let mut assets: BTreeMap<&str, (bool, BTreeMap<i64, Span>)> = BTreeMap::new();
    for r in readings {
        let entry = assets.entry(r.asset.as_str()).or_default();
        entry.0 |= r.get(Metric::InverterTempC).is_some();
        let t = r.ts.timestamp_millis();
        let d = (t - off).div_euclid(day_ms) * day_ms + off;
        let span = entry.1.entry(d).or_insert(None);
        if r.get(Metric::IrradianceWM2).is_some_and(|g| g >= opts.daylight_irradiance_w_m2) {
            *span = Some(match *span {
                None => (r.ts, r.ts),
                Some((a, b)) => (a.min(r.ts), b.max(r.ts)),
            });
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut faults = Vec::new();
    for (asset, (has_temp, days)) in assets {
        let kinds: Vec<FaultKind> =
            opts.kinds.iter().copied().filter(|k| has_temp || !k.needs_inverter_temp()).collect();
        if kinds.is_empty() {
            continue;
        }
        let days: Vec<Day> = days
            .into_iter()
            .map(|(d, daylight)| Day { start: DateTime::from_timestamp_millis(d).unwrap_or_default(), daylight })
            .collect();
        let mut i = 0;
        while i < days.len() {
            let day = &days[i];
            let starts = rng.random::<f64>() < opts.episode_start_chance;
            let Some((dawn, dusk)) = day.daylight.filter(|_| starts) else {
                i += 1;
                continue;
            };
            let kind = kinds[rng.random_range(0..kinds.len())];
            let severity = rng.random_range(opts.min_severity..=1.0);
            let strings = rng.random_range(8..=24u32);
            let (start, end, span_days) = match kind {
                FaultKind::Trip | FaultKind::StaleLogger => {
                    // Affected share of the daylight = severity (at least one 15-minute interval).
                    let daylight = (dusk - dawn).num_seconds().max(900) as f64;
                    let length = (severity * daylight).max(900.0);
                    let lead = rng.random::<f64>() * (daylight - length).max(0.0);
                    let start = dawn + Duration::seconds(lead as i64);
                    (start, start + Duration::seconds(length as i64), 1)
                }
                FaultKind::Soiling => {
                    let n = rng.random_range(7..=20);
                    (day.start, day.start + Duration::days(n), n)
                }
                _ => {
                    let n = rng.random_range(1..=4);
                    (day.start, day.start + Duration::days(n), n)
                }
            };
            faults.push(Fault { kind, asset: asset.to_owned(), start, end, severity, strings });
            i += span_days as usize + 1;
        }
    }
    faults
}
