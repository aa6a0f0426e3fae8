//! The set of models being served: the loaded versions of each model, which one is active, and the shadow
//! candidate. Every change is a pointer swap under a write lock held for microseconds; loading and warming a
//! version happens before, outside the lock. A request that already resolved a handle keeps it, so in-flight
//! requests finish on the version they started on, and a retired version's workers stop once its last handle is
//! dropped and its queue is drained.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use semver::Version;

use crate::card::ModelCard;
use crate::error::{Result, ScoringError};
use crate::shadow::{Shadow, ShadowReport};
use crate::worker::ModelHandle;

/// The models being served: every loaded version of every model, and which version is active.
#[derive(Default)]
pub struct ModelSet {
    inner: RwLock<BTreeMap<String, ServedModel>>,
}

#[derive(Default, Clone)]
struct ServedModel {
    versions: BTreeMap<Version, ModelHandle>,
    active: Option<Version>,
    /// The version that was active before the last activation (the rollback target).
    previous: Option<Version>,
    shadow: Option<Arc<Shadow>>,
}

/// What `GET /v1/models` shows for one version.
#[derive(Debug, Clone)]
pub struct ServedVersion {
    /// The model's card.
    pub card: Arc<ModelCard>,
    /// Whether `name` alone resolves to this version.
    pub active: bool,
    /// Whether this version scores in the shadow of the active one.
    pub shadow: bool,
}

/// The result of an activation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// The version now active.
    pub active: Version,
    /// The version active before, if any.
    pub previous: Option<Version>,
}

fn parse(name: &str, version: &str) -> Result<Version> {
    Version::parse(version).map_err(|_| ScoringError::UnknownModel(format!("{name}@{version}")))
}

impl ModelSet {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, ServedModel>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, ServedModel>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a loaded version; the highest version of a model becomes active when nothing else is active yet or
    /// it is higher than the active one.
    pub fn insert(&self, handle: ModelHandle) {
        let card = Arc::clone(handle.card());
        let Ok(version) = Version::parse(&card.version) else {
            return; // cards are checked at load; unreachable in practice
        };
        let mut map = self.write();
        let served = map.entry(card.name.clone()).or_default();
        served.versions.insert(version.clone(), handle);
        if served.active.as_ref().is_none_or(|a| *a < version) {
            served.previous = served.active.replace(version);
            refresh_shadow(served);
        }
    }

    /// Adds a loaded version without changing which version is active (unless none is).
    pub fn insert_inactive(&self, handle: ModelHandle) {
        let card = Arc::clone(handle.card());
        let Ok(version) = Version::parse(&card.version) else {
            return;
        };
        let mut map = self.write();
        let served = map.entry(card.name.clone()).or_default();
        served.versions.insert(version.clone(), handle);
        if served.active.is_none() {
            served.active = Some(version);
        }
    }

    /// Makes a loaded version the active one (an atomic pointer swap). A shadow of that same version is
    /// promoted: it stops shadowing. A shadow of another version now compares against the new active version.
    pub fn activate(&self, name: &str, version: &str) -> Result<Activation> {
        let v = parse(name, version)?;
        let mut map = self.write();
        let served = map.get_mut(name).ok_or_else(|| ScoringError::UnknownModel(name.to_string()))?;
        if !served.versions.contains_key(&v) {
            return Err(ScoringError::UnknownModel(format!("{name}@{version} (not loaded)")));
        }
        if served.active.as_ref() != Some(&v) {
            served.previous = served.active.replace(v.clone());
        }
        if served.shadow.as_ref().is_some_and(|s| s.candidate().version() == version) {
            served.shadow = None;
        }
        refresh_shadow(served);
        Ok(Activation { active: v, previous: served.previous.clone() })
    }

    /// Sets the version the next rollback returns to (restored from the store at start-up).
    pub fn set_previous(&self, name: &str, version: Option<&str>) {
        let mut map = self.write();
        if let Some(served) = map.get_mut(name) {
            served.previous = version.and_then(|v| Version::parse(v).ok());
        }
    }

    /// Starts shadow scoring `version` (loaded, not the active one) beside the active version, or stops it.
    pub fn set_shadow(&self, name: &str, version: Option<&str>) -> Result<()> {
        let mut map = self.write();
        let served = map.get_mut(name).ok_or_else(|| ScoringError::UnknownModel(name.to_string()))?;
        let Some(version) = version else {
            served.shadow = None;
            return Ok(());
        };
        let v = parse(name, version)?;
        let candidate = served
            .versions
            .get(&v)
            .cloned()
            .ok_or_else(|| ScoringError::UnknownModel(format!("{name}@{version} (not loaded)")))?;
        let active = served
            .active
            .as_ref()
            .and_then(|a| served.versions.get(a))
            .ok_or_else(|| ScoringError::UnknownModel(format!("{name} has no active version to shadow")))?;
        if active.version() == version {
            return Err(ScoringError::Input(format!(
                "{name}@{version} is the active version; it cannot shadow itself"
            )));
        }
        served.shadow = Some(Arc::new(Shadow::new(Arc::clone(active.card()), candidate)?));
        Ok(())
    }

