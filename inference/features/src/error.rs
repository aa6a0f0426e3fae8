//! The typed error of featurization and feature-CSV writing.

use std::path::PathBuf;

/// Why features could not be computed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// The surface is smaller than featurizing needs.
    #[error(
        "surface of {rows} profiles x {width} columns is too small (need at least {} x {})",
        crate::surface::MIN_ROWS,
        crate::surface::MIN_WIDTH
    )]
    TooSmall {
        /// Profiles.
        rows: usize,
        /// Columns.
        width: usize,
    },
    /// The height and intensity arrays differ in shape.
    #[error("height array is {heights:?} but intensity array is {intensity:?}")]
    ShapeMismatch {
        /// Height shape (rows, columns).
        heights: (usize, usize),
        /// Intensity shape (rows, columns).
        intensity: (usize, usize),
    },
    /// The capture has no Intensity/Reflectance plane; `wheel-v1` needs one.
    #[error("the capture has no Intensity or Reflectance plane; wheel-v1 features need one")]
    NoIntensity,
    /// No tread could be located.
    #[error("no tread found: {0}")]
    NoTread(String),
    /// Column pitch or height aspect unusable.
    #[error("unusable geometry: {0}")]
    Geometry(String),
    /// A feature row does not have one value per feature.
    #[error("feature row `{capture_id}` has {got} values, expected {expected}")]
    RowLength {
        /// The row's capture id.
        capture_id: String,
        /// Values present.
        got: usize,
        /// Values expected.
        expected: usize,
    },
    /// Writing a feature CSV failed.
    #[error("writing feature CSV {path}: {source}")]
    Csv {
        /// The file (or `-` for a writer).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// Creating or flushing a feature CSV failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
