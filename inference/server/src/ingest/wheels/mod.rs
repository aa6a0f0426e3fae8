//! Wheel-camera folder ingestion (`kind = "wheel-cameras"` pipelines): watch each camera folder, take a pair
//! once both files are complete, process pairs in capture-time order, store, archive; quarantine bad input.

pub mod filename;
pub mod pairs;
pub mod process;
pub mod rfid;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher};
use prognos_alerts::engine::AlertEngine;
use prognos_core::{AfterProcessing, PipelineFile};
use prognos_scoring::ModelSet;
use prognos_store::Store;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

use self::pairs::{Half, PairTracker, ReadyPair};
use self::process::Outcome;
use self::rfid::RfidLog;

/// One running wheel-camera pipeline.
pub struct WheelPipeline {
    /// Its declaration.
    pub file: PipelineFile,
    /// Camera folders.
    pub camera_dirs: Vec<PathBuf>,
    /// Where processed pairs go (`None`: deleted).
    pub archive_dir: Option<PathBuf>,
    /// Where bad pairs go.
    pub quarantine_dir: PathBuf,
    /// The RFID log, if declared.
    pub rfid: Option<Mutex<RfidLog>>,
    /// Where results are stored.
    pub store: Store,
    /// The served models.
    pub models: Arc<ModelSet>,
    /// The alert engine every result and heartbeat is reported to (`None`: alerting is off).
    pub alerts: Option<Arc<AlertEngine>>,
    /// How many features that pulled a score down are stored with each prediction (0: no explanations).
    /// Default [`DEFAULT_EXPLAIN_TOP`]; `models.explain_top` in the settings.
    pub explain_top: usize,
    /// This process's id in work claims: replicas on one database watching the same folders claim each pair
    /// before handling it, so that one of them scores it ([`Store::claim_work`]).
    pub replica: String,
    /// How long a claim on a pair lasts: a replica that dies holding one leaves the pair to the others after
    /// this (`pipelines.claim_lease_s`).
    pub claim_lease: chrono::Duration,
}

/// A process-unique id for work claims: host, process id and a random part.
pub fn replica_id() -> String {
    use rand::Rng;
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "prognos".into());
    format!("{host}-{}-{:08x}", std::process::id(), rand::rng().random::<u32>())
}

/// Features named per prediction unless configured otherwise.
pub const DEFAULT_EXPLAIN_TOP: usize = 3;

/// What a file event means for a path.
enum FileEvent {
    /// Closed after writing, or renamed into place: complete now.
    Complete(PathBuf),
    /// Created or changed: look at it again (it completes once it settles).
    Touched(PathBuf),
}

impl WheelPipeline {
    /// Builds the pipeline from its file; `data_dir` gives the default archive and quarantine folders.
    pub fn new(
        file: PipelineFile,
        data_dir: &Path,
        store: Store,
        models: Arc<ModelSet>,
        alerts: Option<Arc<AlertEngine>>,
    ) -> anyhow::Result<Self> {
        let cams = file.cameras.clone().ok_or_else(|| anyhow::anyhow!("wheel-cameras pipeline without [cameras]"))?;
        let name = &file.pipeline.name;
        let camera_dirs = cams.cameras.iter().map(|c| cams.root.join(c)).collect();
        let archive_dir = match cams.after {
            AfterProcessing::Archive => {
                Some(cams.archive_dir.clone().unwrap_or_else(|| data_dir.join("archive").join(name)))
            }
            AfterProcessing::Delete => None,
        };
        let quarantine_dir = cams.quarantine_dir.clone().unwrap_or_else(|| data_dir.join("quarantine").join(name));
        let rfid = file.rfid.as_ref().map(|r| Mutex::new(RfidLog::new(&r.path, r.tolerance_ms)));
        Ok(Self {
            file,
            camera_dirs,
            archive_dir,
            quarantine_dir,
            rfid,
            store,
            models,
            alerts,
            explain_top: DEFAULT_EXPLAIN_TOP,
            replica: replica_id(),
            claim_lease: chrono::Duration::seconds(60),
        })
    }

