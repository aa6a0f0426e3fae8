//! One capture pair, from files to a stored prediction: parse (memory-mapped), hash, featurize, map to a
//! wheel, score, store in one transaction, then archive. Bad input is quarantined with its reason; a fault on
//! our side (store, model) leaves the files in place to be retried, so nothing accepted is ever lost.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use prognos_features::{featurize, Feature, Surface, FEATURE_NAMES, FEATURE_SET_VERSION};
use prognos_formats::icon::Capture;
use prognos_scoring::FeatureBatch;
use prognos_store::{Contribution, FeatureValues, NewCapture, NewPrediction, RecordOutcome};
use sha2::{Digest, Sha256};

use super::filename::parse_stem;
use super::pairs::ReadyPair;
use super::WheelPipeline;
use crate::ingest::files::{move_into, write_atomically};

/// A capture read and featurized, not yet scored.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// sha256 over the `.xml` and `.dat` bytes.
    pub content_hash: String,
    /// Columns x profiles.
    pub width: usize,
    /// Profiles (rows).
    pub profiles: usize,
    /// `mm` or `sensor`.
    pub units: &'static str,
    /// `wheel-v1` values in `FEATURE_NAMES` order.
    pub values: Vec<f32>,
}

/// What happened to a pair.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Scored and stored.
    Scored {
        /// Wheel id.
        wheel: String,
        /// Health score.
        health: f32,
        /// Model version that scored it.
        model: String,
        /// The features that pulled the score down most, most first (empty when the model cannot explain).
        drivers: Vec<Contribution>,
    },
    /// Already stored (a restart, or a second copy of the same files).
    Duplicate,
    /// Moved to quarantine, with the reason.
    Quarantined(String),
    /// A fault on our side; the files stay and will be retried.
    Retry(String),
    /// Another replica has claimed the pair (or has already finished it): nothing done here.
    Elsewhere,
}

/// Reads, hashes and featurizes a pair (blocking: run it off the async runtime).
pub fn prepare(xml: &Path, dat: &Path) -> Result<Prepared, String> {
    let xml_text = std::fs::read(xml).map_err(|e| format!("cannot read {}: {e}", xml.display()))?;
    let capture = Capture::open(xml, dat).map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    hasher.update((xml_text.len() as u64).to_le_bytes());
    hasher.update(&xml_text);
    hasher.update(capture.dat_bytes());
    let content_hash = hex::encode(hasher.finalize());
    let surface = Surface::from_capture(&capture).map_err(|e| e.to_string())?;
    let units = match surface.units() {
        prognos_features::HeightUnits::Millimetres => "mm",
        prognos_features::HeightUnits::SensorUnits => "sensor",
    };
    let values = featurize(&surface).map_err(|e| e.to_string())?.to_vec();
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(format!("feature {} is {v}: the capture has too little valid data", FEATURE_NAMES[i]));
    }
    Ok(Prepared { content_hash, width: capture.width(), profiles: capture.profiles(), units, values })
}

impl WheelPipeline {
    /// Claims the pair for this replica, handles it, and releases the claim. Pairs another live replica has
    /// claimed, or whose files are gone by the time the claim is ours (a replica finished them), are
    /// [`Outcome::Elsewhere`].
    pub async fn handle_claimed(&self, pair: &ReadyPair) -> Outcome {
        let key = format!("capture:{}", pair.stem.display());
        match self.store.claim_work(&key, &self.replica, Utc::now(), self.claim_lease).await {
            Ok(true) => {}
            Ok(false) => return Outcome::Elsewhere,
            Err(e) => return Outcome::Retry(format!("store: claiming the pair: {e}")),
        }
        let outcome =
            if pair.xml().exists() || pair.dat().exists() { self.handle(pair).await } else { Outcome::Elsewhere };
        if let Err(e) = self.store.release_work(&key, &self.replica).await {
            // The claim lapses by itself after its lease.
            tracing::warn!(key, error = %e, "could not release a work claim");
        }
        outcome
    }

    /// Handles one ready pair end to end (unclaimed: [`Self::handle_claimed`] is the entry point).
    pub async fn handle(&self, pair: &ReadyPair) -> Outcome {
        let (xml, dat) = (pair.xml(), pair.dat());
        let stem = pair.stem.file_name().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let camera =
            pair.stem.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let prepared = {
            let (xml, dat) = (xml.clone(), dat.clone());
            match tokio::task::spawn_blocking(move || prepare(&xml, &dat)).await {
                Ok(Ok(p)) => p,
                Ok(Err(reason)) => return self.quarantine(&pair.stem, &camera, &reason).await,
                Err(e) => return Outcome::Retry(format!("featurizing task failed: {e}")),
            }
        };
        match self.store.capture_by_hash(&prepared.content_hash).await {
            Ok(Some(_)) => {
                self.finish(&pair.stem, &camera);
                return Outcome::Duplicate;
            }
            Ok(None) => {}
            Err(e) => return Outcome::Retry(format!("store: {e}")),
        }
        let info = parse_stem(&stem);
        let captured_at = info
            .as_ref()
            .map(|i| i.captured_at)
            .or_else(|| std::fs::metadata(&dat).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from))
            .unwrap_or_else(Utc::now);
        let fallback_wheel = info.as_ref().map(|i| i.wheel.clone()).unwrap_or_else(|| stem.clone());
        let wheel = match &self.rfid {
            Some(log) => log.lock().await.lookup(captured_at, &fallback_wheel),
            None => super::rfid::WheelMatch { wheel: fallback_wheel, run_count: None, from_rfid: false },
        };

