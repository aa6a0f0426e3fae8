//! Training windows of one site: plan faults, inject them into the real readings, compute `inverter-v1`
//! windows (whole windows and, optionally, windows cut short as the live path sees them), label them, and
//! leave out windows whose *real* data already looks faulty.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use chrono::Duration;
use prognos_core::Reading;
use prognos_features::inverter::{
    estimate_ac_limit, window_features, FeatureError, InverterCsvWriter, InverterWindowRow, LabelledWindow, WindowSpec,
    FEATURE_NAMES,
};

use super::fault::Fault;
use super::inject::{inject, label_windows, Effect};
use super::plan::{plan_faults, FaultPlanOptions};

/// Why inverter training data could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InverterSimError {
    /// An option is out of range.
    #[error("invalid inverter simulation input: {0}")]
    Invalid(String),
    /// Window features failed.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// Writing the CSV failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// What [`training_windows`] does.
#[derive(Debug, Clone)]
pub struct InvertersOptions {
    /// The site's name (the CSV's `site` column and window ids).
    pub site: String,
    /// Seed of the fault plan.
    pub seed: u64,
    /// Windows and feature thresholds.
    pub spec: WindowSpec,
    /// Fault frequency and kinds.
    pub plan: FaultPlanOptions,
    /// Also emit each window cut short after these many hours (the live path scores partial windows).
    pub partial_hours: Vec<u32>,
}

impl InvertersOptions {
    /// Defaults for a site: 1-day windows, partial windows cut 10 h and 14 h after the window start.
    pub fn new(site: impl Into<String>, seed: u64) -> Self {
        InvertersOptions {
            site: site.into(),
            seed,
            spec: WindowSpec::default(),
            plan: FaultPlanOptions::default(),
            partial_hours: vec![10, 14],
        }
    }
}

/// What was produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvertersSummary {
    /// Windows written.
    pub windows: usize,
    /// Windows by label.
    pub by_label: BTreeMap<String, usize>,
    /// Windows left out because the real, un-injected data already looked faulty there.
    pub suspect_windows: usize,
    /// Fault episodes injected.
    pub faults: usize,
    /// The AC limit used (W).
    pub ac_limit_w: f64,
}

/// Whether a clean window already looks like a fault (a real outage, underperformance or frozen logger): it
/// cannot be labelled healthy, and nothing is known about what it is.
fn suspect(row: &InverterWindowRow) -> bool {
    let v = &row.values;
    let get = |name: &str| FEATURE_NAMES.iter().position(|n| *n == name).map_or(f64::NAN, |i| v[i]);
    get("peer_deviation") < -0.1
        || get("zero_output_share") > 0.05
        || get("stale_run_hours") >= 1.0
        || get("efficiency_vs_peers") < -0.03
}

/// Labelled training windows of one site's real readings (all inverters, weather joined), with the plan used.
pub fn training_windows(
    readings: &[Reading],
    opts: &InvertersOptions,
) -> Result<(Vec<LabelledWindow>, Vec<Fault>, InvertersSummary), InverterSimError> {
    opts.spec.validate()?;
    let window = opts.spec.window;
    if opts.partial_hours.iter().any(|&h| h == 0 || Duration::hours(h as i64) >= window) {
        return Err(InverterSimError::Invalid(format!(
            "partial hours {:?} must be within the window ({} h)",
            opts.partial_hours,
            window.num_hours()
        )));
    }
    let ac_limit = opts
        .spec
        .ac_limit_w
        .or_else(|| estimate_ac_limit(readings))
        .ok_or_else(|| InverterSimError::Invalid("no positive AC power in the readings".into()))?;
    let spec = WindowSpec { ac_limit_w: Some(ac_limit), ..opts.spec.clone() };

    let clean = window_features(readings, &spec)?;
    let suspects: HashSet<(String, i64)> =
        clean.iter().filter(|r| suspect(r)).map(|r| (r.asset.clone(), r.window_start.timestamp_millis())).collect();

    let plan = FaultPlanOptions { day_offset: spec.align_offset, ..opts.plan.clone() };
    let faults = plan_faults(readings, opts.seed, &plan);
    let mut injected = readings.to_vec();
    let effects = inject(&mut injected, &faults, ac_limit);

    let mut out = Vec::new();
    let mut summary = InvertersSummary { faults: faults.len(), ac_limit_w: ac_limit, ..Default::default() };
    let mut emit = |rows: Vec<InverterWindowRow>,
                    rs: &[Reading],
                    es: &[Effect],
                    partial_hours: Option<u32>,
                    summary: &mut InvertersSummary| {
        let labels = label_windows(&rows, rs, es, &spec);
        for (row, (label, severity)) in rows.into_iter().zip(labels) {
            if suspects.contains(&(row.asset.clone(), row.window_start.timestamp_millis())) {
                summary.suspect_windows += 1;
                continue;
            }
            *summary.by_label.entry(label.clone()).or_default() += 1;
            out.push(LabelledWindow {
                site: opts.site.clone(),
                row,
                label: Some(label),
                severity: Some(severity),
                partial_hours,
            });
        }
    };
    emit(window_features(&injected, &spec)?, &injected, &effects, None, &mut summary);
    let window_ms = window.num_milliseconds();
    let off = spec.align_offset.num_milliseconds().rem_euclid(window_ms);
    for &h in &opts.partial_hours {
        let cut = h as i64 * 3_600_000;
        let keep: Vec<usize> = (0..injected.len())
            .filter(|&i| (injected[i].ts.timestamp_millis() - off).rem_euclid(window_ms) < cut)
            .collect();
        let rs: Vec<Reading> = keep.iter().map(|&i| injected[i].clone()).collect();
        let es: Vec<Effect> = keep.iter().map(|&i| effects[i]).collect();
        emit(window_features(&rs, &spec)?, &rs, &es, Some(h), &mut summary);
    }
    summary.windows = out.len();
    Ok((out, faults, summary))
}

/// Writes labelled windows to `path` crash-safely (a temporary file beside it, fsync, rename).
pub fn write_training_csv(path: &Path, windows: &[LabelledWindow]) -> Result<(), InverterSimError> {
    let io = |source| InverterSimError::Io { path: path.to_path_buf(), source };
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let file = File::create(&tmp).map_err(io)?;
    let mut w = InverterCsvWriter::new(BufWriter::new(file), path)?;
    for row in windows {
        w.write(row)?;
    }
    let file = w.finish()?.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)
}

/// The whole windows of one site's readings as recorded (nothing injected, no label): what the model is run
/// on to list the real inverters it flags.
pub fn real_windows(readings: &[Reading], opts: &InvertersOptions) -> Result<Vec<LabelledWindow>, InverterSimError> {
    Ok(window_features(readings, &opts.spec)?
        .into_iter()
        .map(|row| LabelledWindow { site: opts.site.clone(), row, label: None, severity: None, partial_hours: None })
        .collect())
}