    fn name(&self) -> &str {
        &self.file.pipeline.name
    }

    /// Runs until `shutdown` is cancelled. The pair being processed is finished first.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let cams = self.file.cameras.clone().expect("checked in new");
        for dir in &self.camera_dirs {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::error!(dir = %dir.display(), error = %e, "cannot create a camera folder");
            }
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<FileEvent>();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            let complete = matches!(
                event.kind,
                EventKind::Access(AccessKind::Close(AccessMode::Write))
                    | EventKind::Modify(ModifyKind::Name(RenameMode::To))
            );
            let renamed_both = matches!(event.kind, EventKind::Modify(ModifyKind::Name(RenameMode::Both)));
            for (i, path) in event.paths.into_iter().enumerate() {
                let msg = if complete || (renamed_both && i == 1) {
                    FileEvent::Complete(path)
                } else {
                    FileEvent::Touched(path)
                };
                let _ = tx.send(msg);
            }
        });
        let _watcher = match watcher {
            Ok(mut w) => {
                for dir in &self.camera_dirs {
                    if let Err(e) = w.watch(dir, RecursiveMode::NonRecursive) {
                        tracing::warn!(dir = %dir.display(), error = %e, "no file events for this folder; rescans only");
                    }
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!(error = %e, "file events unavailable; rescans only");
                None
            }
        };
        let mut tracker =
            PairTracker::new(Duration::from_millis(cams.settle_ms), Duration::from_secs(cams.orphan_timeout_s));
        let mut rescan = tokio::time::interval(Duration::from_millis(cams.rescan_ms.max(10)));
        rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(pipeline = self.name(), cameras = ?cams.cameras, root = %cams.root.display(), "watching camera folders");
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(event) = rx.recv() => {
                    let now = Instant::now();
                    self.apply(&mut tracker, event, now);
                    while let Ok(event) = rx.try_recv() {
                        self.apply(&mut tracker, event, now);
                    }
                }
                _ = rescan.tick() => {
                    self.rescan(&mut tracker, Instant::now());
                }
            }
            let now = Instant::now();
            for orphan in tracker.take_orphans(now) {
                let camera = camera_of(&orphan.stem);
                let missing = match orphan.missing {
                    Half::Xml => ".xml",
                    Half::Dat => ".dat",
                };
                let reason =
                    format!("its {missing} half did not arrive within {} s (orphan_timeout_s)", cams.orphan_timeout_s);
                let outcome = self.quarantine(&orphan.stem, &camera, &reason).await;
                self.report(&orphan.stem, &camera, &outcome, None);
            }
            let ready = tracker.take_ready(now);
            if !ready.is_empty() {
                self.process_in_order(ready, &mut tracker, &shutdown).await;
            }
        }
        tracing::info!(pipeline = self.name(), "stopped");
    }

    fn apply(&self, tracker: &mut PairTracker, event: FileEvent, now: Instant) {
        match event {
            FileEvent::Complete(path) if path.exists() => tracker.mark_complete(&path, now),
            FileEvent::Touched(path) => {
                if let Ok(meta) = std::fs::metadata(&path) {
                    tracker.observe(&path, meta.len(), meta.modified().ok(), now);
                }
            }
            FileEvent::Complete(_) => {}
        }
    }

    fn rescan(&self, tracker: &mut PairTracker, now: Instant) {
        for dir in &self.camera_dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries.flatten() {
                if let Ok(meta) = entry.metadata() {
                    if meta.is_file() {
                        tracker.observe(&entry.path(), meta.len(), meta.modified().ok(), now);
                    }
                }
            }
        }
        tracker.retain_existing();
    }

    /// Processes ready pairs sorted by capture time (from the file name; the stem order otherwise).
    async fn process_in_order(
        &self,
        mut ready: Vec<ReadyPair>,
        tracker: &mut PairTracker,
        shutdown: &CancellationToken,
    ) {
        ready.sort_by_key(|p| {
            let stem = p.stem.file_name().and_then(|s| s.to_str()).unwrap_or_default();
            (filename::parse_stem(stem).map(|i| i.captured_at), stem.to_string())
        });
        for pair in ready {
            if shutdown.is_cancelled() {
                break; // the files stay; the next start picks them up
            }
            let camera = camera_of(&pair.stem);
            let outcome = self.handle_claimed(&pair).await;
            if let Outcome::Elsewhere = outcome {
                // Another replica holds it. Look again later: gone then if it finished, ours once its lease
                // runs out if it died.
                tracker.observe(&pair.xml(), 0, None, Instant::now());
                continue;
            }
            self.report(&pair.stem, &camera, &outcome, Some(pair.complete_at));
            self.tell_alerts(&camera, &outcome).await;
            if let Outcome::Retry(_) = outcome {
                // Leave the files; they are seen again at the next rescan once they settle.
                tracker.observe(&pair.xml(), 0, None, Instant::now());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Reports a scored capture's health and the camera's heartbeat to the alert engine.
    async fn tell_alerts(&self, camera: &str, outcome: &Outcome) {
        let Some(engine) = &self.alerts else { return };
        let now = chrono::Utc::now();
        if matches!(outcome, Outcome::Retry(_)) {
            return;
        }
        let source = crate::alerting::heartbeat_source(self.name(), camera);
        if let Err(e) = engine.heartbeat(&source, now).await {
            tracing::error!(%source, error = %e, "could not record the camera's heartbeat");
        }
        if let Outcome::Scored { wheel, health, model, drivers } = outcome {
            let site = &self.file.pipeline.site;
            let drivers: Vec<(String, f64)> = drivers.iter().map(|d| (d.feature.clone(), d.contribution)).collect();
            let health = f64::from(*health);
            if let Err(e) =
                engine.observe_health_explained(self.name(), site, wheel, health, model, &drivers, now).await
            {
                metrics::counter!("prognos_alert_evaluation_errors_total").increment(1);
                tracing::error!(%wheel, error = %e, "could not evaluate the health rule for a stored prediction");
            }
        }
    }

    /// One log line and one metric per outcome.
    fn report(&self, stem: &Path, camera: &str, outcome: &Outcome, complete_at: Option<Instant>) {
        let pipeline = self.name().to_string();
        let source = stem.file_name().and_then(|s| s.to_str()).unwrap_or_default();
        let kind = match outcome {
            Outcome::Scored { wheel, health, model, .. } => {
                let threshold =
                    self.models.resolve(&self.file.model.name).map(|h| h.card().alert.threshold).unwrap_or(70.0);
                if f64::from(*health) < threshold {
                    tracing::warn!(%pipeline, camera, source, wheel, health = format!("{health:.1}"), model, "capture scored BELOW threshold");
                } else {
                    tracing::info!(%pipeline, camera, source, wheel, health = format!("{health:.1}"), model, "capture scored");
                }
                if let Some(t) = complete_at {
                    metrics::histogram!("prognos_capture_seconds", "pipeline" => pipeline.clone())
                        .record(t.elapsed().as_secs_f64());
                }
                metrics::gauge!("prognos_camera_last_capture_timestamp_seconds", "pipeline" => pipeline.clone(), "camera" => camera.to_string())
                    .set(chrono::Utc::now().timestamp() as f64);
                "scored"
            }
            Outcome::Duplicate => {
                tracing::info!(%pipeline, camera, source, "capture already stored; archived without scoring again");
                "duplicate"
            }
            Outcome::Quarantined(reason) => {
                tracing::warn!(%pipeline, camera, source, %reason, "capture quarantined");
                "quarantined"
            }
            Outcome::Retry(reason) => {
                tracing::warn!(%pipeline, camera, source, %reason, "capture left in place to retry");
                "retry"
            }
            Outcome::Elsewhere => return,
        };
        metrics::counter!("prognos_captures_total", "pipeline" => pipeline, "camera" => camera.to_string(), "outcome" => kind)
            .increment(1);
    }
}

fn camera_of(stem: &Path) -> String {
    stem.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str()).unwrap_or_default().to_string()
}