        let handle = match self.models.resolve(&self.file.model.name) {
            Ok(h) => h,
            Err(e) => return Outcome::Retry(format!("model: {e}")),
        };
        let card = Arc::clone(handle.card());
        let mut row = Vec::with_capacity(card.input.features.len());
        for name in &card.input.features {
            match FEATURE_NAMES.iter().position(|f| f == name) {
                Some(i) => row.push(prepared.values[i]),
                None => return Outcome::Retry(format!("model {} needs feature {name:?}", card.id())),
            }
        }
        let batch = FeatureBatch { values: row, rows: 1 };
        let (scores, drivers) = match handle.score_explained(batch, Some(wheel.wheel.as_str()), self.explain_top).await
        {
            Ok(s) => s,
            Err(e) => return Outcome::Retry(format!("scoring: {e}")),
        };
        let explained = handle.can_explain() && self.explain_top > 0;
        let drivers: Vec<Contribution> = crate::ingest::contributions(drivers.into_iter().next().unwrap_or_default());
        // A model output that is not a number can never be stored; retrying gives the same NaN forever.
        if let Some(p) = scores.row(0).iter().find(|p| !p.is_finite()) {
            let reason = format!(
                "model {} gave a non-finite class probability ({p}) for this capture; it cannot be scored",
                card.id()
            );
            metrics::counter!("prognos_model_non_finite_outputs_total", "model" => card.name.clone()).increment(1);
            return self.quarantine(&pair.stem, &camera, &reason).await;
        }
        let probabilities: Vec<(String, f64)> =
            card.output.classes.iter().cloned().zip(scores.row(0).iter().map(|&p| f64::from(p))).collect();
        let best = probabilities.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(c, _)| c.clone()).unwrap_or_default();
        let health = scores.health(0);
        let capture = NewCapture {
            content_hash: prepared.content_hash.clone(),
            site: self.file.pipeline.site.clone(),
            camera: camera.clone(),
            asset_id: wheel.wheel.clone(),
            run_count: wheel.run_count,
            captured_at,
            source: stem.clone(),
            width: prepared.width as i64,
            profiles: prepared.profiles as i64,
            height_units: prepared.units.to_string(),
            mean_height: f64::from(prepared.values[Feature::TreadHeight.index()]),
            mean_intensity: f64::from(prepared.values[Feature::IntensityMean.index()]),
        };
        let features = FeatureValues {
            feature_set: FEATURE_SET_VERSION.to_string(),
            names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            values: prepared.values.clone(),
        };
        let prediction = NewPrediction {
            model: card.name.clone(),
            model_version: card.version.clone(),
            health_score: f64::from(health),
            label: best,
            probabilities,
            scored_at: Utc::now(),
        };
        let explanation = explained.then_some(drivers.as_slice());
        match self.store.record_explained_capture(&capture, &features, &prediction, explanation).await {
            Ok(RecordOutcome::Inserted(_)) => {}
            Ok(RecordOutcome::Duplicate(_)) => {
                self.finish(&pair.stem, &camera);
                return Outcome::Duplicate;
            }
            // The store refused the values themselves: the same input would be refused forever.
            Err(prognos_store::StoreError::InvalidInput(why)) => {
                return self.quarantine(&pair.stem, &camera, &format!("the store refused the result: {why}")).await;
            }
            Err(e) => return Outcome::Retry(format!("store: {e}")),
        }
        self.finish(&pair.stem, &camera);
        Outcome::Scored { wheel: wheel.wheel, health, model: card.id(), drivers }
    }

    /// Archives or deletes a stored pair. A failure here loses nothing: the pair is stored, and a later pass
    /// sees it as a duplicate and tries again.
    fn finish(&self, stem: &Path, camera: &str) {
        for path in [stem.with_extension("xml"), stem.with_extension("dat")] {
            let result = match &self.archive_dir {
                Some(dir) => move_into(&path, &dir.join(camera)).map(drop),
                None => std::fs::remove_file(&path),
            };
            if let Err(e) = result {
                tracing::warn!(path = %path.display(), error = %e, "could not archive a processed capture file");
            }
        }
    }

    /// Moves whatever exists of a pair into quarantine, beside a `.reason` file, and records it.
    pub async fn quarantine(&self, stem: &Path, camera: &str, reason: &str) -> Outcome {
        let dir = self.quarantine_dir.join(camera);
        let name = stem.file_name().and_then(|s| s.to_str()).unwrap_or("capture").to_string();
        // The reason first: a quarantined capture always has its reason beside it.
        let reason_path = dir.join(format!("{name}.reason"));
        if let Err(e) = write_atomically(&reason_path, format!("{reason}\n").as_bytes()) {
            tracing::error!(path = %reason_path.display(), error = %e, "could not write the quarantine reason");
        }
        for ext in ["xml", "dat"] {
            let path = stem.with_extension(ext);
            if path.exists() {
                if let Err(e) = move_into(&path, &dir) {
                    tracing::error!(path = %path.display(), error = %e, "could not move a bad capture to quarantine");
                }
            }
        }
        if let Err(e) = self.store.record_quarantine(&format!("{camera}/{name}"), reason, Utc::now()).await {
            tracing::error!(error = %e, "could not record a quarantined capture in the store");
        }
        Outcome::Quarantined(reason.to_string())
    }
}
