//! `prognos simulate wheels`.

use std::path::PathBuf;
use std::process::ExitCode;

use prognos_simulate::{run_wheels, WheelsOptions};

/// Runs the wheel-capture simulator and prints what it wrote.
pub fn wheels(
    out: Option<PathBuf>,
    training_csv: Option<PathBuf>,
    count: usize,
    seed: u64,
    threads: usize,
) -> anyhow::Result<ExitCode> {
    let opts = WheelsOptions { out, training_csv, count, seed, threads, ..WheelsOptions::default() };
    let summary = run_wheels(&opts)?;
    if let Some(labels) = &summary.labels_csv {
        eprintln!(
            "prognos: wrote {} capture pairs ({} MB of .dat), labels in {}",
            summary.written,
            summary.dat_bytes / 1_000_000,
            labels.display()
        );
    }
    if let Some(csv) = &summary.training_csv {
        eprintln!("prognos: wrote {} feature rows to {}", summary.training_rows, csv.display());
    }
    let mix: Vec<String> = summary.by_label.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!("prognos: {} captures (seed {seed}): {}", summary.captures, mix.join(", "));
    Ok(ExitCode::SUCCESS)
}
