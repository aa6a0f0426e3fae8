//! The model registry on disk (`models/<name>/<version>/`) and the set of models being served.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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

fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
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

/// The models being served: every loaded version of every model, and which version is active.
#[derive(Default)]
pub struct ModelSet {
    inner: RwLock<BTreeMap<String, ServedModel>>,
}

#[derive(Default, Clone)]
struct ServedModel {
    versions: BTreeMap<semver::Version, ModelHandle>,
    active: Option<semver::Version>,
}

/// What `GET /v1/models` shows for one version.
#[derive(Debug, Clone)]
pub struct ServedVersion {
    /// The model's card.
    pub card: Arc<ModelCard>,
    /// Whether `name` alone resolves to this version.
    pub active: bool,
}

impl ModelSet {
    /// Adds a loaded version; the highest version of a model is active unless one was activated explicitly.
    pub fn insert(&self, handle: ModelHandle) {
        let card = Arc::clone(handle.card());
        let Ok(version) = semver::Version::parse(&card.version) else {
            return; // cards are checked at load; unreachable in practice
        };
        let mut map = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let served = map.entry(card.name.clone()).or_default();
        served.versions.insert(version.clone(), handle);
        if served.active.as_ref().is_none_or(|a| *a < version) {
            served.active = Some(version);
        }
    }

    /// Finds `name` (its active version) or `name@version`.
    pub fn resolve(&self, spec: &str) -> Result<ModelHandle> {
        let (name, version) = match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        };
        let map = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let served = map.get(name).ok_or_else(|| ScoringError::UnknownModel(spec.to_string()))?;
        let version = match version {
            Some(v) => semver::Version::parse(v).map_err(|_| ScoringError::UnknownModel(spec.to_string()))?,
            None => served.active.clone().ok_or_else(|| ScoringError::UnknownModel(spec.to_string()))?,
        };
        served.versions.get(&version).cloned().ok_or_else(|| ScoringError::UnknownModel(spec.to_string()))
    }

    /// Every served version, by model name then version.
    pub fn list(&self) -> Vec<ServedVersion> {
        let map = self.inner.read().unwrap_or_else(|e| e.into_inner());
        map.values()
            .flat_map(|served| {
                served.versions.iter().map(|(v, h)| ServedVersion {
                    card: Arc::clone(h.card()),
                    active: served.active.as_ref() == Some(v),
                })
            })
            .collect()
    }

    /// Number of served versions.
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).values().map(|s| s.versions.len()).sum()
    }

    /// Whether nothing is served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
