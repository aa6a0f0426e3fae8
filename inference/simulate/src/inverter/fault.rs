//! The inverter faults and how each one changes a real reading.
//!
//! | fault (label) | physical change | severity 1 means |
//! |---|---|---|
//! | `trip` | the inverter disconnects: AC and DC power and currents 0, status FAULT | tripped for the whole daylight of the window |
//! | `string_outage` | k of n parallel strings open (blown fuse, connector): DC current and power, AC power and current x (1 - k/n) | half of the strings lost |
//! | `derating` | AC power capped (thermal or grid-operator limit); the DC side follows the operating point | capped at 30 % of the AC limit |
//! | `efficiency_loss` | conversion losses grow (failing IGBT, capacitor): AC x (1 - 0.15 s); the extra loss heats the inverter | 15 percentage points less efficiency |
//! | `stale_logger` | the logger freezes: every inverter metric repeats the last value (weather is another logger) | frozen for the whole daylight of the window |
//! | `soiling` | dust builds up on the modules of this inverter: DC and AC x (1 - 0.3 s x progress), ramping over the episode | 30 % yield lost |
//! | `fan_failure` | cooling fails: the inverter's rise over ambient grows with load, x (1 + 2 s x load) | rise tripled at full load |
//!
//! A fault changes only the inverter's own metrics, never the weather station's. `energy_total_wh` is left
//! as recorded (the features do not read it) except by `stale_logger`, which freezes it too.

use chrono::{DateTime, Utc};
use prognos_core::{Metric, Reading};

/// A fault mode of an inverter (or its logger, or its modules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// Disconnected: zero output.
    Trip,
    /// Some strings lost.
    StringOutage,
    /// AC output capped.
    Derating,
    /// Conversion efficiency lost.
    EfficiencyLoss,
    /// Frozen logger values.
    StaleLogger,
    /// Slow yield loss from dirt.
    Soiling,
    /// Temperature rise at load (needs `inverter_temp_c` in the source).
    FanFailure,
}

impl FaultKind {
    /// Every fault kind.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Trip,
        FaultKind::StringOutage,
        FaultKind::Derating,
        FaultKind::EfficiencyLoss,
        FaultKind::StaleLogger,
        FaultKind::Soiling,
        FaultKind::FanFailure,
    ];

    /// The training label.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Trip => "trip",
            FaultKind::StringOutage => "string_outage",
            FaultKind::Derating => "derating",
            FaultKind::EfficiencyLoss => "efficiency_loss",
            FaultKind::StaleLogger => "stale_logger",
            FaultKind::Soiling => "soiling",
            FaultKind::FanFailure => "fan_failure",
        }
    }

    /// Whether the fault is only visible through `inverter_temp_c` (not injected where the source has none).
    pub fn needs_inverter_temp(self) -> bool {
        self == FaultKind::FanFailure
    }
}

/// One injected fault episode on one inverter.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// What fails.
    pub kind: FaultKind,
    /// The inverter.
    pub asset: String,
    /// First affected instant (inclusive).
    pub start: DateTime<Utc>,
    /// End of the episode (exclusive): repaired, cleaned or reset.
    pub end: DateTime<Utc>,
    /// Severity in (0, 1] (see the table above).
    pub severity: f64,
    /// `string_outage`: strings in parallel on the inverter (the lost ones are `max(1, round(s n / 2))`).
    pub strings: u32,
}

/// Multiply the listed metrics of a reading by `f` where reported.
fn scale(r: &mut Reading, metrics: &[Metric], f: f64) {
    for &m in metrics {
        if let Some(v) = r.get(m) {
            r.set(m, v * f);
        }
    }
}

const POWER_SIDE: [Metric; 4] = [Metric::AcPowerW, Metric::AcCurrentA, Metric::DcPowerW, Metric::DcCurrentA];

impl Fault {
    /// Whether `t` lies in the episode.
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// Lost strings of `strings` for a string outage.
    pub fn lost_strings(&self) -> u32 {
        ((self.severity * self.strings as f64 / 2.0).round() as u32).clamp(1, self.strings.max(1))
    }

