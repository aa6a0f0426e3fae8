//! Shadow scoring: a candidate version scores the same rows as the active one on its own worker, and the two
//! answers are compared in the background (agreement, score distributions, the alerts the candidate would have
//! raised). The candidate never answers a caller, never reaches the store and never alerts.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::card::ModelCard;
use crate::error::{Result, ScoringError};
use crate::worker::{FeatureBatch, ModelHandle, Scores};

/// How many "would have alerted" events a report keeps (the newest).
pub const WOULD_ALERT_KEPT: usize = 100;
/// Buckets of the score histograms: `[0, 10)`, `[10, 20)`, ... `[90, 100]`.
pub const HISTOGRAM_BUCKETS: usize = 10;

/// A candidate attached to an active version.
pub struct Shadow {
    candidate: ModelHandle,
    active: Arc<ModelCard>,
    /// For each candidate feature, its column in the active card's feature order (`None`: same order).
    columns: Option<Vec<usize>>,
    stats: Mutex<Stats>,
    /// Rows waiting to be scored by the candidate together (see [`SHADOW_LINGER`]).
    pending: Mutex<Pending>,
}

/// Rows offered to the candidate wait this long for others, then the candidate scores them all in one call:
/// one inference per request would double the scoring work of a busy service; one per linger costs a fraction.
pub const SHADOW_LINGER: std::time::Duration = std::time::Duration::from_millis(20);
/// At most this many rows wait; beyond, offered batches are skipped (counted), never queued without bound.
pub const SHADOW_MAX_PENDING_ROWS: usize = 16_384;

/// One offered batch: its rows (in the candidate's feature order), the active answer and the asset.
struct Offered {
    values: Vec<f32>,
    rows: usize,
    active: Scores,
    subject: Option<String>,
}

#[derive(Default)]
struct Pending {
    batches: Vec<Offered>,
    rows: usize,
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow").field("active", &self.active.id()).field("candidate", &self.candidate).finish()
    }
}

/// The candidate would have raised an alert the active version did not (or agrees it is below the threshold).
#[derive(Debug, Clone, Serialize)]
pub struct WouldAlert {
    /// The asset (wheel id), as the scoring caller named it.
    pub subject: String,
    /// The active version's health score for the same row.
    pub active_health: f64,
    /// The candidate's health score.
    pub candidate_health: f64,
    /// Whether the active version was below its threshold too.
    pub active_alerting: bool,
    /// When (milliseconds since the Unix epoch).
    pub at_unix_ms: u64,
}

/// What `GET /v1/models/{name}/shadow` shows: the comparison so far.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowReport {
    /// The model name.
    pub model: String,
    /// The active version compared against.
    pub active_version: String,
    /// The candidate version.
    pub candidate_version: String,
    /// When shadowing started (milliseconds since the Unix epoch).
    pub since_unix_ms: u64,
    /// Rows scored by both.
    pub rows: u64,
    /// Rows on the same side of the alert threshold (each version with its own card's threshold).
    pub agree_alerting: u64,
    /// Rows with the same most probable class.
    pub agree_label: u64,
    /// `agree_alerting / rows` (1 when no row was compared yet).
    pub agreement: f64,
    /// Mean of |candidate health - active health|.
    pub mean_abs_diff: f64,
    /// Largest |candidate health - active health|.
    pub max_abs_diff: f64,
    /// Mean health score of the active version.
    pub active_mean: f64,
    /// Mean health score of the candidate.
    pub candidate_mean: f64,
    /// Histogram of the active version's health scores, 10 buckets of 10 points.
    pub active_histogram: [u64; HISTOGRAM_BUCKETS],
    /// Histogram of the candidate's health scores.
    pub candidate_histogram: [u64; HISTOGRAM_BUCKETS],
    /// Rows the active version put below its threshold.
    pub active_below: u64,
    /// Rows the candidate put below its threshold.
    pub candidate_below: u64,
    /// Alerts the candidate would have raised: an asset crossing below the candidate's threshold.
    pub would_alert_total: u64,
    /// The newest of them (at most [`WOULD_ALERT_KEPT`]).
    pub would_alert: Vec<WouldAlert>,
    /// Batches the candidate skipped because its queue was full (the active answer is never held up).
    pub skipped_batches: u64,
    /// Batches the candidate failed to score.
    pub failed_batches: u64,
}