    /// The shadow comparison of a model, if a candidate is shadowing.
    pub fn shadow_report(&self, name: &str) -> Option<ShadowReport> {
        self.read().get(name).and_then(|s| s.shadow.as_ref().map(|s| s.report()))
    }

    /// Drops every loaded version of `name` except the active one, the previous one, the shadow and `keep`.
    /// Returns the versions dropped; their workers stop once the requests holding them are done.
    pub fn retain(&self, name: &str, keep: &[&str]) -> Vec<String> {
        let mut map = self.write();
        let Some(served) = map.get_mut(name) else {
            return Vec::new();
        };
        let shadow = served.shadow.as_ref().map(|s| s.candidate().version().to_string());
        let (active, previous) = (served.active.clone(), served.previous.clone());
        let mut dropped = Vec::new();
        served.versions.retain(|v, _| {
            let text = v.to_string();
            let kept = Some(v) == active.as_ref()
                || Some(v) == previous.as_ref()
                || shadow.as_deref() == Some(text.as_str())
                || keep.contains(&text.as_str());
            if !kept {
                dropped.push(text);
            }
            kept
        });
        dropped
    }

    /// Finds `name` (its active version, with the shadow candidate attached) or `name@version`.
    pub fn resolve(&self, spec: &str) -> Result<ModelHandle> {
        let (name, version) = match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        };
        let map = self.read();
        let served = map.get(name).ok_or_else(|| ScoringError::UnknownModel(spec.to_string()))?;
        match version {
            Some(v) => {
                let v = Version::parse(v).map_err(|_| ScoringError::UnknownModel(spec.to_string()))?;
                served.versions.get(&v).cloned().ok_or_else(|| ScoringError::UnknownModel(spec.to_string()))
            }
            None => {
                let active = served.active.as_ref().ok_or_else(|| ScoringError::UnknownModel(spec.to_string()))?;
                let handle = served.versions.get(active).ok_or_else(|| ScoringError::UnknownModel(spec.to_string()))?;
                Ok(match &served.shadow {
                    Some(shadow) => handle.with_shadow(Some(Arc::clone(shadow))),
                    None => handle.clone(),
                })
            }
        }
    }

    /// The active version of `name`.
    pub fn active_version(&self, name: &str) -> Option<String> {
        self.read().get(name).and_then(|s| s.active.as_ref().map(Version::to_string))
    }

    /// The rollback target of `name`.
    pub fn previous_version(&self, name: &str) -> Option<String> {
        self.read().get(name).and_then(|s| s.previous.as_ref().map(Version::to_string))
    }

    /// The shadow candidate's version of `name`.
    pub fn shadow_version(&self, name: &str) -> Option<String> {
        self.read().get(name).and_then(|s| s.shadow.as_ref().map(|s| s.candidate().version().to_string()))
    }

    /// Whether `name@version` is loaded.
    pub fn is_loaded(&self, name: &str, version: &str) -> bool {
        let Ok(v) = Version::parse(version) else {
            return false;
        };
        self.read().get(name).is_some_and(|s| s.versions.contains_key(&v))
    }

    /// The names of the served models.
    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Every served version, by model name then version.
    pub fn list(&self) -> Vec<ServedVersion> {
        let map = self.read();
        map.values()
            .flat_map(|served| {
                let shadow = served.shadow.as_ref().map(|s| s.candidate().version().to_string());
                served.versions.iter().map(move |(v, h)| ServedVersion {
                    card: Arc::clone(h.card()),
                    active: served.active.as_ref() == Some(v),
                    shadow: shadow.as_deref() == Some(h.version()),
                })
            })
            .collect()
    }

    /// Number of served versions.
    pub fn len(&self) -> usize {
        self.read().values().map(|s| s.versions.len()).sum()
    }

    /// Whether nothing is served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// After the active version changed, a shadow compares against the new active card (its statistics restart),
/// or stops when it can no longer be fed.
fn refresh_shadow(served: &mut ServedModel) {
    let Some(shadow) = served.shadow.take() else {
        return;
    };
    let Some(active) = served.active.as_ref().and_then(|a| served.versions.get(a)) else {
        return;
    };
    if shadow.active().version == active.version() {
        served.shadow = Some(shadow);
        return;
    }
    if shadow.candidate().version() == active.version() {
        return;
    }
    match Shadow::new(Arc::clone(active.card()), shadow.candidate().clone()) {
        Ok(s) => served.shadow = Some(Arc::new(s)),
        Err(e) => tracing::warn!(error = %e, "shadow stopped: it cannot score beside the new active version"),
    }
}
