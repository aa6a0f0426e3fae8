//! The model registry on disk (`models/<name>/<version>/`) and the set of models being served.

use std::path::{Path, PathBuf};

use crate::card::ModelCard;
use crate::error::{Result, ScoringError};
use crate::model::{Model, SessionOptions, CARD_FILE, MODEL_FILE};
use crate::worker::{ModelHandle, WorkerOptions};

/// One `models/<name>/<version>/` folder as found on disk.
#[derive(Debug, Clone)]
pub struct RegistryEntry {
    /// Folder name of the model.
    pub name: String,
    /// Folder name of the version.
    pub version: String,
    /// The version folder.
    pub dir: PathBuf,
    /// The card, or why it could not be read.
    pub card: std::result::Result<ModelCard, String>,
}

/// Lists every model version under `root`, sorted by name, then by version (semver order).
pub fn scan(root: &Path) -> Result<Vec<RegistryEntry>> {
    let read = |p: &Path| {
        std::fs::read_dir(p).map_err(|e| ScoringError::Registry { path: p.to_path_buf(), reason: e.to_string() })
    };
    let mut out = Vec::new();
    for name_dir in read(root)?.flatten() {
        if !name_dir.path().is_dir() {
            continue;
        }
        let name = name_dir.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        for version_dir in read(&name_dir.path())?.flatten() {
            let dir = version_dir.path();
            // Dot-folders are staging areas of a model being written (renamed into place when complete).
            if version_dir.file_name().to_string_lossy().starts_with('.')
                || !dir.is_dir()
                || !(dir.join(MODEL_FILE).exists() || dir.join(CARD_FILE).exists())
            {
                continue;
            }
            let card = if dir.join(CARD_FILE).is_file() {
                ModelCard::load(&dir.join(CARD_FILE)).map_err(|e| e.to_string())
            } else {
                Err(format!("{} has no {CARD_FILE}; a model without its card is never served", dir.display()))
            };
            out.push(RegistryEntry {
                name: name.clone(),
                version: version_dir.file_name().to_string_lossy().into_owned(),
                dir,
                card,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| version_order(&a.version, &b.version)));
    Ok(out)
}

/// Orders two version folder names: semver order, and any semver version after any other name.
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => std::cmp::Ordering::Greater,
        (Err(_), Ok(_)) => std::cmp::Ordering::Less,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Loads a model version folder into `opts.workers` sessions and starts its workers.
pub fn serve(dir: &Path, session: &SessionOptions, workers: WorkerOptions) -> Result<ModelHandle> {
    let models = (0..workers.workers.max(1)).map(|_| Model::load(dir, session)).collect::<Result<Vec<_>>>()?;
    ModelHandle::spawn(models, workers)
}

/// Like [`serve`], for a folder that is not (yet) at `models/<name>/<version>/`: an upload being staged before it
/// is renamed into place. The card must name `name` and `version`.
pub fn serve_staged(
    dir: &Path,
    name: &str,
    version: &str,
    session: &SessionOptions,
    workers: WorkerOptions,
) -> Result<ModelHandle> {
    let models =
        (0..workers.workers.max(1)).map(|_| Model::load_as(dir, name, version, session)).collect::<Result<Vec<_>>>()?;
    ModelHandle::spawn(models, workers)
}
