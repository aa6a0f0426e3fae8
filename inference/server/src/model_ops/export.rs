//! `prognos export training-data`: inspection outcomes joined to the stored feature rows, written as a CSV in
//! the training-data format (`training-data/wheels/README.md`), ready for `notebooks-export/train_wheel_model.py`.
//!
//! Each inspection labels the newest feature row of its asset observed at or before the inspection, and no
//! older than `--max-age-hours` (the state the inspector saw). The label is the outcome (`healthy` or the failure
//! mode); the severity is the inspector's, or 0 for healthy and `--failure-severity` for a failure without one.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::SecondsFormat;
use prognos_core::Settings;
use prognos_store::{LabelledRow, Store};

use crate::ingest::files::write_atomically;

/// Options of one export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The folder to write into (created when missing).
    pub out: PathBuf,
    /// The file name inside it.
    pub file_name: String,
    /// The feature set whose rows are labelled.
    pub feature_set: String,
    /// The oldest feature row an inspection may label, in hours before it.
    pub max_age_hours: i64,
    /// The severity of a failure recorded without one.
    pub failure_severity: f64,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// The CSV written.
    pub path: PathBuf,
    /// Labelled rows in it.
    pub rows: usize,
    /// Inspections without a feature row in range (`asset@time`).
    pub unmatched: Vec<String>,
}

/// Writes `rows` as training-data CSV text.
pub fn to_csv(rows: &[LabelledRow], failure_severity: f64) -> anyhow::Result<Vec<u8>> {
    let names: Vec<&str> =
        rows.first().map(|r| r.features.iter().map(|(n, _)| n.as_str()).collect()).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["capture_id", "captured_at", "camera", "wheel"];
    header.extend(names.iter().copied());
    header.extend(["label", "severity"]);
    w.write_record(&header)?;
    for r in rows {
        let these: Vec<&str> = r.features.iter().map(|(n, _)| n.as_str()).collect();
        anyhow::ensure!(
            these == names,
            "feature rows of {} have different feature names than the first row; export one feature set version at a time",
            r.inspection.asset_id
        );
        let severity = match (r.inspection.severity, r.inspection.outcome.as_str()) {
            (Some(s), _) => s,
            (None, "healthy") => 0.0,
            (None, _) => failure_severity,
        };
        let mut record = vec![
            r.source.clone().unwrap_or_else(|| format!("{}@{}", r.inspection.asset_id, r.observed_at.timestamp())),
            r.observed_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            r.camera.clone().unwrap_or_default(),
            r.inspection.asset_id.clone(),
        ];
        record.extend(r.features.iter().map(|(_, v)| format!("{}", *v as f32)));
        record.push(r.inspection.outcome.clone());
        record.push(format!("{severity}"));
        w.write_record(&record)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("csv: {}", e.error()))
}

/// Joins, writes the CSV crash-safely (temporary file, fsync, rename) and reports.
pub async fn export(store: &Store, opts: &ExportOptions) -> anyhow::Result<ExportSummary> {
    anyhow::ensure!((0.0..=1.0).contains(&opts.failure_severity), "--failure-severity must be within 0..1");
    anyhow::ensure!(opts.max_age_hours > 0, "--max-age-hours must be positive");
    let (rows, unmatched) =
        store.labelled_feature_rows(&opts.feature_set, chrono::Duration::hours(opts.max_age_hours)).await?;
    let bytes = to_csv(&rows, opts.failure_severity)?;
    std::fs::create_dir_all(&opts.out)?;
    let path = opts.out.join(&opts.file_name);
    write_atomically(&path, &bytes)?;
    let unmatched = unmatched
        .iter()
        .map(|i| format!("{}@{}", i.asset_id, i.inspected_at.to_rfc3339_opts(SecondsFormat::Secs, true)))
        .collect();
    Ok(ExportSummary { path, rows: rows.len(), unmatched })
}

/// `prognos export training-data`.
pub fn run(settings: &Settings, opts: &ExportOptions) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::connect(&settings.store_url()).await?;
        let summary = export(&store, opts).await;
        store.close().await;
        let summary = summary?;
        for u in &summary.unmatched {
            eprintln!(
                "no {} feature row within {} h before the inspection of {u}",
                opts.feature_set, opts.max_age_hours
            );
        }
        println!("wrote {} labelled rows to {}", summary.rows, summary.path.display());
        Ok(if summary.rows == 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
    })
}
