//! The scoring actor: a worker thread owns each ONNX Runtime session and takes `(batch, reply)` jobs from a
//! queue, so async code never blocks on the model. Jobs that queue up while the session is busy are run together
//! as one batch (dynamic batching), which is what keeps throughput up under many small requests.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::sync::oneshot;

use crate::card::ModelCard;
use crate::drift::{DriftOptions, DriftReport, DriftWindow};
use crate::error::{Result, ScoringError};
use crate::explain::{perturbed, split, Driver};
use crate::model::Model;
use crate::shadow::Shadow;

/// Rows of features, row-major, in the card's feature order.
#[derive(Debug, Clone, Default)]
pub struct FeatureBatch {
    /// `rows x width` values.
    pub values: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
}

/// The probabilities for a batch, in the card's class order.
#[derive(Debug, Clone)]
pub struct Scores {
    /// `rows x classes` probabilities.
    pub probabilities: Vec<f32>,
    /// Number of classes.
    pub classes: usize,
    /// The healthy class's column.
    pub healthy: usize,
}

impl Scores {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.probabilities.len() / self.classes.max(1)
    }

    /// One row's probabilities.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.probabilities[i * self.classes..(i + 1) * self.classes]
    }

    /// Health score of row `i`: P(healthy) x 100.
    pub fn health(&self, i: usize) -> f32 {
        self.row(i)[self.healthy] * 100.0
    }
}

/// How the workers of one model run.
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    /// Worker threads (each with its own session).
    pub workers: usize,
    /// Most rows run together in one batch.
    pub max_batch_rows: usize,
    /// Jobs waiting beyond this are refused with [`ScoringError::Overloaded`].
    pub queue_capacity: usize,
    /// How input drift is measured against the card's training distribution.
    pub drift: DriftOptions,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self { workers: 1, max_batch_rows: 1024, queue_capacity: 4096, drift: DriftOptions::default() }
    }
}

struct Job {
    batch: FeatureBatch,
    reply: oneshot::Sender<Result<Scores>>,
    queued: Instant,
}

/// A cheap, cloneable handle on a served model. The workers stop when the last handle is dropped, after
/// finishing the jobs already queued (so in-flight requests complete on the model they started on).
#[derive(Clone)]
pub struct ModelHandle {
    card: Arc<ModelCard>,
    tx: Sender<Job>,
    /// A candidate scoring the same rows beside this (active) version, set by [`crate::ModelSet::resolve`].
    shadow: Option<Arc<Shadow>>,
    /// The rolling window of scored inputs (absent when the card has no training distribution).
    drift: Option<Arc<DriftWindow>>,
    /// The training median of each feature, in card order (absent when the card has no training distribution).
    medians: Option<Arc<Vec<f32>>>,
}

impl std::fmt::Debug for ModelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHandle").field("model", &self.card.id()).finish()
    }
}

impl ModelHandle {
    /// Starts the workers. `models` holds one loaded session per worker.
    pub fn spawn(models: Vec<Model>, opts: WorkerOptions) -> Result<Self> {
        let card = models
            .first()
            .map(|m| Arc::clone(m.card()))
            .ok_or_else(|| ScoringError::Input("no session to serve".into()))?;
        let (tx, rx) = crossbeam_channel::bounded::<Job>(opts.queue_capacity.max(1));
        for (i, model) in models.into_iter().enumerate() {
            let rx = rx.clone();
            let max_rows = opts.max_batch_rows.max(1);
            std::thread::Builder::new()
                .name(format!("score-{}-{i}", card.name))
                .spawn(move || work(model, rx, max_rows))
                .map_err(|e| ScoringError::Input(format!("cannot start a scoring thread: {e}")))?;
        }
        let drift = DriftWindow::for_card(&card, opts.drift).map(Arc::new);
        if drift.is_none() {
            tracing::info!(model = %card.id(), "the card has no training distribution: input drift is unknown");
        }
        let medians = card
            .training_distribution
            .as_ref()
            .and_then(|d| d.medians(&card.input.features))
            .map(|m| Arc::new(m.into_iter().map(|v| v as f32).collect()));
        Ok(Self { card, tx, shadow: None, drift, medians })
    }

