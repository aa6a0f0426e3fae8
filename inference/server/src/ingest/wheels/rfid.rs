//! The RFID log: `timestamp,wheel_id` rows. A capture maps to the nearest read within a tolerance; the run
//! count is how many times that wheel had passed the reader up to that read.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

/// The log, re-read when the file changes.
#[derive(Debug)]
pub struct RfidLog {
    path: PathBuf,
    tolerance_ms: i64,
    modified: Option<SystemTime>,
    /// Reads sorted by time.
    reads: Vec<(DateTime<Utc>, String)>,
    /// Rows that could not be parsed in the last load.
    pub rejected: usize,
}

/// The wheel a capture belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelMatch {
    /// Wheel id.
    pub wheel: String,
    /// Passes of this wheel up to and including the matched read.
    pub run_count: Option<i64>,
    /// Whether the RFID log (not the file name) gave it.
    pub from_rfid: bool,
}

impl RfidLog {
    /// A log at `path` (it may not exist yet).
    pub fn new(path: &Path, tolerance_ms: i64) -> Self {
        Self { path: path.to_path_buf(), tolerance_ms, modified: None, reads: Vec::new(), rejected: 0 }
    }

    fn refresh(&mut self) {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if modified.is_none() || modified == self.modified {
            return;
        }
        self.modified = modified;
        let Ok(mut reader) = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(&self.path) else {
            return;
        };
        let mut reads = Vec::new();
        let mut rejected = 0;
        for record in reader.records() {
            let Ok(record) = record else {
                rejected += 1;
                continue;
            };
            let (Some(ts), Some(wheel)) = (record.get(0), record.get(1)) else {
                rejected += 1;
                continue;
            };
            match DateTime::parse_from_rfc3339(ts.trim()) {
                Ok(t) if !wheel.trim().is_empty() => reads.push((t.with_timezone(&Utc), wheel.trim().to_string())),
                _ if ts.trim().eq_ignore_ascii_case("timestamp") => {}
                _ => rejected += 1,
            }
        }
        reads.sort();
        if rejected > 0 {
            tracing::warn!(path = %self.path.display(), rejected, "RFID log rows that are not `timestamp,wheel_id` were skipped");
        }
        self.reads = reads;
        self.rejected = rejected;
    }

    /// The wheel for a capture taken at `at`; `fallback` (the file name's wheel id) when no read is close.
    pub fn lookup(&mut self, at: DateTime<Utc>, fallback: &str) -> WheelMatch {
        self.refresh();
        let i = self.reads.partition_point(|(t, _)| *t < at);
        let candidates = [i.checked_sub(1), Some(i)];
        let best = candidates
            .into_iter()
            .flatten()
            .filter_map(|j| self.reads.get(j).map(|r| (j, (r.0 - at).num_milliseconds().abs())))
            .filter(|(_, d)| *d <= self.tolerance_ms)
            .min_by_key(|(_, d)| *d);
        match best {
            Some((j, _)) => {
                let wheel = self.reads[j].1.clone();
                let run_count = self.reads[..=j].iter().filter(|(_, w)| *w == wheel).count() as i64;
                WheelMatch { wheel, run_count: Some(run_count), from_rfid: true }
            }
            None => WheelMatch { wheel: fallback.to_string(), run_count: None, from_rfid: false },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_read_within_tolerance_with_run_count_else_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rfid.csv");
        std::fs::write(
            &path,
            "timestamp,wheel_id\n2026-11-22T10:00:00Z,W01\n2026-11-22T10:00:05Z,W02\ngarbage\n2026-11-22T10:05:00Z,W01\n",
        )
        .unwrap();
        let mut log = RfidLog::new(&path, 2000);
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            log.lookup(at("2026-11-22T10:00:04.5Z"), "X"),
            WheelMatch { wheel: "W02".into(), run_count: Some(1), from_rfid: true }
        );
        assert_eq!(
            log.lookup(at("2026-11-22T10:05:01Z"), "X"),
            WheelMatch { wheel: "W01".into(), run_count: Some(2), from_rfid: true }
        );
        assert_eq!(log.lookup(at("2026-11-22T10:02:00Z"), "W09").wheel, "W09");
        assert_eq!(log.rejected, 1);
        assert!(!RfidLog::new(&dir.path().join("none.csv"), 10).lookup(at("2026-11-22T10:00:00Z"), "W3").from_rfid);
    }
}
