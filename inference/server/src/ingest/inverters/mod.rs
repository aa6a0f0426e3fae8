//! Inverter-metrics pipelines (`kind = "inverter-metrics"`). Every source (the `prognos ingest` command,
//! `POST /v1/ingest/{pipeline}`, the drop folder, MQTT) feeds one path, [`InverterPipeline::ingest`]:
//! parse (by the pipeline's mapping) -> validate -> store readings (idempotent) -> recompute the windows the
//! batch touched from the store -> score the scoring window with the pipeline's model -> store feature rows and
//! predictions. Rejections and warnings are counted in the report and in `/metrics`.

pub mod folder;
pub mod mqtt;
pub mod report;
pub mod windows;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use prognos_alerts::engine::{AlertEngine, MetricValue};
use prognos_core::{PipelineFile, Reading};
use prognos_formats::inverter::{FormatError, Mapping, ParseReport, WeatherSeries};
use prognos_scoring::ModelSet;
use prognos_store::Store;
use tokio_util::sync::CancellationToken;

pub use report::IngestReport;
use windows::{TouchedWindows, WindowPlan};

/// Readings per stored chunk of a CSV file (one transaction each).
pub const CHUNK_ROWS: usize = 20_000;

/// How far (in readings) a file's parser may run ahead of the store; a file of at most this many readings has
/// its windows computed while its chunks are stored.
pub const AHEAD_MAX: usize = 400_000;

/// Running inverter pipelines by name (what `POST /v1/ingest/{pipeline}` looks up).
pub type Registry = Arc<RwLock<HashMap<String, Arc<InverterPipeline>>>>;

