//! The training-data CSV: `capture_id,captured_at,camera,wheel,<FEATURE_NAMES...>,label,severity`.
//!
//! `captured_at` is RFC 3339 in UTC with milliseconds (`2026-11-22T00:21:30.123Z`); `label` and `severity`
//! are empty when unknown; values are written with the shortest representation that reads back exactly.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::SecondsFormat;

use crate::{FeatureError, FeatureRow, FEATURE_COUNT, FEATURE_NAMES};

/// The CSV header, in column order.
pub fn csv_header() -> Vec<&'static str> {
    let mut h = vec!["capture_id", "captured_at", "camera", "wheel"];
    h.extend(FEATURE_NAMES);
    h.extend(["label", "severity"]);
    h
}

/// Streams feature rows as CSV to any writer; the header is written on creation.
#[derive(Debug)]
pub struct FeatureCsvWriter<W: Write> {
    inner: csv::Writer<W>,
    path: PathBuf,
    record: Vec<String>,
}

impl<W: Write> FeatureCsvWriter<W> {
    /// Wraps `writer` and writes the header; `path` only labels errors.
    pub fn new(writer: W, path: impl Into<PathBuf>) -> Result<FeatureCsvWriter<W>, FeatureError> {
        let path = path.into();
        let mut inner = csv::Writer::from_writer(writer);
        inner.write_record(csv_header()).map_err(|source| FeatureError::Csv { path: path.clone(), source })?;
        Ok(FeatureCsvWriter { inner, path, record: Vec::with_capacity(FEATURE_COUNT + 6) })
    }

    /// Writes one row; refuses a row without exactly one value per feature.
    pub fn write_row(&mut self, row: &FeatureRow) -> Result<(), FeatureError> {
        if row.values.len() != FEATURE_COUNT {
            return Err(FeatureError::RowLength {
                capture_id: row.capture_id.clone(),
                got: row.values.len(),
                expected: FEATURE_COUNT,
            });
        }
        self.record.clear();
        self.record.push(row.capture_id.clone());
        self.record.push(row.captured_at.to_rfc3339_opts(SecondsFormat::Millis, true));
        self.record.push(row.camera.clone());
        self.record.push(row.wheel.clone());
        self.record.extend(row.values.iter().map(f32::to_string));
        self.record.push(row.label.clone().unwrap_or_default());
        self.record.push(row.severity.map(|s| s.to_string()).unwrap_or_default());
        self.inner.write_record(&self.record).map_err(|source| FeatureError::Csv { path: self.path.clone(), source })
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, FeatureError> {
        let path = self.path;
        self.inner.into_inner().map_err(|e| FeatureError::Io { path, source: e.into_error() })
    }
}

/// Writes `rows` to `path` crash-safely: a temporary file beside it, fsync, then rename.
pub fn write_feature_csv(path: &Path, rows: &[FeatureRow]) -> Result<(), FeatureError> {
    let io = |source| FeatureError::Io { path: path.to_path_buf(), source };
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let file = File::create(&tmp).map_err(io)?;
    let mut w = FeatureCsvWriter::new(BufWriter::new(file), path)?;
    for row in rows {
        w.write_row(row)?;
    }
    let file = w.finish()?.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use prognos_formats::icon::HeightUnits;

    fn row(label: Option<&str>) -> FeatureRow {
        FeatureRow {
            capture_id: "Cam_01_20261122T002130123Z_W07".into(),
            captured_at: chrono::Utc.with_ymd_and_hms(2026, 11, 22, 0, 21, 30).unwrap()
                + chrono::Duration::milliseconds(123),
            camera: "Cam_01".into(),
            wheel: "W07".into(),
            values: (0..FEATURE_COUNT).map(|i| i as f32 * 0.5).collect(),
            units: HeightUnits::Millimetres,
            label: label.map(String::from),
            severity: label.map(|_| 0.25),
        }
    }

    #[test]
    fn header_and_rows() {
        let mut w = FeatureCsvWriter::new(Vec::new(), "-").unwrap();
        w.write_row(&row(Some("flat_spot"))).unwrap();
        w.write_row(&row(None)).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], csv_header().join(","));
        assert!(lines[0].starts_with("capture_id,captured_at,camera,wheel,tread_height,"));
        assert!(lines[0].ends_with(",intensity_gradient,label,severity"));
        assert!(lines[1].starts_with("Cam_01_20261122T002130123Z_W07,2026-11-22T00:21:30.123Z,Cam_01,W07,0,0.5,1,"));
        assert!(lines[1].ends_with(",flat_spot,0.25"));
        assert!(lines[2].ends_with(",11,,"));
        assert_eq!(lines[1].split(',').count(), FEATURE_COUNT + 6);
    }

    #[test]
    fn refuses_short_rows() {
        let mut w = FeatureCsvWriter::new(Vec::new(), "-").unwrap();
        let mut r = row(None);
        r.values.pop();
        assert!(matches!(w.write_row(&r), Err(FeatureError::RowLength { .. })));
    }

    #[test]
    fn writes_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.csv");
        write_feature_csv(&path, &[row(Some("healthy"))]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(!dir.path().join("train.csv.tmp").exists());
    }
}
