//! [`WindowSpec`]: how readings are cut into windows and which thresholds the features use.

use chrono::Duration;
use prognos_core::{Metric, Reading};

use super::FeatureError;

/// Window length, alignment and the thresholds of `inverter-v1`. [`WindowSpec::default`] is the training
/// configuration of `models/inverter-health` (1-day windows aligned on UTC midnight).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    /// Window length (for example 1 hour or 1 day). Must be positive.
    pub window: Duration,
    /// Windows start at the epoch plus this offset plus a multiple of `window` (e.g. the site's local
    /// midnight: `-5 h 30 min` for India with 1-day windows). Days for the degradation and trend features use
    /// the same offset.
    pub align_offset: Duration,
    /// A reading is *daylight* when its irradiance is at least this (W/m2). Without irradiance, when the
    /// site's median AC power is at least 2 % of the AC limit.
    pub daylight_irradiance_w_m2: f64,
    /// A reading is *productive* (trip and clipping shares) when its irradiance is at least this (W/m2).
    /// Without irradiance, when the site's median AC power is at least 10 % of the AC limit.
    pub productive_irradiance_w_m2: f64,
    /// The inverter's AC power limit in W (nameplate), when known. `None`: estimated from the readings with
    /// [`estimate_ac_limit`] (the live path should pass a value estimated once on a longer history).
    pub ac_limit_w: Option<f64>,
    /// The reporting interval. `None`: the median spacing of consecutive readings of an inverter.
    pub interval: Option<Duration>,
    /// AC power below this share of the AC limit counts as near-zero output.
    pub near_zero_share: f64,
    /// AC power within this share of the AC limit counts as clipping.
    pub clipping_tolerance: f64,
    /// "At load" for the temperature rise: AC power at least this share of the AC limit.
    pub load_share: f64,
    /// Fewer inverters than this reporting AC power at a timestamp: no peer median there.
    pub min_peers: usize,
    /// Days (up to the window's last day) over which `peer_trend_pct_per_day` is fitted.
    pub trend_days: usize,
    /// Fewer usable days than this: `degradation_pct_per_year` is NaN.
    pub degradation_min_days: usize,
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec {
            window: Duration::days(1),
            align_offset: Duration::zero(),
            daylight_irradiance_w_m2: 50.0,
            productive_irradiance_w_m2: 200.0,
            ac_limit_w: None,
            interval: None,
            near_zero_share: 0.01,
            clipping_tolerance: 0.02,
            load_share: 0.3,
            min_peers: 3,
            trend_days: 14,
            degradation_min_days: 7,
        }
    }
}

impl WindowSpec {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), FeatureError> {
        let bad = |m: &str| Err(FeatureError::InvalidSpec(m.to_owned()));
        if self.window <= Duration::zero() {
            return bad("window must be positive");
        }
        if let Some(i) = self.interval {
            if i <= Duration::zero() {
                return bad("interval must be positive");
            }
        }
        if let Some(l) = self.ac_limit_w {
            if !(l.is_finite() && l > 0.0) {
                return bad("ac_limit_w must be a positive number");
            }
        }
        for (name, v) in [
            ("near_zero_share", self.near_zero_share),
            ("clipping_tolerance", self.clipping_tolerance),
            ("load_share", self.load_share),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(FeatureError::InvalidSpec(format!("{name} must be in [0, 1), got {v}")));
            }
        }
        if !(self.daylight_irradiance_w_m2.is_finite() && self.productive_irradiance_w_m2.is_finite()) {
            return bad("irradiance thresholds must be finite");
        }
        if self.min_peers == 0 || self.trend_days < 2 || self.degradation_min_days < 2 {
            return bad("min_peers must be >= 1, trend_days and degradation_min_days >= 2");
        }
        Ok(())
    }

    /// Window length in milliseconds.
    pub(crate) fn window_ms(&self) -> i64 {
        self.window.num_milliseconds()
    }

    /// Alignment offset in milliseconds, reduced into `[0, window)`.
    pub(crate) fn offset_ms(&self, period_ms: i64) -> i64 {
        self.align_offset.num_milliseconds().rem_euclid(period_ms)
    }
}

/// Estimates a site's AC power limit (W) as the 99.9th percentile of every AC power reading: clipped
/// inverters sit at their limit around noon, and one outlier cannot move it. `None` without any positive
/// AC power (a night-only batch).
pub fn estimate_ac_limit(readings: &[Reading]) -> Option<f64> {
    let mut ac: Vec<f64> =
        readings.iter().filter_map(|r| r.get(Metric::AcPowerW)).filter(|v| v.is_finite() && *v > 0.0).collect();
    if ac.is_empty() {
        return None;
    }
    let k = ((ac.len() - 1) as f64 * 0.999).round() as usize;
    let (_, v, _) = ac.select_nth_unstable_by(k, f64::total_cmp);
    Some(*v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn default_validates_and_bad_values_are_refused() {
        WindowSpec::default().validate().unwrap();
        let spec = WindowSpec { window: Duration::zero(), ..WindowSpec::default() };
        assert!(matches!(spec.validate(), Err(FeatureError::InvalidSpec(_))));
        let spec = WindowSpec { ac_limit_w: Some(f64::NAN), ..WindowSpec::default() };
        assert!(spec.validate().is_err());
        let spec = WindowSpec { clipping_tolerance: 1.5, ..WindowSpec::default() };
        assert!(spec.validate().unwrap_err().to_string().contains("clipping_tolerance"));
    }

    #[test]
    fn ac_limit_is_a_high_percentile_not_the_outlier() {
        let t = Utc.with_ymd_and_hms(2020, 5, 15, 0, 0, 0).unwrap();
        let mut readings: Vec<Reading> = (0..2000)
            .map(|i| {
                let mut r = Reading::new("a", t + Duration::minutes(15 * i));
                r.set(Metric::AcPowerW, (i % 100) as f64 * 10.0);
                r
            })
            .collect();
        readings[7].set(Metric::AcPowerW, 1e9);
        assert_eq!(estimate_ac_limit(&readings), Some(990.0));
        assert_eq!(estimate_ac_limit(&readings[..0]), None);
    }
}
