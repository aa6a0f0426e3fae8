//! [`run_wheels`]: what `prognos simulate wheels` does, behind plain options.

use std::collections::BTreeMap;
use std::path::PathBuf;

use prognos_features::write_feature_csv;

use crate::output::write_captures;
use crate::plan::{plan, PlanOptions};
use crate::training::rows_for;
use crate::SimError;

/// Options of `prognos simulate wheels` (see the crate documentation for the flags).
#[derive(Debug, Clone, PartialEq)]
pub struct WheelsOptions {
    /// `--out DIR`: write capture pairs under `DIR/<camera>/` and `DIR/labels.csv`.
    pub out: Option<PathBuf>,
    /// `--training-csv FILE`: write labelled `wheel-v1` feature rows of the same captures.
    pub training_csv: Option<PathBuf>,
    /// `--count N`: number of captures.
    pub count: usize,
    /// `--seed S`: seed of the whole plan.
    pub seed: u64,
    /// `--threads T`: threads for featurizing training rows (results do not depend on it).
    pub threads: usize,
    /// The mix of captures.
    pub plan: PlanOptions,
}

impl Default for WheelsOptions {
    fn default() -> WheelsOptions {
        WheelsOptions { out: None, training_csv: None, count: 100, seed: 1, threads: 1, plan: PlanOptions::default() }
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Captures planned.
    pub captures: usize,
    /// Capture pairs written to `out` (0 without `out`).
    pub written: usize,
    /// Bytes of `.dat` written.
    pub dat_bytes: u64,
    /// `labels.csv`, when captures were written.
    pub labels_csv: Option<PathBuf>,
    /// Training rows written.
    pub training_rows: usize,
    /// The training CSV, when asked for.
    pub training_csv: Option<PathBuf>,
    /// Captures per label (`healthy` or a failure-mode name).
    pub by_label: BTreeMap<String, usize>,
}

/// Plans `count` captures from `seed`, writes them under `out` and/or their labelled feature rows to
/// `training_csv` (both describe the same captures).
pub fn run_wheels(opts: &WheelsOptions) -> Result<Summary, SimError> {
    if opts.out.is_none() && opts.training_csv.is_none() {
        return Err(SimError::NothingToDo);
    }
    let specs = plan(opts.seed, opts.count, &opts.plan)?;
    let mut summary = Summary {
        captures: specs.len(),
        written: 0,
        dat_bytes: 0,
        labels_csv: None,
        training_rows: 0,
        training_csv: None,
        by_label: BTreeMap::new(),
    };
    for s in &specs {
        *summary.by_label.entry(s.label().to_string()).or_default() += 1;
    }
    if let Some(out) = &opts.out {
        let w = write_captures(out, &specs)?;
        summary.written = w.captures;
        summary.dat_bytes = w.dat_bytes;
        summary.labels_csv = Some(w.labels);
    }
    if let Some(path) = &opts.training_csv {
        let rows = rows_for(&specs, opts.threads)?;
        write_feature_csv(path, &rows)
            .map_err(|source| SimError::Features { capture_id: path.display().to_string(), source })?;
        summary.training_rows = rows.len();
        summary.training_csv = Some(path.clone());
    }
    Ok(summary)
}
