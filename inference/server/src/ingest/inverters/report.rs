//! The answer to one ingested input (CLI output, HTTP response body), and its counters in `/metrics`.

use std::collections::BTreeMap;

use prognos_formats::inverter::{ParseReport, Reason, Rejection, Warning};
use serde::Serialize;

/// What happened to one input: counts that add up (`rows = accepted + duplicate + rejected`), the reasons,
/// and what the windows and the model made of it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// The pipeline.
    pub pipeline: String,
    /// Data rows read.
    pub rows: u64,
    /// Readings stored now.
    pub accepted: u64,
    /// Readings already stored, or repeated within the input (stored once).
    pub duplicate: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Rejected rows by reason.
    pub rejected_by_reason: BTreeMap<Reason, u64>,
    /// Stored rows with a warning, by warning.
    pub warnings: BTreeMap<Warning, u64>,
    /// The first rejections with their row (CSV line, or position in a JSON batch) and detail.
    pub rejections: Vec<Rejection>,
    /// Columns neither mapped nor ignored (ignored).
    pub unknown_columns: Vec<String>,
    /// Notes about the input as a whole.
    pub notes: Vec<String>,
    /// Window feature rows computed and stored.
    pub windows: u64,
    /// Windows scored.
    pub scored: u64,
    /// The model that scored them (`name@version`), if scoring is on.
    pub scoring: Option<String>,
}

impl IngestReport {
    /// An empty report for `pipeline`.
    pub fn new(pipeline: &str) -> Self {
        Self { pipeline: pipeline.to_string(), ..Default::default() }
    }

    /// Takes the reader's counts.
    pub fn absorb(&mut self, parse: ParseReport) {
        self.rows += parse.rows;
        self.duplicate += parse.duplicates_in_input;
        self.rejected += parse.rejected_total();
        for (k, v) in parse.rejected {
            *self.rejected_by_reason.entry(k).or_default() += v;
        }
        for (k, v) in parse.warnings {
            *self.warnings.entry(k).or_default() += v;
        }
        self.rejections.extend(parse.rejections);
        self.unknown_columns.extend(parse.unknown_columns);
        self.notes.extend(parse.notes);
    }

    /// Adds the counts to `/metrics`.
    pub fn record_metrics(&self) {
        let p = self.pipeline.clone();
        metrics::counter!("prognos_ingest_readings_total", "pipeline" => p.clone(), "outcome" => "accepted")
            .increment(self.accepted);
        metrics::counter!("prognos_ingest_readings_total", "pipeline" => p.clone(), "outcome" => "duplicate")
            .increment(self.duplicate);
        for (reason, n) in &self.rejected_by_reason {
            metrics::counter!("prognos_ingest_rejected_total", "pipeline" => p.clone(), "reason" => reason.as_str())
                .increment(*n);
        }
        for (warning, n) in &self.warnings {
            metrics::counter!("prognos_ingest_warnings_total", "pipeline" => p.clone(), "warning" => warning.as_str())
                .increment(*n);
        }
        metrics::counter!("prognos_ingest_windows_scored_total", "pipeline" => p).increment(self.scored);
    }

    /// One line per count, for the CLI.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{}: {} rows: {} accepted, {} duplicate, {} rejected; {} windows, {} scored ({})",
            self.pipeline,
            self.rows,
            self.accepted,
            self.duplicate,
            self.rejected,
            self.windows,
            self.scored,
            self.scoring.as_deref().unwrap_or("scoring off")
        );
        for (reason, n) in &self.rejected_by_reason {
            out.push_str(&format!("\n  rejected {n:>7} {}", reason.as_str()));
        }
        for (warning, n) in &self.warnings {
            out.push_str(&format!("\n  warning  {n:>7} {}", warning.as_str()));
        }
        for r in self.rejections.iter().take(10) {
            out.push_str(&format!("\n  row {}: {}: {}", r.row, r.reason.as_str(), r.detail));
        }
        if !self.unknown_columns.is_empty() {
            out.push_str(&format!("\n  unknown columns (ignored): {}", self.unknown_columns.join(", ")));
        }
        for n in &self.notes {
            out.push_str(&format!("\n  note: {n}"));
        }
        out
    }
}

/// Counts an input refused as a whole (missing column, broken syntax).
pub fn count_refused(pipeline: &str) {
    metrics::counter!("prognos_ingest_refused_total", "pipeline" => pipeline.to_string()).increment(1);
}
