//! Streaming CSV reader: the header is checked once (missing required columns refuse the file, naming them;
//! unknown columns are reported or refuse it), then rows are read in chunks with one reused record.

use std::sync::Arc;

use prognos_core::pipeline::ColumnMap;
use prognos_core::Reading;

use super::report::{ParseReport, Reason};
use super::rows::{Cell, RowState};
use super::{FormatError, Mapping};

/// Rows of one CSV input, read chunk by chunk.
pub struct CsvReadings<R: std::io::Read> {
    reader: csv::Reader<R>,
    record: csv::StringRecord,
    ts_idx: usize,
    asset_idx: Option<usize>,
    /// (column index, mapping) for every mapped column present.
    cols: Vec<(usize, ColumnMap)>,
    state: RowState,
    done: bool,
}

impl<R: std::io::Read> CsvReadings<R> {
    pub(crate) fn new(mapping: Arc<Mapping>, reader: R) -> Result<Self, FormatError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(reader);
        let header = reader.headers().map_err(|e| FormatError::Csv(e.to_string()))?.clone();
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        let found = || names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
        let position = |name: &str| names.iter().position(|n| *n == name);
        let src = mapping.source();
        let ts_idx = position(&src.timestamp.column)
            .ok_or_else(|| FormatError::MissingColumn { column: src.timestamp.column.clone(), found: found() })?;
        let asset_idx = match &src.asset_column {
            Some(c) => {
                Some(position(c).ok_or_else(|| FormatError::MissingColumn { column: c.clone(), found: found() })?)
            }
            None => None,
        };
        let mut cols = Vec::with_capacity(src.columns.len());
        for c in &src.columns {
            match position(&c.source) {
                Some(i) => cols.push((i, c.clone())),
                None if c.required => {
                    return Err(FormatError::MissingColumn { column: c.source.clone(), found: found() })
                }
                None => {}
            }
        }
        let unknown = mapping.unknown(names.iter().copied())?;
        let mut state = RowState::new(Arc::clone(&mapping))?;
        state.report.unknown_columns = unknown;
        Ok(Self { reader, record: csv::StringRecord::new(), ts_idx, asset_idx, cols, state, done: false })
    }

    /// Up to `max` readings; an empty vector once the input is exhausted. Rejected rows are counted, not
    /// returned. An I/O error or broken CSV quoting ends the input with an error (rows already returned stand).
    pub fn next_chunk(&mut self, max: usize) -> Result<Vec<Reading>, FormatError> {
        let mut out = Vec::with_capacity(max.min(16_384));
        while !self.done && out.len() < max {
            match self.reader.read_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                        self.state.report.rows += 1;
                        self.state.report.reject(line, Reason::Malformed, || format!("not UTF-8: {e}"));
                        continue;
                    }
                    self.done = true;
                    return Err(FormatError::Csv(e.to_string()));
                }
            }
            let line = self.record.position().map(|p| p.line()).unwrap_or(0);
            let rec = &self.record;
            let cell = |i: usize| match rec.get(i) {
                Some(t) if !t.is_empty() => Cell::Text(t),
                _ => Cell::Empty,
            };
            let ts = cell(self.ts_idx);
            let asset = self.asset_idx.map(cell).unwrap_or(Cell::Empty);
            let cells = self.cols.iter().map(|(i, c)| (c, cell(*i)));
            if let Some(r) = self.state.row(line, ts, asset, cells) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The counts so far.
    pub fn report(&self) -> &ParseReport {
        &self.state.report
    }

    /// The final report.
    pub fn finish(self) -> ParseReport {
        self.state.finish()
    }
}
