//! What a reader says about its input: rows rejected with a reason, rows kept with a warning, columns it did
//! not know, and duplicates, all counted so that nothing is dropped without a trace.

use std::collections::BTreeMap;

use serde::Serialize;

/// Why a row was not ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The timestamp is empty or matches none of the pipeline's formats (or is not a valid local time).
    UnparseableTimestamp,
    /// The asset id column is empty.
    MissingAsset,
    /// A mapped cell is neither empty nor a number.
    NotANumber,
    /// A mapped cell is NaN or infinite.
    NanValue,
    /// Irradiance below zero.
    NegativeIrradiance,
    /// Further in the future than `future_tolerance_s`.
    FutureTimestamp,
    /// Outside one of the pipeline's range rules.
    OutOfRange,
    /// A JSON reading without one of the required columns.
    MissingColumn,
    /// A JSON item that is not an object, or a CSV record that cannot be read.
    Malformed,
}

impl Reason {
    /// Every reason, in a fixed order.
    pub const ALL: [Reason; 9] = [
        Reason::UnparseableTimestamp,
        Reason::MissingAsset,
        Reason::NotANumber,
        Reason::NanValue,
        Reason::NegativeIrradiance,
        Reason::FutureTimestamp,
        Reason::OutOfRange,
        Reason::MissingColumn,
        Reason::Malformed,
    ];

    /// The snake_case name used in reports and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnparseableTimestamp => "unparseable_timestamp",
            Reason::MissingAsset => "missing_asset",
            Reason::NotANumber => "not_a_number",
            Reason::NanValue => "nan_value",
            Reason::NegativeIrradiance => "negative_irradiance",
            Reason::FutureTimestamp => "future_timestamp",
            Reason::OutOfRange => "out_of_range",
            Reason::MissingColumn => "missing_column",
            Reason::Malformed => "malformed",
        }
    }
}

/// Something odd about a row that is still ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// Older than an earlier row of the same inverter in this input (stored all the same; windows are
    /// recomputed from the store, so order does not matter).
    OutOfOrder,
    /// `energy_total_wh` went down against the previous reading of the same inverter (a counter reset).
    CounterReset,
    /// No weather-station row within the join tolerance: the weather metrics stay empty.
    NoWeather,
}

impl Warning {
    /// The snake_case name used in reports and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Warning::OutOfOrder => "out_of_order",
            Warning::CounterReset => "counter_reset",
            Warning::NoWeather => "no_weather",
        }
    }
}

/// One rejected row: where it was and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    /// The CSV line number (the header is line 1) or the 1-based position in a JSON batch.
    pub row: u64,
    /// Why.
    pub reason: Reason,
    /// The column and value involved.
    pub detail: String,
}

/// How many rejections are kept with their row and detail (all are counted).
pub const MAX_SAMPLES: usize = 100;

/// Everything a reader has to say about one input.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParseReport {
    /// Data rows seen.
    pub rows: u64,
    /// Rows that became readings (before the store's duplicate check).
    pub parsed: u64,
    /// Rows repeating an asset + timestamp seen earlier in the same input (kept once).
    pub duplicates_in_input: u64,
    /// Rejected rows by reason.
    pub rejected: BTreeMap<Reason, u64>,
    /// Kept rows with a warning, by warning.
    pub warnings: BTreeMap<Warning, u64>,
    /// The first [`MAX_SAMPLES`] rejections with their row and detail.
    pub rejections: Vec<Rejection>,
    /// Columns that are neither mapped nor ignored (ignored, listed once).
    pub unknown_columns: Vec<String>,
    /// Notes about the input as a whole (e.g. a weather series that does not overlap it).
    pub notes: Vec<String>,
}

impl ParseReport {
    /// Counts a rejection (and keeps its detail while under [`MAX_SAMPLES`]).
    pub fn reject(&mut self, row: u64, reason: Reason, detail: impl FnOnce() -> String) {
        *self.rejected.entry(reason).or_default() += 1;
        if self.rejections.len() < MAX_SAMPLES {
            self.rejections.push(Rejection { row, reason, detail: detail() });
        }
    }

    /// Counts a warning.
    pub fn warn(&mut self, warning: Warning) {
        *self.warnings.entry(warning).or_default() += 1;
    }

    /// Total rejected rows.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Adds another report's counts to this one (row numbers of the other are kept as they are).
    pub fn merge(&mut self, other: ParseReport) {
        self.rows += other.rows;
        self.parsed += other.parsed;
        self.duplicates_in_input += other.duplicates_in_input;
        for (k, v) in other.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
        for (k, v) in other.warnings {
            *self.warnings.entry(k).or_default() += v;
        }
        let room = MAX_SAMPLES.saturating_sub(self.rejections.len());
        self.rejections.extend(other.rejections.into_iter().take(room));
        for c in other.unknown_columns {
            if !self.unknown_columns.contains(&c) {
                self.unknown_columns.push(c);
            }
        }
        self.notes.extend(other.notes);
    }
}
