//! Canonical inverter readings (`../shared/spec/inverter-metrics.md`): whatever a site calls its columns, a
//! pipeline maps them onto these metrics in SI units, and everything downstream (window features, the store,
//! range rules) speaks only these names.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One canonical metric. The string form (`ac_power_w`, ...) is what pipeline files, the store and the API use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// AC output power, W.
    AcPowerW,
    /// AC current, A.
    AcCurrentA,
    /// AC voltage, V.
    AcVoltageV,
    /// Grid frequency, Hz.
    AcFrequencyHz,
    /// Cumulative energy, Wh (may reset).
    EnergyTotalWh,
    /// DC input power, W.
    DcPowerW,
    /// DC current, A.
    DcCurrentA,
    /// DC voltage, V.
    DcVoltageV,
    /// Inverter (cabinet or heat-sink) temperature, degC.
    InverterTempC,
    /// Module temperature, degC (weather station).
    ModuleTempC,
    /// Ambient temperature, degC (weather station).
    AmbientTempC,
    /// Plane-of-array irradiance, W/m2 (weather station).
    IrradianceWM2,
    /// Operating state (SunSpec `St`, models 101-103 numbering).
    Status,
    /// Event bitfield (SunSpec `Evt1`).
    Events,
}

impl Metric {
    /// Every metric, in a fixed order (the order of [`Reading::values`]).
    pub const ALL: [Metric; 14] = [
        Metric::AcPowerW,
        Metric::AcCurrentA,
        Metric::AcVoltageV,
        Metric::AcFrequencyHz,
        Metric::EnergyTotalWh,
        Metric::DcPowerW,
        Metric::DcCurrentA,
        Metric::DcVoltageV,
        Metric::InverterTempC,
        Metric::ModuleTempC,
        Metric::AmbientTempC,
        Metric::IrradianceWM2,
        Metric::Status,
        Metric::Events,
    ];

    /// Number of canonical metrics.
    pub const COUNT: usize = Self::ALL.len();

    /// Position in [`Metric::ALL`] and in [`Reading::values`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The canonical name, e.g. `ac_power_w`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::AcPowerW => "ac_power_w",
            Metric::AcCurrentA => "ac_current_a",
            Metric::AcVoltageV => "ac_voltage_v",
            Metric::AcFrequencyHz => "ac_frequency_hz",
            Metric::EnergyTotalWh => "energy_total_wh",
            Metric::DcPowerW => "dc_power_w",
            Metric::DcCurrentA => "dc_current_a",
            Metric::DcVoltageV => "dc_voltage_v",
            Metric::InverterTempC => "inverter_temp_c",
            Metric::ModuleTempC => "module_temp_c",
            Metric::AmbientTempC => "ambient_temp_c",
            Metric::IrradianceWM2 => "irradiance_w_m2",
            Metric::Status => "status",
            Metric::Events => "events",
        }
    }

    /// Whether the metric comes from a plant's weather station rather than from each inverter.
    pub fn is_weather(self) -> bool {
        matches!(self, Metric::ModuleTempC | Metric::AmbientTempC | Metric::IrradianceWM2)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a canonical metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric {0:?} (known: ac_power_w, ac_current_a, ac_voltage_v, ac_frequency_hz, energy_total_wh, dc_power_w, dc_current_a, dc_voltage_v, inverter_temp_c, module_temp_c, ambient_temp_c, irradiance_w_m2, status, events)")]
pub struct UnknownMetric(pub String);

impl FromStr for Metric {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| UnknownMetric(s.to_owned()))
    }
}

/// One inverter's readings at one instant, in canonical units. Weather metrics are joined in from the site's
/// weather station when the source carries them separately.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// The inverter's asset id (unique within the site).
    pub asset: String,
    /// When the reading was taken (UTC).
    pub ts: DateTime<Utc>,
    /// One value per [`Metric::ALL`] entry, `None` when the source does not report it.
    pub values: [Option<f64>; Metric::COUNT],
}

impl Reading {
    /// A reading with no values yet.
    pub fn new(asset: impl Into<String>, ts: DateTime<Utc>) -> Self {
        Self { asset: asset.into(), ts, values: [None; Metric::COUNT] }
    }

    /// The value of one metric, if reported.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.values[metric.index()]
    }

    /// Set one metric.
    pub fn set(&mut self, metric: Metric, value: f64) {
        self.values[metric.index()] = Some(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_index_matches_order() {
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(m.index(), i);
            assert_eq!(m.as_str().parse::<Metric>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.as_str()));
        }
        assert!("ac_power_kw".parse::<Metric>().is_err());
    }
}