#[derive(Default)]
struct Stats {
    since_unix_ms: u64,
    rows: u64,
    agree_alerting: u64,
    agree_label: u64,
    sum_abs_diff: f64,
    max_abs_diff: f64,
    sum_active: f64,
    sum_candidate: f64,
    active_histogram: [u64; HISTOGRAM_BUCKETS],
    candidate_histogram: [u64; HISTOGRAM_BUCKETS],
    active_below: u64,
    candidate_below: u64,
    would_alert_total: u64,
    would_alert: VecDeque<WouldAlert>,
    /// Per subject: whether the candidate had it below its threshold last time.
    below: HashMap<String, bool>,
    skipped: u64,
    failed: u64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn bucket(health: f64) -> usize {
    ((health / 10.0).floor().max(0.0) as usize).min(HISTOGRAM_BUCKETS - 1)
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0)
}

impl Shadow {
    /// Attaches `candidate` beside `active`. The candidate must take only features the active version takes
    /// (in any order) and classes must name the same labels for the label agreement to mean anything.
    pub fn new(active: Arc<ModelCard>, candidate: ModelHandle) -> Result<Self> {
        let cand = Arc::clone(candidate.card());
        if cand.name != active.name {
            return Err(ScoringError::Mismatch {
                model: cand.id(),
                detail: format!("a shadow must be a version of {}", active.name),
            });
        }
        let mut columns = Vec::with_capacity(cand.input.features.len());
        for f in &cand.input.features {
            match active.input.features.iter().position(|a| a == f) {
                Some(i) => columns.push(i),
                None => {
                    return Err(ScoringError::Mismatch {
                        model: cand.id(),
                        detail: format!(
                            "the candidate needs feature {f:?}, which the active version {} is not fed",
                            active.id()
                        ),
                    })
                }
            }
        }
        let identity = columns.len() == active.input.features.len() && columns.iter().enumerate().all(|(i, &c)| i == c);
        let stats = Stats { since_unix_ms: now_ms(), ..Default::default() };
        Ok(Self {
            candidate,
            active,
            columns: (!identity).then_some(columns),
            stats: Mutex::new(stats),
            pending: Mutex::new(Pending::default()),
        })
    }

    /// The candidate's handle.
    pub fn candidate(&self) -> &ModelHandle {
        &self.candidate
    }

    /// The active card this shadow compares against.
    pub fn active(&self) -> &Arc<ModelCard> {
        &self.active
    }

