//! Pipeline declarations (`pipelines/*.toml`): what a pipeline reads, how it turns inputs into feature rows,
//! which model scores them. Adding a camera or a site is a new file here, not new code.
//!
//! A file with a mistake is refused at start-up with its path, line and reason.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod inverter;

pub use inverter::{
    parse_duration_s, ColumnMap, DropFolder, InverterSource, MqttSource, RangeRule, SpecMistake, TimestampSpec,
    UnknownColumns, WeatherSource, WindowSettings, Zone,
};

/// A pipeline file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Reading the file or folder failed.
    #[error("pipeline {path}: {reason}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The TOML is malformed or has a wrong key or value (the message names the line).
    #[error("pipeline {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// TOML's message, with line and column.
        reason: String,
    },
}

/// One pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// What the pipeline is.
    pub pipeline: PipelineInfo,
    /// Wheel-camera folders (for `kind = "wheel-cameras"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cameras: Option<CameraSource>,
    /// The RFID log that maps capture times to wheel ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfid: Option<RfidLog>,
    /// Inverter column mapping and sources (for `kind = "inverter-metrics"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverter: Option<InverterSource>,
    /// The model that scores the feature rows.
    pub model: ModelRef,
}

/// The kinds of pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipelineKind {
    /// SICK iCon captures of ride wheels, one folder per camera.
    WheelCameras,
    /// Solar inverter readings from CSV files, HTTP batches and MQTT, mapped onto canonical metrics.
    InverterMetrics,
}

/// Name, kind and site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineInfo {
    /// Unique name (used in metrics, logs and stored rows).
    pub name: String,
    /// What it ingests.
    pub kind: PipelineKind,
    /// The site its assets belong to.
    pub site: String,
    /// The feature set it produces (must match what the model card needs).
    pub feature_set: String,
}

/// What to do with a pair once it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterProcessing {
    /// Move it into `archive_dir/<camera>/`.
    Archive,
    /// Delete it.
    Delete,
}

/// Camera folders: `root/<camera>/` for each camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSource {
    /// Folder holding one sub-folder per camera. Relative paths are relative to the working directory.
    pub root: PathBuf,
    /// Camera folder names, e.g. `["Cam_01", "Cam_02"]`.
    pub cameras: Vec<String>,
    /// Full rescan interval in milliseconds (file events make most pickups immediate). Default 250.
    #[serde(default = "default_rescan_ms")]
    pub rescan_ms: u64,
    /// A file written in place (not renamed into place) counts as complete once its size and modification
    /// time have not changed for this long. Default 500 ms.
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
    /// A `.dat` without its `.xml` (or the reverse) is quarantined after this long. Default 30 s.
    #[serde(default = "default_orphan_s")]
    pub orphan_timeout_s: u64,
    /// Archive or delete processed pairs. Default archive.
    #[serde(default = "default_after")]
    pub after: AfterProcessing,
    /// Where processed pairs go. Default `<data_dir>/archive/<pipeline>`.
    #[serde(default)]
    pub archive_dir: Option<PathBuf>,
    /// Where malformed pairs go, with a `.reason` file each. Default `<data_dir>/quarantine/<pipeline>`.
    #[serde(default)]
    pub quarantine_dir: Option<PathBuf>,
    /// A camera with no new file for this long raises a no-data condition (seconds; 0 = never). Default 0.
    #[serde(default)]
    pub expected_interval_s: u64,
}

fn default_rescan_ms() -> u64 {
    250
}
fn default_settle_ms() -> u64 {
    500
}
fn default_orphan_s() -> u64 {
    30
}
fn default_after() -> AfterProcessing {
    AfterProcessing::Archive
}

/// The RFID log: a CSV of `timestamp,wheel_id` rows written by the reader at the station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfidLog {
    /// The CSV file (re-read when it changes).
    pub path: PathBuf,
    /// A capture maps to the nearest read within this many milliseconds; otherwise the wheel id in the file
    /// name is used. Default 2000.
    #[serde(default = "default_tolerance_ms")]
    pub tolerance_ms: i64,
}

