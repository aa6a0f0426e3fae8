//! Capture features for Prognos: the versioned `wheel-v1` feature set of a wheel scan.
//!
//! A [`Surface`] wraps a height map (rows along the circumference, columns across the tread, missing
//! points excluded) and its intensity, either straight over an iCon [`Capture`](prognos_formats::icon::Capture)
//! ([`Surface::from_capture`], converting raw rows on the fly) or over arrays ([`Surface::from_arrays`]).
//! [`featurize`] turns it into [`FeatureValues`] in [`FEATURE_NAMES`] order; the names, units and meanings
//! are documented in [`schema`]. [`FeatureRow`] adds the capture's identity and label, and
//! [`FeatureCsvWriter`] / [`write_feature_csv`] write the training-data CSV.
//!
//! Every feature is normalised per capture so that one model serves 1536- and 2560-column cameras,
//! calibrated (mm) and uncalibrated (sensor units) encodings, and wheels offset or tilted in the field of
//! view: heights are measured against the capture's own median profile and hub rim and expressed in
//! percent of the measured tread width; lengths are fractions; intensities are relative.
//!
//! How it works, in two reads of the data: the tread and hub are located on 64 sampled profiles
//! (`layout`), then one pass converts each profile into a reused buffer and reduces it to 64 column bins
//! of statistics while counting thin lines in the tread core (`scan`). Everything else works on that
//! small grid (`context`, `shape`, `rotation`, `local`).
//!
//! [`inverter`] holds the `inverter-v1` window features of solar inverters (polars).

mod context;
mod csv_out;
mod error;
mod featurize;
pub mod inverter;
mod kernels;
mod layout;
mod local;
mod rotation;
mod row;
mod scan;
pub mod schema;
mod shape;
mod stats;
mod surface;

pub use csv_out::{csv_header, write_feature_csv, FeatureCsvWriter};
pub use error::FeatureError;
pub use featurize::{featurize, featurize_with_geometry, FeatureValues, TreadGeometry};
pub use prognos_formats::icon::HeightUnits;
pub use row::FeatureRow;
pub use schema::{Feature, FeatureInfo, FEATURES, FEATURE_COUNT, FEATURE_NAMES, FEATURE_SET_VERSION};
pub use surface::{Surface, MIN_ROWS, MIN_WIDTH};
