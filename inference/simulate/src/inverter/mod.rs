//! Fault injection into real inverter series, for `inverter-v1` training data.
//!
//! No public inverter telemetry carries fault labels, so faults are injected into real, healthy series
//! (`shared/spec/inverter-metrics.md`): [`plan_faults`] draws seeded episodes per inverter (kind, start,
//! length, continuous severity), [`inject`] changes the affected readings physically (the table on
//! [`FaultKind`]'s module), and [`label_windows`] labels each window with the fault whose mean effect over its
//! daylight readings is largest. [`training_windows`] does all of it for one site and leaves out windows whose
//! *un-injected* data already looks faulty (a real outage or underperformer cannot be called healthy);
//! [`write_training_csv`] writes the training-data CSV.
//!
//! `fan_failure` acts on `inverter_temp_c`. Sources without it (the Kaggle plants) get no fan failures: the
//! plan skips that kind for inverters that never report the metric, and `temp_rise_at_load_c` stays NaN
//! there, which the model learns as "unknown".

mod fault;
mod inject;
mod plan;
mod run;

pub use fault::{Fault, FaultKind};
pub use inject::{inject, label_windows, Effect};
pub use plan::{plan_faults, FaultPlanOptions};
pub use run::{
    real_windows, training_windows, write_training_csv, InverterSimError, InvertersOptions, InvertersSummary,
};