    /// The same handle with `shadow` scoring beside it.
    pub(crate) fn with_shadow(&self, shadow: Option<Arc<Shadow>>) -> Self {
        Self {
            card: Arc::clone(&self.card),
            tx: self.tx.clone(),
            shadow,
            drift: self.drift.clone(),
            medians: self.medians.clone(),
        }
    }

    /// The version this handle scores with.
    pub fn version(&self) -> &str {
        &self.card.version
    }

    /// Whether a shadow candidate scores beside this handle.
    pub fn has_shadow(&self) -> bool {
        self.shadow.is_some()
    }

    /// The input drift of this version so far; `None` when its card has no training distribution.
    pub fn drift_report(&self) -> Option<DriftReport> {
        self.drift.as_ref().map(|d| d.report())
    }

    /// The card of the served model.
    pub fn card(&self) -> &Arc<ModelCard> {
        &self.card
    }

    fn submit(&self, batch: FeatureBatch) -> Result<oneshot::Receiver<Result<Scores>>> {
        let width = self.card.input.features.len();
        if batch.values.len() != batch.rows * width {
            return Err(ScoringError::Input(format!(
                "batch has {} values, expected {} rows x {width} features",
                batch.values.len(),
                batch.rows
            )));
        }
        let (reply, rx) = oneshot::channel();
        let job = Job { batch, reply, queued: Instant::now() };
        match self.tx.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(ScoringError::Overloaded(self.card.id())),
            Err(TrySendError::Disconnected(_)) => Err(ScoringError::WorkerGone(self.card.id())),
        }
    }

    /// Scores a batch without blocking the async runtime.
    pub async fn score(&self, batch: FeatureBatch) -> Result<Scores> {
        self.score_for(batch, None).await
    }

    /// Scores a batch for `subject` (the asset the rows describe, when known). When a shadow candidate is
    /// attached, it is offered the same rows once this answer is in; it scores them (gathered with others) on its
    /// own worker and the results are compared in the background, never delaying or changing this answer. Rows scored successfully join the drift window.
    pub async fn score_for(&self, batch: FeatureBatch, subject: Option<&str>) -> Result<Scores> {
        let shadow_rows = self.shadow.as_ref().map(|_| (batch.values.clone(), batch.rows));
        let binned = self.drift.as_ref().map(|d| d.bin_rows(&batch.values, batch.rows));
        let rx = self.submit(batch)?;
        let scores = rx.await.map_err(|_| ScoringError::WorkerGone(self.card.id()))??;
        if let (Some(drift), Some(binned)) = (&self.drift, binned) {
            drift.push(binned);
        }
        if let (Some(shadow), Some((values, rows))) = (&self.shadow, shadow_rows) {
            shadow.offer(&values, rows, scores.clone(), subject.map(str::to_owned));
        }
        Ok(scores)
    }

    /// Whether this version can explain its scores (its card has training medians).
    pub fn can_explain(&self) -> bool {
        self.medians.is_some()
    }

    /// Like [`ModelHandle::score_for`], and names for each row the (at most) `top` features that pulled its score
    /// down most (see [`crate::explain`]): each row is scored together with one copy per feature set to its
    /// training median, in the same batch. Rows get no drivers when the card has no training distribution or
    /// `top` is 0. Only the rows themselves reach the shadow candidate and the drift window.
    pub async fn score_explained(
        &self,
        batch: FeatureBatch,
        subject: Option<&str>,
        top: usize,
    ) -> Result<(Scores, Vec<Vec<Driver>>)> {
        let Some(medians) = self.medians.clone().filter(|_| top > 0) else {
            let rows = batch.rows;
            return Ok((self.score_for(batch, subject).await?, vec![Vec::new(); rows]));
        };
        let width = medians.len();
        if batch.values.len() != batch.rows * width {
            return Err(ScoringError::Input(format!(
                "batch has {} values, expected {} rows x {width} features",
                batch.values.len(),
                batch.rows
            )));
        }
        let binned = self.drift.as_ref().map(|d| d.bin_rows(&batch.values, batch.rows));
        let expanded =
            FeatureBatch { values: perturbed(&batch.values, batch.rows, &medians), rows: batch.rows * (width + 1) };
        let rx = self.submit(expanded)?;
        let all = rx.await.map_err(|_| ScoringError::WorkerGone(self.card.id()))??;
        let (scores, drivers) = split(&all, &batch.values, &medians, &self.card.input.features, top);
        if let (Some(drift), Some(binned)) = (&self.drift, binned) {
            drift.push(binned);
        }
        if let Some(shadow) = &self.shadow {
            shadow.offer(&batch.values, batch.rows, scores.clone(), subject.map(str::to_owned));
        }
        Ok((scores, drivers))
    }

    /// Hands a batch to the workers; the receiver gets the scores (used by the shadow tap).
    pub(crate) fn submit_batch(&self, batch: FeatureBatch) -> Result<oneshot::Receiver<Result<Scores>>> {
        self.submit(batch)
    }

    /// Scores a batch from synchronous code (the CLI, benchmarks).
    pub fn score_blocking(&self, batch: FeatureBatch) -> Result<Scores> {
        let rx = self.submit(batch)?;
        rx.blocking_recv().map_err(|_| ScoringError::WorkerGone(self.card.id()))?
    }
}

