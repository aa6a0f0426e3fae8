//! The drop folder: CSV files dropped (or written in place) into the pipeline's folder are ingested once they
//! have settled, then moved to the archive with their report; a file refused as a whole (missing column,
//! broken CSV) goes to quarantine beside a `.reason` file. A store fault leaves the file to be retried: since
//! ingestion is idempotent, a retry or a restart mid-file stores each reading once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prognos_core::pipeline::DropFolder;
use tokio_util::sync::CancellationToken;

use super::{IngestError, InverterPipeline};
use crate::ingest::files::{move_into, write_atomically};

/// Watches one pipeline's drop folder.
pub struct DropWatcher {
    pipeline: Arc<InverterPipeline>,
    dir: PathBuf,
    archive: PathBuf,
    quarantine: PathBuf,
    rescan: Duration,
    settle: Duration,
}

impl DropWatcher {
    /// From the pipeline's `[inverter.drop_folder]`; `data_dir` gives the default archive and quarantine.
    pub fn new(pipeline: Arc<InverterPipeline>, folder: &DropFolder, data_dir: &Path) -> Self {
        let name = pipeline.name().to_string();
        Self {
            dir: folder.path.clone(),
            archive: folder.archive_dir.clone().unwrap_or_else(|| data_dir.join("archive").join(&name)),
            quarantine: folder.quarantine_dir.clone().unwrap_or_else(|| data_dir.join("quarantine").join(&name)),
            rescan: Duration::from_millis(folder.rescan_ms.max(10)),
            settle: Duration::from_millis(folder.settle_ms),
            pipeline,
        }
    }

    /// Runs until `shutdown`; the file in hand is finished first (or, cut short by a crash, redone next start).
    pub async fn run(self, shutdown: CancellationToken) {
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            tracing::error!(dir = %self.dir.display(), error = %e, "cannot create the drop folder");
        }
        tracing::info!(pipeline = self.pipeline.name(), dir = %self.dir.display(), "watching the drop folder");
        let mut seen: HashMap<PathBuf, (u64, Option<SystemTime>, Instant)> = HashMap::new();
        let mut tick = tokio::time::interval(self.rescan);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            let mut ready = Vec::new();
            let Ok(entries) = std::fs::read_dir(&self.dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let stamp = (meta.len(), meta.modified().ok());
                let e = seen.entry(path.clone()).or_insert((stamp.0, stamp.1, now));
                if (e.0, e.1) != stamp {
                    *e = (stamp.0, stamp.1, now);
                } else if now.duration_since(e.2) >= self.settle {
                    ready.push(path);
                }
            }
            ready.sort();
            for path in ready {
                if shutdown.is_cancelled() {
                    break;
                }
                if self.process(&path).await {
                    seen.remove(&path);
                }
            }
            seen.retain(|p, _| p.exists());
        }
        tracing::info!(pipeline = self.pipeline.name(), "drop folder stopped");
    }

    /// Ingests one file; `true` when it left the folder (archived or quarantined).
    async fn process(&self, path: &Path) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file.csv").to_string();
        match self.pipeline.ingest_csv_file(path).await {
            Ok(report) => {
                tracing::info!(pipeline = self.pipeline.name(), file = %name, rows = report.rows,
                    accepted = report.accepted, duplicate = report.duplicate, rejected = report.rejected,
                    windows = report.windows, scored = report.scored, "file ingested");
                // The report first: a file in the archive always has its report beside it.
                let json = serde_json::to_vec_pretty(&report).unwrap_or_default();
                if let Err(e) = write_atomically(&self.archive.join(format!("{name}.report.json")), &json) {
                    tracing::warn!(error = %e, "could not write the ingest report");
                }
                if let Err(e) = move_into(path, &self.archive) {
                    tracing::warn!(file = %name, error = %e, "could not archive an ingested file");
                }
                true
            }
            Err(IngestError::Format(e)) => {
                tracing::warn!(pipeline = self.pipeline.name(), file = %name, reason = %e, "file quarantined");
                // The reason first: a quarantined file always has its reason beside it.
                let reason_path = self.quarantine.join(format!("{name}.reason"));
                if let Err(err) = write_atomically(&reason_path, format!("{e}\n").as_bytes()) {
                    tracing::error!(error = %err, "could not write the quarantine reason");
                }
                if let Err(err) = move_into(path, &self.quarantine) {
                    tracing::error!(file = %name, error = %err, "could not quarantine a refused file");
                }
                if let Err(err) = self
                    .pipeline
                    .store
                    .record_quarantine(&format!("{}/{name}", self.pipeline.name()), &e.to_string(), chrono::Utc::now())
                    .await
                {
                    tracing::error!(error = %err, "could not record a quarantined file");
                }
                true
            }
            Err(e) => {
                tracing::error!(pipeline = self.pipeline.name(), file = %name, error = %e, "ingest failed; will retry");
                false
            }
        }
    }
}
