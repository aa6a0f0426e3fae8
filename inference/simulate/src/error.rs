//! The typed error of the simulator.

use std::path::PathBuf;

use prognos_features::FeatureError;
use prognos_formats::icon::IconError;

/// Why a simulation, its files or its training rows could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A spec or option is out of range.
    #[error("invalid simulation input: {0}")]
    InvalidSpec(String),
    /// Encoding, writing or reading back a capture failed.
    #[error("capture {capture_id}: {source}")]
    Icon {
        /// The capture concerned.
        capture_id: String,
        /// The reader/writer's error.
        #[source]
        source: IconError,
    },
    /// Featurizing a simulated capture failed.
    #[error("capture {capture_id}: {source}")]
    Features {
        /// The capture concerned.
        capture_id: String,
        /// The featurizer's error.
        #[source]
        source: FeatureError,
    },
    /// Writing a CSV failed.
    #[error("writing {path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// A file or directory operation failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Neither an output folder nor a training CSV was asked for.
    #[error("nothing to do: give an output folder (--out), a training CSV (--training-csv), or both")]
    NothingToDo,
}
