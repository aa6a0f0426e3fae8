//! Writing simulated captures as camera folders plus `labels.csv`.
//!
//! Layout under the output folder:
//!
//! ```text
//! <out>/Cam_01/Cam_01_20261122T002130123Z_W07.xml   <camera>_<YYYYMMDD>T<HHMMSS><mmm>Z_<wheel>.xml
//! <out>/Cam_01/Cam_01_20261122T002130123Z_W07.dat   and its .dat (same stem = capture id)
//! <out>/Cam_02/...
//! <out>/labels.csv                                  capture_id,camera,wheel,captured_at,failure_mode,severity
//! ```
//!
//! The time is the capture time in UTC with milliseconds. Pairs are published atomically by the iCon
//! writer (`.xml` first, `.dat` last); `labels.csv` is written last, to a temporary name then renamed.
//! `failure_mode` is `healthy` or a mode name; `severity` is 0 for healthy captures.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use prognos_formats::icon::write_pair;

use crate::capture::simulate;
use crate::spec::WheelSpec;
use crate::SimError;

/// Header of `labels.csv`.
pub const LABELS_HEADER: [&str; 6] = ["capture_id", "camera", "wheel", "captured_at", "failure_mode", "severity"];

/// The `.xml`/`.dat` stem of `spec` under `out`: `<out>/<camera>/<capture_id>`.
pub fn capture_stem(out: &Path, spec: &WheelSpec) -> PathBuf {
    out.join(&spec.camera).join(spec.capture_id())
}

/// What [`write_captures`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Capture pairs written.
    pub captures: usize,
    /// Bytes of `.dat` written.
    pub dat_bytes: u64,
    /// The labels file.
    pub labels: PathBuf,
}

/// Simulates and writes every spec under `out` (creating camera folders), then `labels.csv`.
pub fn write_captures(out: &Path, specs: &[WheelSpec]) -> Result<Written, SimError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SimError::Io { path, source }
    };
    fs::create_dir_all(out).map_err(io(out))?;
    let mut dat_bytes = 0u64;
    for spec in specs {
        let data = simulate(spec)?;
        let stem = capture_stem(out, spec);
        if let Some(dir) = stem.parent() {
            fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let (_, dat) =
            write_pair(&stem, &data).map_err(|source| SimError::Icon { capture_id: spec.capture_id(), source })?;
        dat_bytes += fs::metadata(&dat).map_err(io(&dat))?.len();
    }
    let labels = out.join("labels.csv");
    write_labels(&labels, specs)?;
    Ok(Written { captures: specs.len(), dat_bytes, labels })
}

/// Writes `labels.csv` for `specs` (temporary file, fsync, rename).
pub fn write_labels(path: &Path, specs: &[WheelSpec]) -> Result<(), SimError> {
    let io = |source| SimError::Io { path: path.to_path_buf(), source };
    let csv_err = |source| SimError::Csv { path: path.to_path_buf(), source };
    let tmp = path.with_extension("csv.tmp");
    let mut w = csv::Writer::from_writer(BufWriter::new(File::create(&tmp).map_err(io)?));
    w.write_record(LABELS_HEADER).map_err(csv_err)?;
    for s in specs {
        w.write_record([
            s.capture_id(),
            s.camera.clone(),
            s.wheel_id.clone(),
            s.captured_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            s.label().to_string(),
            s.severity().to_string(),
        ])
        .map_err(csv_err)?;
    }
    let file = w.into_inner().map_err(|e| io(e.into_error()))?.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io)
}
