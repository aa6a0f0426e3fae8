//! The typed error of the iCon reader and writer; every message is fit for a quarantine `.reason` file.

use std::path::PathBuf;

/// Why an iCon capture could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IconError {
    /// A file could not be opened, read, mapped, written or renamed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The `.xml` is not well-formed XML.
    #[error("the .xml is not well-formed XML: {0}")]
    Xml(String),
    /// The `.xml` is XML but not an iCon header.
    #[error("the .xml is not an iCon header: {0}")]
    NotIcon(String),
    /// A required parameter is absent.
    #[error("missing parameter `{name}` in {context}")]
    MissingParameter {
        /// Parameter name.
        name: String,
        /// Where it was expected (element description).
        context: String,
    },
    /// A parameter is present but its value cannot be used.
    #[error("parameter `{name}` in {context} has invalid value `{value}`")]
    InvalidParameter {
        /// Parameter name.
        name: String,
        /// Where it was found.
        context: String,
        /// The offending text.
        value: String,
    },
    /// A subcomponent declares a value type other than BYTE, WORD, INT or FLOAT.
    #[error("subcomponent `{subcomponent}` has unknown value type `{value_type}` (expected BYTE, WORD, INT or FLOAT)")]
    UnknownValueType {
        /// Subcomponent name.
        subcomponent: String,
        /// The value type text.
        value_type: String,
    },
    /// A known subcomponent uses a value type this reader cannot interpret for it.
    #[error("subcomponent `{subcomponent}` has value type {value_type}, expected {expected}")]
    UnsupportedValueType {
        /// Subcomponent name.
        subcomponent: String,
        /// The declared type.
        value_type: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The layout is neither SUBCOMPONENT nor SCAN.
    #[error("unknown layout `{0}` (expected SUBCOMPONENT or SCAN)")]
    UnknownLayout(String),
    /// A subcomponent's `size` is not `width` x bytes-per-value.
    #[error("subcomponent `{subcomponent}` size {size} != width {width} x {bytes_per_value} bytes per value")]
    SubcomponentSize {
        /// Subcomponent name.
        subcomponent: String,
        /// Declared size in bytes.
        size: usize,
        /// Declared width.
        width: usize,
        /// Bytes per value of its type.
        bytes_per_value: usize,
    },
    /// The root (or a component's) `size` is not the sum of its subcomponent sizes.
    #[error("{context} size {declared} != {summed}, the sum of its subcomponent sizes")]
    LineSize {
        /// `root` or `component "<name>"`.
        context: String,
        /// Declared size.
        declared: usize,
        /// Sum of the subcomponent sizes.
        summed: usize,
    },
    /// A dimension is zero or beyond the sane limits.
    #[error("absurd dimension: {what} = {value} (allowed {min}..={max})")]
    Dimension {
        /// What was measured.
        what: String,
        /// Its value.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A plane's width differs from the Range width of the same component.
    #[error("subcomponent `{subcomponent}` has width {width}, but the Range subcomponent has width {range_width}")]
    WidthMismatch {
        /// Subcomponent name.
        subcomponent: String,
        /// Its width.
        width: usize,
        /// The Range width.
        range_width: usize,
    },
    /// The header has no `Range` subcomponent.
    #[error("no Range subcomponent in the .xml: not a 3D capture")]
    MissingRange,
    /// The `.dat` file is empty.
    #[error("the .dat is empty (0 bytes): no profiles")]
    EmptyDat,
    /// The `.dat` length is not a whole number of lines.
    #[error("the .dat is truncated or corrupt: {len} bytes is not a whole multiple of the {line_size}-byte line ({remainder} bytes left over)")]
    Truncated {
        /// `.dat` length in bytes.
        len: u64,
        /// Bytes per profile line.
        line_size: usize,
        /// Bytes beyond the last whole line.
        remainder: usize,
    },
    /// A FLOAT range value is NaN or infinite.
    #[error("FLOAT range value at row {row}, column {col} is not finite ({value})")]
    NonFiniteRange {
        /// Profile index.
        row: usize,
        /// Column index.
        col: usize,
        /// The value.
        value: f32,
    },
    /// Data handed to the writer is inconsistent with its declared dimensions.
    #[error("{what}: expected {expected} values, got {found}")]
    DataLength {
        /// Which plane.
        what: &'static str,
        /// `profiles` x `width` (or `profiles` for mark data).
        expected: usize,
        /// What was given.
        found: usize,
    },
    /// Text handed to the writer cannot be stored in the `.xml`.
    #[error("invalid {what} for the .xml: {value:?}")]
    InvalidText {
        /// What it is (component name, unit).
        what: &'static str,
        /// The text.
        value: String,
    },
}

impl IconError {
    /// Wraps an i/o error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> IconError {
        IconError::Io { path: path.into(), source }
    }
}
