//! The inverter training-data CSV:
//! `window_id,window_start,window_end,site,asset,readings,<inverter-v1 features...>,label,severity`.
//!
//! Times are RFC 3339 UTC (`2020-05-15T00:00:00Z`); `window_id` is `<site>/<asset>/<window_start>`, with
//! `+<h>h` appended for a window cut short after `h` hours (training rows for partial windows); an
//! undefined (NaN) value is an empty cell; `label` and `severity` are empty when unknown.

use std::io::Write;
use std::path::PathBuf;

use chrono::SecondsFormat;

use super::{FeatureError, InverterWindowRow, FEATURE_COUNT, FEATURE_NAMES};

/// A window row with its site and, for training data, its label.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledWindow {
    /// The site (pipeline) name.
    pub site: String,
    /// The features.
    pub row: InverterWindowRow,
    /// `healthy` or a fault name, when known.
    pub label: Option<String>,
    /// Severity in [0, 1] (0 for healthy), when known.
    pub severity: Option<f64>,
    /// For a window cut short (as the live path sees it): hours after the window start it was cut at.
    pub partial_hours: Option<u32>,
}

impl LabelledWindow {
    /// `<site>/<asset>/<window_start>`, with `+<h>h` for a window cut short after `h` hours.
    pub fn window_id(&self) -> String {
        let start = self.row.window_start.to_rfc3339_opts(SecondsFormat::Secs, true);
        let cut = self.partial_hours.map(|h| format!("+{h}h")).unwrap_or_default();
        format!("{}/{}/{start}{cut}", self.site, self.row.asset)
    }
}

/// The CSV header, in column order.
pub fn inverter_csv_header() -> Vec<&'static str> {
    let mut h = vec!["window_id", "window_start", "window_end", "site", "asset", "readings"];
    h.extend(FEATURE_NAMES);
    h.extend(["label", "severity"]);
    h
}

/// Streams labelled window rows as CSV; the header is written on creation.
#[derive(Debug)]
pub struct InverterCsvWriter<W: Write> {
    inner: csv::Writer<W>,
    path: PathBuf,
    record: Vec<String>,
}

impl<W: Write> InverterCsvWriter<W> {
    /// Wraps `writer` and writes the header; `path` only labels errors.
    pub fn new(writer: W, path: impl Into<PathBuf>) -> Result<Self, FeatureError> {
        let path = path.into();
        let mut inner = csv::Writer::from_writer(writer);
        inner.write_record(inverter_csv_header()).map_err(|source| FeatureError::Csv { path: path.clone(), source })?;
        Ok(InverterCsvWriter { inner, path, record: Vec::with_capacity(FEATURE_COUNT + 8) })
    }

    /// Like [`Self::new`] without the header: a continuation of a stream whose header went out earlier (an
    /// export written chunk by chunk).
    pub fn without_header(writer: W, path: impl Into<PathBuf>) -> Self {
        let inner = csv::WriterBuilder::new().has_headers(false).from_writer(writer);
        InverterCsvWriter { inner, path: path.into(), record: Vec::with_capacity(FEATURE_COUNT + 8) }
    }

    /// Writes one row; refuses a row without exactly one value per feature.
    pub fn write(&mut self, w: &LabelledWindow) -> Result<(), FeatureError> {
        let row = &w.row;
        let start = row.window_start.to_rfc3339_opts(SecondsFormat::Secs, true);
        if row.values.len() != FEATURE_COUNT {
            return Err(FeatureError::RowLength {
                asset: row.asset.clone(),
                window_start: start,
                got: row.values.len(),
                expected: FEATURE_COUNT,
            });
        }
        self.record.clear();
        self.record.push(w.window_id());
        self.record.push(start);
        self.record.push(row.window_end.to_rfc3339_opts(SecondsFormat::Secs, true));
        self.record.push(w.site.clone());
        self.record.push(row.asset.clone());
        self.record.push(row.readings.to_string());
        self.record.extend(row.values.iter().map(|v| if v.is_finite() { v.to_string() } else { String::new() }));
        self.record.push(w.label.clone().unwrap_or_default());
        self.record.push(w.severity.map(|s| s.to_string()).unwrap_or_default());
        self.inner.write_record(&self.record).map_err(|source| FeatureError::Csv { path: self.path.clone(), source })
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, FeatureError> {
        let path = self.path;
        self.inner.into_inner().map_err(|e| FeatureError::Io { path, source: e.into_error() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn header_nan_cells_and_labels() {
        let start = Utc.with_ymd_and_hms(2020, 5, 15, 0, 0, 0).unwrap();
        let mut values = vec![0.5; FEATURE_COUNT];
        values[7] = f64::NAN;
        let row = InverterWindowRow {
            asset: "inv1".into(),
            window_start: start,
            window_end: start + Duration::days(1),
            readings: 96,
            values,
        };
        let mut w = InverterCsvWriter::new(Vec::new(), "-").unwrap();
        w.write(&LabelledWindow {
            site: "p1".into(),
            row: row.clone(),
            label: Some("trip".into()),
            severity: Some(0.25),
            partial_hours: None,
        })
        .unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], inverter_csv_header().join(","));
        assert!(lines[1]
            .starts_with("p1/inv1/2020-05-15T00:00:00Z,2020-05-15T00:00:00Z,2020-05-16T00:00:00Z,p1,inv1,96,0.5,"));
        assert!(lines[1].contains(",0.5,,0.5,"), "NaN must be an empty cell: {}", lines[1]);
        assert!(lines[1].ends_with(",trip,0.25"));
        let mut short = row;
        short.values.pop();
        let mut w = InverterCsvWriter::new(Vec::new(), "-").unwrap();
        let bad = LabelledWindow { site: "p1".into(), row: short, label: None, severity: None, partial_hours: Some(9) };
        assert!(matches!(w.write(&bad), Err(FeatureError::RowLength { .. })));
    }
}