    /// Applies the fault to one reading of its inverter inside the episode; `frozen` is the reading a stale
    /// logger repeats, `ac_limit` the site's AC limit in W. Returns the effect on this reading in [0, 1]
    /// (what the window label averages over daylight readings).
    pub fn apply(&self, r: &mut Reading, frozen: Option<&Reading>, ac_limit: f64) -> f64 {
        let s = self.severity;
        match self.kind {
            FaultKind::Trip => {
                for m in POWER_SIDE {
                    if r.get(m).is_some() {
                        r.set(m, 0.0);
                    }
                }
                if r.get(Metric::Status).is_some() {
                    r.set(Metric::Status, 7.0);
                }
                1.0
            }
            FaultKind::StringOutage => {
                let k = self.lost_strings();
                scale(r, &POWER_SIDE, 1.0 - k as f64 / self.strings as f64);
                (2.0 * k as f64 / self.strings as f64).min(1.0)
            }
            FaultKind::Derating => {
                let cap = (1.0 - 0.7 * s) * ac_limit;
                if let Some(ac) = r.get(Metric::AcPowerW) {
                    if ac > cap && ac > 0.0 {
                        let f = cap / ac;
                        scale(r, &POWER_SIDE, f);
                    }
                }
                s
            }
            FaultKind::EfficiencyLoss => {
                let lost = 0.15 * s;
                let ac = r.get(Metric::AcPowerW).unwrap_or(0.0);
                scale(r, &[Metric::AcPowerW, Metric::AcCurrentA], 1.0 - lost);
                if let Some(t) = r.get(Metric::InverterTempC) {
                    // About 0.4 degC per percent of rated power dissipated on a forced-air heat sink.
                    r.set(Metric::InverterTempC, t + 40.0 * lost * ac / ac_limit.max(1.0));
                }
                s
            }
            FaultKind::StaleLogger => {
                if let Some(f) = frozen {
                    for m in Metric::ALL.into_iter().filter(|m| !m.is_weather()) {
                        r.values[m.index()] = f.values[m.index()];
                    }
                }
                1.0
            }
            FaultKind::Soiling => {
                let span = (self.end - self.start).num_seconds().max(1) as f64;
                let progress = ((r.ts - self.start).num_seconds() as f64 / span).clamp(0.0, 1.0);
                let loss = 0.3 * s * progress;
                scale(r, &POWER_SIDE, 1.0 - loss);
                s * progress
            }
            FaultKind::FanFailure => {
                if let (Some(t), Some(amb)) = (r.get(Metric::InverterTempC), r.get(Metric::AmbientTempC)) {
                    let load = (r.get(Metric::AcPowerW).unwrap_or(0.0) / ac_limit.max(1.0)).clamp(0.0, 1.2);
                    let rise = (t - amb).max(0.0);
                    r.set(Metric::InverterTempC, amb + rise * (1.0 + 2.0 * s * load));
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn reading() -> Reading {
        let mut r = Reading::new("inv", Utc.with_ymd_and_hms(2020, 5, 15, 6, 0, 0).unwrap());
        r.set(Metric::AcPowerW, 800.0);
        r.set(Metric::DcPowerW, 820.0);
        r.set(Metric::InverterTempC, 50.0);
        r.set(Metric::AmbientTempC, 30.0);
        r.set(Metric::IrradianceWM2, 900.0);
        r
    }

    fn fault(kind: FaultKind, severity: f64) -> Fault {
        let start = Utc.with_ymd_and_hms(2020, 5, 15, 0, 0, 0).unwrap();
        Fault { kind, asset: "inv".into(), start, end: start + Duration::days(1), severity, strings: 10 }
    }

    #[test]
    fn each_fault_changes_what_it_should_and_never_the_weather() {
        let limit = 1000.0;
        let mut r = reading();
        assert_eq!(fault(FaultKind::Trip, 0.5).apply(&mut r, None, limit), 1.0);
        assert_eq!((r.get(Metric::AcPowerW), r.get(Metric::DcPowerW)), (Some(0.0), Some(0.0)));

        let mut r = reading();
        let f = fault(FaultKind::StringOutage, 0.4);
        assert_eq!(f.lost_strings(), 2);
        assert!((f.apply(&mut r, None, limit) - 0.4).abs() < 1e-12);
        assert!((r.get(Metric::DcPowerW).unwrap() - 656.0).abs() < 1e-9);

        let mut r = reading();
        fault(FaultKind::Derating, 0.5).apply(&mut r, None, limit);
        assert!((r.get(Metric::AcPowerW).unwrap() - 650.0).abs() < 1e-9);
        assert!((r.get(Metric::DcPowerW).unwrap() - 820.0 * 650.0 / 800.0).abs() < 1e-9);

        let mut r = reading();
        fault(FaultKind::EfficiencyLoss, 1.0).apply(&mut r, None, limit);
        assert!((r.get(Metric::AcPowerW).unwrap() - 680.0).abs() < 1e-9);
        assert_eq!(r.get(Metric::DcPowerW), Some(820.0));
        assert!(r.get(Metric::InverterTempC).unwrap() > 50.0);

        let mut r = reading();
        let mut old = reading();
        old.set(Metric::AcPowerW, 123.0);
        old.set(Metric::IrradianceWM2, 5.0);
        fault(FaultKind::StaleLogger, 0.5).apply(&mut r, Some(&old), limit);
        assert_eq!(r.get(Metric::AcPowerW), Some(123.0));
        assert_eq!(r.get(Metric::IrradianceWM2), Some(900.0), "weather is another logger");

        let mut r = reading();
        let e = fault(FaultKind::Soiling, 1.0).apply(&mut r, None, limit);
        assert!((e - 0.25).abs() < 1e-12, "six hours into a one-day ramp");
        assert!((r.get(Metric::AcPowerW).unwrap() - 800.0 * (1.0 - 0.075)).abs() < 1e-9);

        let mut r = reading();
        fault(FaultKind::FanFailure, 1.0).apply(&mut r, None, limit);
        assert!((r.get(Metric::InverterTempC).unwrap() - (30.0 + 20.0 * 2.6)).abs() < 1e-9);
        assert_eq!(r.get(Metric::AcPowerW), Some(800.0));
    }
}