fn work(mut model: Model, rx: Receiver<Job>, max_rows: usize) {
    let card = Arc::clone(model.card());
    let name = card.name.clone();
    let version = card.version.clone();
    let classes = card.output.classes.len();
    let healthy = card.healthy_index();
    let width = card.input.features.len();
    let inference =
        metrics::histogram!("prognos_model_inference_seconds", "model" => name.clone(), "version" => version.clone());
    let queue_wait =
        metrics::histogram!("prognos_model_queue_seconds", "model" => name.clone(), "version" => version.clone());
    let batch_rows = metrics::histogram!("prognos_model_batch_rows", "model" => name, "version" => version);
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut rows = jobs[0].batch.rows;
        while rows < max_rows {
            match rx.try_recv() {
                Ok(job) => {
                    rows += job.batch.rows;
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        for job in &jobs {
            queue_wait.record(job.queued.elapsed().as_secs_f64());
        }
        batch_rows.record(rows as f64);
        let started = Instant::now();
        let result = if jobs.len() == 1 {
            model.run(&jobs[0].batch.values, rows)
        } else {
            let mut values = Vec::with_capacity(rows * width);
            for job in &jobs {
                values.extend_from_slice(&job.batch.values);
            }
            model.run(&values, rows)
        };
        inference.record(started.elapsed().as_secs_f64());
        match result {
            Ok(probabilities) if jobs.len() == 1 => {
                let job = jobs.pop().expect("one job");
                let _ = job.reply.send(Ok(Scores { probabilities, classes, healthy }));
            }
            Ok(probabilities) => {
                let mut offset = 0;
                for job in jobs {
                    let n = job.batch.rows * classes;
                    let scores = Scores { probabilities: probabilities[offset..offset + n].to_vec(), classes, healthy };
                    offset += n;
                    let _ = job.reply.send(Ok(scores));
                }
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(model = %card.id(), error = %message, "inference failed");
                for job in jobs {
                    let _ = job.reply.send(Err(ScoringError::Inference { model: card.id(), reason: message.clone() }));
                }
            }
        }
    }
    tracing::debug!(model = %card.id(), "scoring worker stopped");
}
