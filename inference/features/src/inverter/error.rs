//! The typed error of inverter window features.

use std::path::PathBuf;

/// Why inverter window features could not be computed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// A [`crate::inverter::WindowSpec`] value is out of range.
    #[error("invalid window spec: {0}")]
    InvalidSpec(String),
    /// The polars computation failed.
    #[error("window features: {0}")]
    Polars(#[from] polars::error::PolarsError),
    /// A row does not have one value per feature.
    #[error("window row of `{asset}` at {window_start} has {got} values, expected {expected}")]
    RowLength {
        /// The inverter.
        asset: String,
        /// The window's start (RFC 3339).
        window_start: String,
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