    /// Offers a batch the active version has answered (`active`) to the candidate, without waiting: the rows
    /// join those offered in the last [`SHADOW_LINGER`], which the candidate scores in one call on its own
    /// worker, in the background; each batch's answers are then compared with its active ones. Skipped (and
    /// counted) when [`SHADOW_MAX_PENDING_ROWS`] are already waiting or there is no async runtime.
    pub(crate) fn offer(self: &Arc<Self>, values: &[f32], rows: usize, active: Scores, subject: Option<String>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.lock().skipped += 1;
            return;
        };
        let values = match &self.columns {
            None => values.to_vec(),
            Some(cols) => {
                let width = self.active.input.features.len();
                let mut out = Vec::with_capacity(rows * cols.len());
                for row in values.chunks(width.max(1)) {
                    out.extend(cols.iter().map(|&c| row[c]));
                }
                out
            }
        };
        let first = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if p.rows + rows > SHADOW_MAX_PENDING_ROWS {
                drop(p);
                self.lock().skipped += 1;
                return;
            }
            p.rows += rows;
            p.batches.push(Offered { values, rows, active, subject });
            p.batches.len() == 1
        };
        if first {
            let shadow = Arc::clone(self);
            rt.spawn(async move {
                tokio::time::sleep(SHADOW_LINGER).await;
                shadow.flush().await;
            });
        }
    }

    /// Scores every waiting batch in one candidate call and records each against its active answer.
    async fn flush(&self) {
        let batches = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.rows = 0;
            std::mem::take(&mut p.batches)
        };
        let rows: usize = batches.iter().map(|b| b.rows).sum();
        if rows == 0 {
            return;
        }
        let mut values = Vec::with_capacity(batches.iter().map(|b| b.values.len()).sum());
        for b in &batches {
            values.extend_from_slice(&b.values);
        }
        let answer = match self.candidate.submit_batch(FeatureBatch { values, rows }) {
            Ok(rx) => rx.await.ok(),
            Err(_) => {
                self.lock().skipped += batches.len() as u64;
                return;
            }
        };
        match answer {
            Some(Ok(candidate)) if candidate.rows() == rows => {
                let width = candidate.classes;
                let mut offset = 0;
                for b in &batches {
                    let part = Scores {
                        probabilities: candidate.probabilities[offset * width..(offset + b.rows) * width].to_vec(),
                        classes: candidate.classes,
                        healthy: candidate.healthy,
                    };
                    self.record(&b.active, &part, b.subject.as_deref());
                    offset += b.rows;
                }
            }
            _ => self.lock().failed += batches.len() as u64,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Folds one batch's pair of answers into the statistics.
    pub fn record(&self, active: &Scores, candidate: &Scores, subject: Option<&str>) {
        let cand_card = self.candidate.card();
        let (t_active, t_cand) = (self.active.alert.threshold, cand_card.alert.threshold);
        let mut disagreements = 0u64;
        let mut s = self.lock();
        for row in 0..active.rows().min(candidate.rows()) {
            let (a, c) = (f64::from(active.health(row)), f64::from(candidate.health(row)));
            let (a_below, c_below) = (a < t_active, c < t_cand);
            s.rows += 1;
            if a_below == c_below {
                s.agree_alerting += 1;
            } else {
                disagreements += 1;
            }
            let a_label = &self.active.output.classes[argmax(active.row(row))];
            let c_label = &cand_card.output.classes[argmax(candidate.row(row))];
            if a_label == c_label {
                s.agree_label += 1;
            }
            let diff = (a - c).abs();
            s.sum_abs_diff += diff;
            s.max_abs_diff = s.max_abs_diff.max(diff);
            s.sum_active += a;
            s.sum_candidate += c;
            s.active_histogram[bucket(a)] += 1;
            s.candidate_histogram[bucket(c)] += 1;
            s.active_below += u64::from(a_below);
            s.candidate_below += u64::from(c_below);
            if let Some(subject) = subject {
                let was_below = s.below.insert(subject.to_owned(), c_below).unwrap_or(false);
                if c_below && !was_below {
                    s.would_alert_total += 1;
                    if s.would_alert.len() == WOULD_ALERT_KEPT {
                        s.would_alert.pop_front();
                    }
                    s.would_alert.push_back(WouldAlert {
                        subject: subject.to_owned(),
                        active_health: a,
                        candidate_health: c,
                        active_alerting: a_below,
                        at_unix_ms: now_ms(),
                    });
                }
            }
        }
        drop(s);
        let (name, version) = (cand_card.name.clone(), cand_card.version.clone());
        metrics::counter!("prognos_shadow_rows_total", "model" => name.clone(), "version" => version.clone())
            .increment(active.rows() as u64);
        metrics::counter!("prognos_shadow_disagreements_total", "model" => name, "version" => version)
            .increment(disagreements);
    }

    /// The comparison so far.
    pub fn report(&self) -> ShadowReport {
        let s = self.lock();
        let n = s.rows.max(1) as f64;
        ShadowReport {
            model: self.active.name.clone(),
            active_version: self.active.version.clone(),
            candidate_version: self.candidate.card().version.clone(),
            since_unix_ms: s.since_unix_ms,
            rows: s.rows,
            agree_alerting: s.agree_alerting,
            agree_label: s.agree_label,
            agreement: if s.rows == 0 { 1.0 } else { s.agree_alerting as f64 / n },
            mean_abs_diff: s.sum_abs_diff / n,
            max_abs_diff: s.max_abs_diff,
            active_mean: s.sum_active / n,
            candidate_mean: s.sum_candidate / n,
            active_histogram: s.active_histogram,
            candidate_histogram: s.candidate_histogram,
            active_below: s.active_below,
            candidate_below: s.candidate_below,
            would_alert_total: s.would_alert_total,
            would_alert: s.would_alert.iter().cloned().collect(),
            skipped_batches: s.skipped,
            failed_batches: s.failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_zero_to_one_hundred() {
        assert_eq!(bucket(0.0), 0);
        assert_eq!(bucket(9.99), 0);
        assert_eq!(bucket(10.0), 1);
        assert_eq!(bucket(100.0), 9);
        assert_eq!(bucket(-1.0), 0);
    }
}
