//! Inverter window features: the versioned `inverter-v1` feature set of one inverter over one time window.
//!
//! [`window_features`] takes the canonical [`Reading`]s of **one site** (all its inverters, any order, weather
//! metrics already joined in) and returns one [`InverterWindowRow`] per inverter per window, with values in
//! [`feature_names`] order. Peer features compare each inverter with the median of the site's inverters at the
//! same timestamps, so the whole site must be passed together. Windows are `[start, start + window)` aligned on
//! the epoch plus [`WindowSpec::align_offset`]; a window still filling (live scoring after each reading) gives
//! the same kind of values, because every feature is a ratio, a share, a longest run, a count or a slope.
//! Undefined values (no daylight in the window, no inverter temperature in the source, too few peers) are NaN.
//!
//! The computation runs on a polars lazy frame (`frame` builds it, `window` aggregates it by inverter and
//! truncated window start); the degradation estimate works on daily aggregates (`degradation`). Names, units
//! and meanings are documented in [`schema`] and in `inference/features/FEATURES.md`.

mod csv_out;
mod degradation;
mod error;
mod frame;
pub mod schema;
mod spec;
mod window;

pub use csv_out::{inverter_csv_header, InverterCsvWriter, LabelledWindow};
pub use degradation::{daily_performance, degradation_rate, DailyPerformance, DegradationEstimate, DegradationMethod};
pub use error::FeatureError;
pub use schema::{feature_names, FEATURE_COUNT, FEATURE_NAMES, FEATURE_SET};
pub use spec::{estimate_ac_limit, WindowSpec};
pub use window::{window_features, window_features_with_history, History, InverterWindowRow};

pub use prognos_core::{Metric, Reading};

#[cfg(test)]
mod tests;
