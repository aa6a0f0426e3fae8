//! Inverter readings from CSV files and JSON batches, mapped onto canonical metrics by a pipeline's
//! `[inverter]` table (`prognos_core::pipeline::InverterSource`).
//!
//! A [`Mapping`] is compiled once per pipeline (with its weather series, if any). Each input then gets its
//! own parsing state: [`Mapping::csv`] streams a CSV file in chunks (nothing is loaded whole), [`Mapping::json`]
//! reads a JSON batch. Bad rows are rejected with a [`Reason`] and counted in a [`ParseReport`]; good rows
//! always go through. A whole input is refused ([`FormatError`]) only when it cannot be read at all: a required
//! column is missing (named), an unknown column under `unknown_columns = "refuse"`, or broken CSV/JSON syntax.
//!
//! ```no_run
//! # fn demo(source: &prognos_core::pipeline::InverterSource) -> Result<(), prognos_formats::inverter::FormatError> {
//! use prognos_formats::inverter::Mapping;
//! let mapping = std::sync::Arc::new(Mapping::new(source, None)?);
//! let file = std::fs::File::open("Plant_1_Generation_Data.csv").unwrap();
//! let mut readings = mapping.csv(file)?;
//! loop {
//!     let chunk = readings.next_chunk(10_000)?;
//!     if chunk.is_empty() { break }
//!     // store the chunk ...
//! }
//! println!("{:?}", readings.finish().rejected);
//! # Ok(()) }
//! ```

mod csv_reader;
mod json_reader;
mod report;
mod rows;
#[cfg(test)]
mod tests;
mod timestamp;
mod weather;

use std::sync::Arc;

use prognos_core::pipeline::{InverterSource, UnknownColumns};
use prognos_core::Metric;

pub use csv_reader::CsvReadings;
pub use report::{ParseReport, Reason, Rejection, Warning, MAX_SAMPLES};
pub use timestamp::TimeParser;
pub use weather::WeatherSeries;

/// An input that cannot be read at all (row-level problems are [`Reason`]s in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// A column the pipeline needs is not in the input.
    #[error("missing column {column:?} (the pipeline maps it; the input has {found})")]
    MissingColumn {
        /// The missing column.
        column: String,
        /// The columns the input does have.
        found: String,
    },
    /// A column the pipeline does not know, under `unknown_columns = "refuse"`.
    #[error("unknown column {0:?} (unknown_columns = \"refuse\": map it or add it to ignore)")]
    UnknownColumn(String),
    /// The CSV cannot be read (I/O or syntax).
    #[error("CSV: {0}")]
    Csv(String),
    /// The JSON is malformed or not a reading, an array of readings or `{"readings": [...]}`.
    #[error("JSON: {0}")]
    Json(String),
    /// The pipeline's `[inverter]` table cannot be used.
    #[error("pipeline: {0}")]
    Spec(String),
    /// The weather file cannot be read.
    #[error("weather series {path}: {reason}")]
    Weather {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// One pipeline's compiled mapping: cheap to share behind an [`Arc`] between sources.
#[derive(Debug)]
pub struct Mapping {
    source: InverterSource,
    weather: Option<Arc<WeatherSeries>>,
    irradiance_mapped: bool,
}

impl Mapping {
    /// Compiles `source` (already validated by `PipelineFile::load`), with the site's weather series if it
    /// comes separately.
    pub fn new(source: &InverterSource, weather: Option<Arc<WeatherSeries>>) -> Result<Self, FormatError> {
        source.validate().map_err(|m| FormatError::Spec(m.reason))?;
        TimeParser::new(&source.timestamp)?;
        let irradiance_mapped = source.columns.iter().any(|c| c.metric == Metric::IrradianceWM2);
        Ok(Self { source: source.clone(), weather, irradiance_mapped })
    }

    /// The pipeline table this mapping was compiled from.
    pub fn source(&self) -> &InverterSource {
        &self.source
    }

    /// The joined weather series, if any.
    pub fn weather(&self) -> Option<&Arc<WeatherSeries>> {
        self.weather.as_ref()
    }

    /// Starts reading a CSV: reads and checks the header now, rows on [`CsvReadings::next_chunk`].
    pub fn csv<R: std::io::Read>(self: &Arc<Self>, reader: R) -> Result<CsvReadings<R>, FormatError> {
        CsvReadings::new(Arc::clone(self), reader)
    }

    /// Reads a JSON batch: one reading object, an array of them, or `{"readings": [...]}`; keys are the site's
    /// column names.
    pub fn json(self: &Arc<Self>, bytes: &[u8]) -> Result<(Vec<prognos_core::Reading>, ParseReport), FormatError> {
        json_reader::read(Arc::clone(self), bytes)
    }

    /// What the header tells about unknown columns: `Err` under `refuse`, else the list to report.
    fn unknown<'a>(&self, names: impl Iterator<Item = &'a str>) -> Result<Vec<String>, FormatError> {
        let s = &self.source;
        let mut unknown = Vec::new();
        for name in names {
            let known = name == s.timestamp.column
                || s.asset_column.as_deref() == Some(name)
                || s.columns.iter().any(|c| c.source == name)
                || s.ignore.iter().any(|i| i == name);
            if !known {
                if s.unknown_columns == UnknownColumns::Refuse {
                    return Err(FormatError::UnknownColumn(name.to_string()));
                }
                if !unknown.iter().any(|u| u == name) {
                    unknown.push(name.to_string());
                }
            }
        }
        Ok(unknown)
    }
}