fn default_tolerance_ms() -> i64 {
    2000
}

/// The model that scores this pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// Model name in the registry (its active version scores).
    pub name: String,
}

impl PipelineFile {
    /// Reads and checks one pipeline file.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Io { path: path.to_path_buf(), reason: e.to_string() })?;
        let file: PipelineFile = toml::from_str(&text)
            .map_err(|e| PipelineError::Invalid { path: path.to_path_buf(), reason: e.to_string() })?;
        let invalid = |reason: String| PipelineError::Invalid { path: path.to_path_buf(), reason };
        match file.pipeline.kind {
            PipelineKind::WheelCameras => {
                let Some(cams) = &file.cameras else {
                    return Err(invalid("a wheel-cameras pipeline needs a [cameras] table".into()));
                };
                if cams.cameras.is_empty() {
                    return Err(invalid("[cameras] cameras is empty".into()));
                }
            }
            PipelineKind::InverterMetrics => {
                let Some(inv) = &file.inverter else {
                    return Err(invalid("an inverter-metrics pipeline needs an [inverter] table".into()));
                };
                if let Err(mistake) = inv.validate() {
                    let line = text
                        .lines()
                        .position(|l| l.contains(&mistake.needle))
                        .map(|n| format!("line {}: ", n + 1))
                        .unwrap_or_default();
                    return Err(invalid(format!("{line}{}", mistake.reason)));
                }
            }
        }
        Ok(file)
    }

    /// Every `*.toml` in `dir`, sorted by file name; the first bad file fails the whole load. A folder that
    /// does not exist holds no pipelines.
    pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Self)>, PipelineError> {
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let entries =
            std::fs::read_dir(dir).map_err(|e| PipelineError::Io { path: dir.to_path_buf(), reason: e.to_string() })?;
        let mut paths: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
        paths.sort();
        paths.into_iter().map(|p| Self::load(&p).map(|f| (p, f))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistake_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "[pipeline]\nname = \"w\"\nkind = \"wheel-cameras\"\nsite = \"s\"\nfeature_set = \"wheel-v1\"\n\
             [cameras]\nroot = \"x\"\ncameras = [\"Cam_01\"]\nsettle = 5\n[model]\nname = \"m\"\n",
        )
        .unwrap();
        let err = PipelineFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("line 9") && err.contains("settle"), "{err}");
    }

    #[test]
    fn an_inverter_mistake_is_refused_with_its_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        let base =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/kaggle-plant-1.toml"))
                .unwrap();
        let cases = [
            ("scoring = \"1d\"", "scoring = \"2d\"", "scoring \"2d\" is not one of sizes"),
            ("timezone = \"+05:30\"", "timezone = \"Mars/Olympus\"", "timezone: \"Mars/Olympus\""),
            ("metric = \"ambient_temp_c\"", "metric = \"ac_power_w\"", "is not a weather metric"),
            ("source = \"AC_POWER\"", "source = \"DC_POWER\"", "mapped twice"),
            ("scale = 100.0", "scal = 100.0", "unknown field `scal`"),
            ("metric = \"ac_power_w\"", "metric = \"ac_power_kw\"", "unknown variant `ac_power_kw`"),
        ];
        for (from, to, expect) in cases {
            let text = base.replacen(from, to, 1);
            let line = text.lines().position(|l| l.contains(to)).unwrap() + 1;
            std::fs::write(&path, &text).unwrap();
            let err = PipelineFile::load(&path).unwrap_err().to_string();
            assert!(err.contains(expect), "{to}: {err}");
            assert!(err.contains(&format!("line {line}")), "{to}: want line {line}: {err}");
        }
    }

    #[test]
    fn the_shipped_pipelines_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
        let files = PipelineFile::load_dir(&dir).unwrap();
        assert!(files.iter().any(|(_, f)| f.pipeline.kind == PipelineKind::WheelCameras));
    }
}