/// A fault on our side while ingesting (bad input is never an error: it is counted in the report).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input as a whole cannot be read (missing column, broken CSV/JSON).
    #[error("{0}")]
    Format(#[from] FormatError),
    /// The store failed; nothing of the failing batch was written.
    #[error("store: {0}")]
    Store(#[from] prognos_store::StoreError),
    /// Reading the file failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// One running inverter pipeline.
pub struct InverterPipeline {
    /// Its declaration.
    pub file: PipelineFile,
    /// The compiled column mapping (with the weather series).
    pub mapping: Arc<Mapping>,
    /// Where readings, features and predictions go.
    pub store: Store,
    /// The served models.
    pub models: Arc<ModelSet>,
    plan: WindowPlan,
    scoring_off_said: std::sync::atomic::AtomicBool,
    /// The alert engine (`None`: alerting is off): each inverter's newest scored window is judged by the
    /// health rule, readings and window features by the range rules of their metric, and every accepted
    /// batch is a heartbeat of the feed.
    pub alerts: Option<Arc<AlertEngine>>,
    /// How many features that pulled a window's score down are stored with its prediction (0: none).
    pub explain_top: usize,
    /// The readings of the last recomputed span, which may stand in for reading the next one back.
    recent: windows::RecentReadings,
}

impl InverterPipeline {
    /// Builds a pipeline from its (validated) file. The weather file is read now, relative to `base`; a weather
    /// file that cannot be read is logged and the pipeline runs without weather (readings count `no_weather`).
    pub fn new(file: PipelineFile, base: &Path, store: Store, models: Arc<ModelSet>) -> Result<Self, IngestError> {
        let src = file.inverter.clone().ok_or_else(|| FormatError::Spec("no [inverter] table".into()))?;
        let weather = match &src.weather {
            Some(w) => match WeatherSeries::load(w, base) {
                Ok((series, report)) => {
                    tracing::info!(pipeline = %file.pipeline.name, rows = series.len(), span = %series.span(),
                        rejected = report.rejected_total(), "weather series loaded");
                    Some(Arc::new(series))
                }
                Err(e) => {
                    tracing::error!(pipeline = %file.pipeline.name, error = %e,
                        "weather series unavailable: readings are stored without weather metrics");
                    None
                }
            },
            None => None,
        };
        let mapping = Arc::new(Mapping::new(&src, weather)?);
        let plan = WindowPlan::new(&src).map_err(FormatError::Spec)?;
        Ok(Self {
            file,
            mapping,
            store,
            models,
            plan,
            scoring_off_said: Default::default(),
            alerts: None,
            explain_top: crate::ingest::wheels::DEFAULT_EXPLAIN_TOP,
            recent: Default::default(),
        })
    }

    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.file.pipeline.name
    }

    /// The site its inverters belong to.
    pub fn site(&self) -> &str {
        &self.file.pipeline.site
    }

    /// Ingests a JSON batch (one reading, an array, or `{"readings": [...]}`).
    pub async fn ingest_json(&self, bytes: &[u8]) -> Result<IngestReport, IngestError> {
        let (readings, parse) = match self.mapping.json(bytes) {
            Ok(x) => x,
            Err(e) => {
                report::count_refused(self.name());
                return Err(e.into());
            }
        };
        let mut report = IngestReport::new(self.name());
        let mut touched = TouchedWindows::default();
        self.store_chunk(&readings, &mut report, &mut touched).await?;
        self.finish_batch(report, parse, touched).await
    }

    /// Stores readings already parsed (several MQTT messages) with their combined reader report.
    pub async fn ingest_parsed(&self, readings: Vec<Reading>, parse: ParseReport) -> Result<IngestReport, IngestError> {
        let mut report = IngestReport::new(self.name());
        let mut touched = TouchedWindows::default();
        self.store_chunk(&readings, &mut report, &mut touched).await?;
        self.finish_batch(report, parse, touched).await
    }

    /// Ingests CSV text held in memory (an HTTP body).
    pub async fn ingest_csv_bytes(&self, bytes: Vec<u8>) -> Result<IngestReport, IngestError> {
        self.ingest_csv_reader(std::io::Cursor::new(bytes)).await
    }

    /// Ingests a CSV file, streamed: a blocking thread parses chunks while this task stores them, one
    /// transaction per chunk. Stopped half-way (a crash), a re-run stores the rest and counts the first part as
    /// duplicates: nothing lost, nothing twice.
    pub async fn ingest_csv_file(&self, path: &Path) -> Result<IngestReport, IngestError> {
        let file = std::fs::File::open(path)
            .map_err(|e| IngestError::Io { path: path.display().to_string(), reason: e.to_string() })?;
        self.ingest_csv_reader(std::io::BufReader::with_capacity(1 << 20, file)).await
    }

    async fn ingest_csv_reader<R: std::io::Read + Send + 'static>(
        &self,
        reader: R,
    ) -> Result<IngestReport, IngestError> {
        // The parser runs up to AHEAD_MAX readings ahead of the store; a file that fits is handed over whole once
        // parsed, and its windows are computed while its chunks are still being stored.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Arc<Vec<Reading>>>(AHEAD_MAX / CHUNK_ROWS);
        let (whole_tx, whole_rx) = tokio::sync::oneshot::channel::<Vec<Arc<Vec<Reading>>>>();
        let mapping = Arc::clone(&self.mapping);
        let parser = tokio::task::spawn_blocking(move || -> Result<ParseReport, FormatError> {
            let mut rows = mapping.csv(reader)?;
            let mut whole = Some(Vec::new());
            let mut parsed = 0;
            loop {
                let chunk = Arc::new(rows.next_chunk(CHUNK_ROWS)?);
                // An empty chunk is the end.
                if chunk.is_empty() {
                    break;
                }
                parsed += chunk.len();
                whole = whole.filter(|_| parsed <= AHEAD_MAX).map(|mut w| {
                    w.push(Arc::clone(&chunk));
                    w
                });
                // A closed channel means the storing side gave up.
                if tx.blocking_send(chunk).is_err() {
                    return Ok(rows.finish());
                }
            }
            if let Some(whole) = whole {
                // Nobody listening is fine: the storing side may have finished or given up.
                let _ = whole_tx.send(whole);
            }
            Ok(rows.finish())
        });
        let mut report = IngestReport::new(self.name());
        let mut touched = TouchedWindows::default();
        let mut failure: Option<IngestError> = None;
        let mut whole_rx = Some(whole_rx);
        let mut ahead = None;
        loop {
            tokio::select! {
                biased;
                whole = async { whole_rx.as_mut().expect("guarded").await }, if whole_rx.is_some() => {
                    whole_rx = None;
                    if let Ok(chunks) = whole {
                        ahead = windows::ahead(self, &self.plan, chunks);
                        // The file's readings are in hand ahead; the storing side need not copy them too.
                        if ahead.is_some() {
                            touched.forget_held();
                        }
                    }
                }
                chunk = rx.recv() => {
                    let Some(readings) = chunk else { break };
                    if let Err(e) = self.store_chunk(&readings, &mut report, &mut touched).await {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        drop(rx);
        let parsed = parser.await.map_err(|e| IngestError::Io { path: "parser".into(), reason: e.to_string() })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let parse = match parsed {
            Ok(p) => p,
            Err(e) => {
                report::count_refused(self.name());
                // Chunks stored before the error stand; their windows are still brought up to date.
                if report.accepted > 0 {
                    self.update_windows(&mut report, touched, None).await;
                }
                return Err(e.into());
            }
        };
        report.absorb(parse);
        self.update_windows(&mut report, touched, ahead).await;
        Ok(self.finish(report))
    }

    async fn store_chunk(
        &self,
        readings: &[Reading],
        report: &mut IngestReport,
        touched: &mut TouchedWindows,
    ) -> Result<(), IngestError> {
        if readings.is_empty() {
            return Ok(());
        }
        let out = self.store.insert_readings(self.site(), readings).await?;
        report.accepted += out.inserted;
        report.duplicate += out.duplicate;
        self.plan.touch(readings, touched);
        touched.hold(readings, out.duplicate == 0);
        if out.inserted > 0 {
            self.tell_alerts_readings(readings).await;
        }
        Ok(())
    }

    async fn finish_batch(
        &self,
        mut report: IngestReport,
        parse: ParseReport,
        touched: TouchedWindows,
    ) -> Result<IngestReport, IngestError> {
        report.absorb(parse);
        self.update_windows(&mut report, touched, None).await;
        Ok(self.finish(report))
    }

    fn finish(&self, report: IngestReport) -> IngestReport {
        report.record_metrics();
        if !report.unknown_columns.is_empty() {
            tracing::warn!(pipeline = self.name(), columns = ?report.unknown_columns, "unknown columns ignored");
        }
        report
    }

    /// The heartbeats of the feed and of each inverter in the batch, and every reading's metrics that have a
    /// range rule, in time order.
    async fn tell_alerts_readings(&self, readings: &[Reading]) {
        let Some(engine) = &self.alerts else { return };
        let mut inverters: Vec<&str> = readings.iter().map(|r| r.asset.as_str()).collect();
        inverters.sort_unstable();
        inverters.dedup();
        let mut sources = vec![crate::alerting::heartbeat_source(self.name(), crate::alerting::FEED)];
        sources.extend(inverters.iter().map(|inverter| crate::alerting::inverter_source(self.name(), inverter)));
        let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
        if let Err(e) = engine.heartbeats(&sources, chrono::Utc::now()).await {
            tracing::error!(pipeline = self.name(), error = %e, "could not record the feed's and inverters' heartbeats");
        }
        let ruled: Vec<prognos_core::Metric> = prognos_core::Metric::ALL
            .iter()
            .copied()
            .filter(|m| engine.config().ranges.iter().any(|r| r.metric == m.as_str()))
            .collect();
        if ruled.is_empty() {
            return;
        }
        let mut order: Vec<&Reading> = readings.iter().collect();
        order.sort_by_key(|r| r.ts);
        let values: Vec<MetricValue<'_>> = order
            .iter()
            .flat_map(|r| {
                ruled.iter().filter_map(move |m| {
                    r.get(*m).map(|value| MetricValue { asset_id: &r.asset, metric: m.as_str(), value, at: r.ts })
                })
            })
            .collect();
        if let Err((failed, e)) = engine.observe_metrics(self.name(), self.site(), &values).await {
            metrics::counter!("prognos_alert_evaluation_errors_total").increment(failed as u64);
            tracing::error!(pipeline = self.name(), failed, error = %e, "could not judge readings");
        }
    }

    /// Recomputes, stores and scores the windows a batch touched. A failure here is logged: the readings are
    /// stored, and the next batch touching the same windows (or a re-run) computes them again.
    async fn update_windows(&self, report: &mut IngestReport, touched: TouchedWindows, ahead: Option<windows::Ahead>) {
        let done = match ahead {
            Some(ahead) => windows::finish_ahead(self, &self.plan, ahead, report.accepted, touched).await,
            None => windows::update(self, &self.plan, touched).await,
        };
        match done {
            Ok(done) => {
                report.windows = done.windows;
                report.scored = done.scored;
                report.scoring = done.scoring.clone();
                if let Some(reason) = done.scoring_off {
                    if !self.scoring_off_said.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        tracing::warn!(pipeline = self.name(), %reason, "scoring is off for this pipeline: readings and features are stored, not scored");
                    }
                }
            }
            Err(e) => {
                tracing::error!(pipeline = self.name(), error = %e, "window features not updated");
                report.notes.push(format!("window features not updated: {e}"));
            }
        }
    }
}

/// Builds every inverter pipeline in `files`, registers it and starts its drop folder and MQTT sources.
pub fn start(
    files: Vec<PipelineFile>,
    state: &crate::state::AppState,
    alerts: Option<Arc<AlertEngine>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let base = std::env::current_dir()?;
    let mut tasks = Vec::new();
    for file in files {
        let name = file.pipeline.name.clone();
        let mut pipeline = InverterPipeline::new(file, &base, state.store.clone(), Arc::clone(&state.models))
            .map_err(|e| anyhow::anyhow!("pipeline {name}: {e}"))?;
        pipeline.alerts = alerts.clone();
        pipeline.explain_top = state.settings.models.explain_top;
        let pipeline = Arc::new(pipeline);
        state
            .inverters
            .write()
            .map_err(|_| anyhow::anyhow!("registry poisoned"))?
            .insert(name.clone(), Arc::clone(&pipeline));
        let src = pipeline.mapping.source().clone();
        if let Some(folder) = src.drop_folder {
            let watcher = folder::DropWatcher::new(Arc::clone(&pipeline), &folder, &state.settings.data_dir);
            tasks.push(tokio::spawn(watcher.run(shutdown.clone())));
        }
        if let Some(m) = src.mqtt {
            tasks.push(tokio::spawn(mqtt::run(Arc::clone(&pipeline), m, shutdown.clone())));
        }
        tracing::info!(pipeline = %name, "inverter pipeline ready");
    }
    Ok(tasks)
}
