//! A seeded, reproducible simulator of polyurethane ride-wheel captures in SICK iCon format.
//!
//! It follows `shared/spec/wheel-failure-modes.md`: healthy wheels and every failure mode of its table
//! ([`FailureMode`]) at a continuous severity in [0, 1] (0 invisible, 1 replace now; the defect's size
//! grows smoothly with it, see the table on [`FailureMode`]), on top of the camera effects: sensor noise,
//! missing points on steep edges, in the laser's shadow, in pits and cracks and at random, a slowly
//! varying reflectance, a wheel offset, lifted, tilted and wobbling in the field of view, 1536- and
//! 2560-column cameras ([`CameraModel`]) and any profile count. Captures are encoded as calibrated WORD
//! (world traits, optionally GenIStream traits), calibrated FLOAT mm, or uncalibrated WORD in 1/16
//! sensor rows ([`Encoding`]), in SUBCOMPONENT or SCAN layout, with or without extended mark data,
//! with an `Intensity` (1536) or `Reflectance` (2560) BYTE plane.
//!
//! The scene (sizes in mm, drawn per capture from its seed):
//!
//! | what | value |
//! |---|---|
//! | wheel | tread 76 wide, 12 +- 0.2 thick over hub rims 10 wide each side, crown 0.2-0.4, corners r 3; radius 125, one turn per capture |
//! | field of view | 110 (1536 columns, Ranger E style), 130 (2560 columns, Ranger3 style); calibrated range window 5-55 |
//! | misalignment | offset +-4 across, lift +-2, tilt +-0.012 (0.7 deg), eccentric wobble up to 0.1 once per turn |
//! | noise | height sigma 0.02 per point; intensity 5 % speckle + 1 level |
//! | missing points | background beyond the hub rims, slopes steeper than 2.5, a laser shadow 0.35 x the tread step wide on one hub rim, 0.03 % random dropouts, pit walls and floors, crack points |
//! | reflectance | gain 0.85-1.15 times slow sines (up to +-12 %) along the rows and across the columns |
//! | uncalibrated | 1/16 sensor row (`scale z` 0.0625) of a sensor with square pixels (one row spans one column pitch) |
//!
//! - [`simulate`]: one [`WheelSpec`] to a [`CaptureData`](prognos_formats::icon::CaptureData); the same
//!   spec always gives the same bytes (ChaCha8 seeded from `WheelSpec::seed`).
//! - [`plan`]: a reproducible mix of specs ([`PlanOptions`]; by default 40 % healthy, the rest spread
//!   evenly over the modes at uniform severity).
//! - [`write_captures`]: camera folders and `labels.csv` (file names in [`output`]).
//! - [`training_rows`] / [`feature_row`]: labelled `wheel-v1` feature rows through the production reader,
//!   in memory.
//! - [`run_wheels`]: the command below.
//!
//! # `prognos simulate wheels`
//!
//! The server crate wires these flags onto [`WheelsOptions`]:
//!
//! | flag | field | meaning |
//! |---|---|---|
//! | `--out DIR` | `out` | write `DIR/Cam_01/*.xml+.dat`, `DIR/Cam_02/...` and `DIR/labels.csv` |
//! | `--training-csv FILE` | `training_csv` | write labelled feature rows of the same captures (header `capture_id,captured_at,camera,wheel,<wheel-v1 features>,label,severity`) |
//! | `--count N` | `count` | number of captures (default 100) |
//! | `--seed S` | `seed` | seed of the plan (default 1); same seed and options, same bytes |
//! | `--threads T` | `threads` | featurizing threads for the training CSV (default 1; output does not depend on it) |
//!
//! At least one of `--out` and `--training-csv` is required. File names: see [`output`]:
//! `<out>/<camera>/<camera>_<YYYYMMDD>T<HHMMSS><mmm>Z_<wheel>.xml` and `.dat`, for example
//! `Cam_01/Cam_01_20261122T002130123Z_W07.xml`.
//!
//! [`inverter`] injects seeded faults into real inverter series for `inverter-v1` training data.

mod capture;
mod condition;
mod error;
pub mod inverter;
mod noise;
pub mod output;
mod plan;
mod render;
mod run;
mod scene;
mod spec;
mod training;

pub use capture::{simulate, SENSOR_SCALE_Z, TICKS_PER_PROFILE};
pub use error::SimError;
pub use output::{capture_stem, write_captures, write_labels, Written, LABELS_HEADER};
pub use plan::{plan, PlanOptions};
pub use prognos_formats::icon::Layout;
pub use run::{run_wheels, Summary, WheelsOptions};
pub use spec::{
    CameraModel, Encoding, FailureMode, WheelSpec, HEALTHY, MAX_PROFILES, MAX_WIDTH, MIN_PROFILES, MIN_WIDTH,
};
pub use training::{feature_row, rows_for, training_rows};
