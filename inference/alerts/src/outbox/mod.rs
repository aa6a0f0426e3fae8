//! The durable outbox and the worker that sends it.
//!
//! Every notification is a row in the store before anything is sent (the engine writes it in the transaction of
//! the alert change that caused it). [`OutboxWorker`] claims due rows, hands each to the notifier of its
//! channel and records the result:
//!
//! - accepted: the row becomes `sent` with the provider's message id; a sent row is never claimed again, so a
//!   restart never re-sends what was delivered;
//! - transient failure (timeout, 5xx, 429): the row goes back to `pending`, due after exactly the provider's
//!   `Retry-After` when it gave one, otherwise after an exponential backoff with full jitter (capped);
//! - permanent failure (an invalid number): the row becomes `failed` with the reason, counted in
//!   `prognos_notifications_total{outcome="failed"}` and the `prognos_notifications_failed` gauge.
//!
//! Claims carry a lease (`lease_s`). Several workers, in one process or several sharing a PostgreSQL database,
//! claim disjoint rows (`FOR UPDATE SKIP LOCKED`); a worker killed mid-send leaves its rows claimed until the
//! lease ends, and then another worker sends them again.
//!
//! **Delivery is at least once to the provider, exactly once in the store.** The window for a duplicate is an
//! attempt whose outcome is unknown: a crash (or a cut at the shutdown deadline, or a store outage) after the
//! provider accepted a message and before the store recorded it, or a reply lost after acceptance (a timeout, a
//! reset connection). Two defences close most of it:
//!
//! - every attempt of a notification carries the same `idempotency_key` (the email Message-ID, the webhook's
//!   idempotency header), so receivers that honour it collapse duplicates;
//! - any attempt after the first asks the notifier first ([`Notifier::find_delivered`]); Twilio's API has no
//!   idempotency key, so the SMS notifier lists the recipient's recent messages and, when one has the same body,
//!   records its SID instead of sending again. A lookup that fails is a transient failure: nothing is sent blind.
//!
//! What stays open: a provider that accepted a message but does not list it yet (Twilio lists a message as soon
//! as it is created, so this is the time of one request), and email relays that ignore Message-ID.
//!
//! A worker only claims rows of the channels it has a notifier for: rows of a channel nobody serves stay pending
//! (visible in `prognos_notifications_pending` and `prognos_notifications_oldest_unsent_seconds`) rather than
//! being failed by a replica that lacks the notifier.

mod cutoff;
mod events;
mod options;
mod report;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use prognos_store::{Claim, NotificationRecord, Store, StoreError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use cutoff::{Cutoff, ShutdownDeadline};
pub use options::OutboxOptions;
use report::{Counters, Outcome};
pub use report::{DrainReport, OutboxStats};

use crate::notify::{Channel, Message, Notifier, SendError};

/// Everything the outbox worker can fail with.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The options would lose or double notifications, or spin.
    #[error("invalid outbox options: {0}")]
    Options(String),
    /// Two notifiers were given for one channel.
    #[error("two notifiers for channel {0}")]
    DuplicateNotifier(Channel),
}

/// Wakes an [`OutboxWorker`] so that it looks for due notifications now rather than at its next poll. Cheap to
/// clone; waking a worker that is busy makes it look again as soon as it is done.
#[derive(Debug, Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    /// Asks the worker to look for due notifications.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Sends the outbox; see the module docs.
pub struct OutboxWorker {
    store: Store,
    notifiers: Vec<Arc<dyn Notifier>>,
    options: OutboxOptions,
    waker: OutboxWaker,
    counters: Counters,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let channels: Vec<Channel> = self.notifiers.iter().map(|n| n.channel()).collect();
        f.debug_struct("OutboxWorker")
            .field("worker_id", &self.options.worker_id)
            .field("channels", &channels)
            .finish_non_exhaustive()
    }
}

impl OutboxWorker {
    /// A worker sending through `notifiers` (at most one per channel), refused when `options` are unsafe.
    pub fn new(
        store: Store,
        notifiers: Vec<Arc<dyn Notifier>>,
        options: OutboxOptions,
    ) -> Result<OutboxWorker, OutboxError> {
        options.validate()?;
        let mut seen = HashSet::new();
        for n in &notifiers {
            if !seen.insert(n.channel()) {
                return Err(OutboxError::DuplicateNotifier(n.channel()));
            }
        }
        Ok(OutboxWorker { store, notifiers, options, waker: OutboxWaker::default(), counters: Counters::default() })
    }

    /// A handle that wakes this worker (give it to the engine: [`crate::engine::AlertEngine::with_outbox_waker`]).
    pub fn waker(&self) -> OutboxWaker {
        self.waker.clone()
    }

    /// The options in force.
    pub fn options(&self) -> &OutboxOptions {
        &self.options
    }

    /// Totals since this worker was built.
    pub fn stats(&self) -> OutboxStats {
        OutboxStats {
            sent: self.counters.sent.load(Ordering::Relaxed),
            retried: self.counters.retried.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            unrecorded: self.counters.unrecorded.load(Ordering::Relaxed),
        }
    }

    /// One pass at the current time: claims and sends every due notification (a row failing transiently is
    /// attempted once per pass), then updates the gauges.
    pub async fn drain_once(&self) -> Result<DrainReport, OutboxError> {
        self.drain(&Utc::now, Cutoff::NONE).await
    }

    /// Like [`OutboxWorker::drain_once`] with the worker's clock fixed at `now` (claims, leases and retry times
    /// are computed from it): for tests and replays.
    pub async fn drain_at(&self, now: DateTime<Utc>) -> Result<DrainReport, OutboxError> {
        self.drain(&move || now, Cutoff::NONE).await
    }

    /// Sends until `shutdown` is cancelled: a pass whenever woken, or every `poll_interval_ms`. A store error is
    /// logged and retried at the next poll; the worker never gives up. On shutdown it stops claiming new batches,
    /// lets in-flight sends finish, then makes a last pass over what is due, all within `shutdown_grace_ms` of
    /// the cancellation; a send cut at that deadline is rescheduled (it may have been delivered: see the module
    /// docs), and a claimed row not yet attempted is released.
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = Duration::from_millis(self.options.poll_interval_ms);
        let grace = Duration::from_millis(self.options.shutdown_grace_ms);
        let stop = ShutdownDeadline::new(shutdown.clone(), grace);
        tracing::info!(worker = %self.options.worker_id, "outbox worker started");
        while !shutdown.is_cancelled() {
            let cutoff = Cutoff { deadline: None, shutdown: Some(&stop) };
            if let Err(error) = self.drain_until(&Utc::now, cutoff, Some(&shutdown)).await {
                tracing::error!(%error, "outbox pass failed; retrying at the next poll");
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(poll) => {}
                () = self.waker.0.notified() => {}
            }
        }
        let cutoff = Cutoff { deadline: stop.get(), shutdown: None };
        match self.drain(&Utc::now, cutoff).await {
            Ok(report) => tracing::info!(worker = %self.options.worker_id, sent = report.sent,
                released = report.released, "outbox worker stopped"),
            Err(error) => tracing::error!(%error, "outbox final pass failed; pending notifications stay queued"),
        }
    }

    async fn drain(
        &self,
        clock: &(dyn Fn() -> DateTime<Utc> + Sync),
        cutoff: Cutoff<'_>,
    ) -> Result<DrainReport, OutboxError> {
        self.drain_until(clock, cutoff, None).await
    }

    /// Claims and sends batches until nothing is due, `stop` is cancelled or the cutoff passed.
    async fn drain_until(
        &self,
        clock: &(dyn Fn() -> DateTime<Utc> + Sync),
        cutoff: Cutoff<'_>,
        stop: Option<&CancellationToken>,
    ) -> Result<DrainReport, OutboxError> {
        let channels: Vec<String> = self.notifiers.iter().map(|n| n.channel().as_str().to_string()).collect();
        let mut report = DrainReport::default();
        let mut handled = HashSet::new();
        while !stop.is_some_and(CancellationToken::is_cancelled) && !cutoff.passed() {
            let claim = Claim {
                worker: self.options.worker_id.clone(),
                now: clock(),
                lease: self.options.lease(),
                limit: i64::from(self.options.batch_size),
                channels: channels.clone(),
            };
            let batch = self.store.claim_notifications(&claim).await?;
            if batch.is_empty() {
                break;
            }
            report.claimed += batch.len();
            // A row this pass already tried is due again (a short retry delay): leave it to the next pass.
            let (again, fresh): (Vec<_>, Vec<_>) = batch.into_iter().partition(|n| handled.contains(&n.id));
            handled.extend(fresh.iter().map(|n| n.id));
            let outcomes: Vec<Outcome> = stream::iter(fresh)
                .map(|n| self.process(n, clock, cutoff))
                .buffer_unordered(self.options.concurrency)
                .collect()
                .await;
            outcomes.into_iter().for_each(|o| report.add(o));
            if !again.is_empty() {
                let ids: Vec<i64> = again.iter().map(|n| n.id).collect();
                report.released += self.store.release_notifications(&ids, &self.options.worker_id).await? as usize;
                break;
            }
        }
        match self.store.notification_counts().await {
            Ok(counts) => events::counts(&counts, clock()),
            Err(error) => tracing::warn!(%error, "could not read the outbox counts for the gauges"),
        }
        Ok(report)
    }

    /// One attempt of one claimed notification, and its record.
    async fn process(
        &self,
        n: NotificationRecord,
        clock: &(dyn Fn() -> DateTime<Utc> + Sync),
        cutoff: Cutoff<'_>,
    ) -> Outcome {
        let worker = &self.options.worker_id;
        let notifier = self.notifiers.iter().find(|x| x.channel().as_str() == n.channel);
        let (Some(notifier), Ok(channel)) = (notifier, n.channel.parse::<Channel>()) else {
            // Cannot happen: claims only take channels this worker serves, and the column is checked.
            return self.record_failure(&n, "no notifier for this channel", clock()).await;
        };
        if cutoff.passed() {
            return match self.store.release_notifications(&[n.id], worker).await {
                Ok(_) => Outcome::Released,
                Err(error) => self.unrecorded(&n, &error),
            };
        }
        let message = Message {
            channel,
            to: n.recipient.clone(),
            subject: n.subject.clone(),
            text: n.text.clone(),
            html: n.html.clone(),
            payload: n.payload.clone(),
            idempotency_key: n.idempotency_key.clone(),
        };
        let timeout = self.options.send_timeout();
        // The claim counts as an attempt: more than one means an earlier attempt happened whose outcome may be
        // unknown (a crash after the provider accepted, a timeout, a lost reply). Ask the provider first.
        let attempt = async {
            if n.attempts > 1 {
                match notifier.find_delivered(&message, n.created_at).await {
                    Ok(Some(sent)) => {
                        events::found_delivered(&n, &sent.provider_id);
                        return Ok(sent);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(e),
                }
            }
            notifier.send(&message).await
        };
        let result = tokio::select! {
            result = tokio::time::timeout(timeout, attempt) => match result {
                Ok(result) => result,
                Err(_) => Err(SendError::transient(format!("no answer within {} ms", timeout.as_millis()))),
            },
            () = cutoff.reached() => Err(SendError::Transient {
                reason: "cut short by shutdown (may have been delivered)".into(),
                retry_after: Some(Duration::ZERO),
            }),
        };
        let now = clock();
        match result {
            Ok(sent) => self.record_sent(&n, &sent.provider_id, now).await,
            Err(SendError::Permanent { reason }) => self.record_failure(&n, &reason, now).await,
            Err(SendError::Transient { reason, retry_after }) => {
                let max = i64::from(self.options.max_attempts);
                if max > 0 && n.attempts >= max {
                    let reason = format!("gave up after {} attempts; last: {reason}", n.attempts);
                    return self.record_failure(&n, &reason, now).await;
                }
                let delay = self.options.retry_delay(n.attempts, retry_after, &mut rand::rng());
                let next = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                match self.store.retry_notification(n.id, worker, next, &reason).await {
                    Ok(true) => {
                        self.counters.retried.fetch_add(1, Ordering::Relaxed);
                        events::retry(&n, &reason, delay);
                        Outcome::Retried
                    }
                    Ok(false) => self.lost_claim(&n),
                    Err(error) => self.unrecorded(&n, &error),
                }
            }
        }
    }

    /// Records a delivery, trying the store a few times: a delivery not recorded would be sent again.
    async fn record_sent(&self, n: &NotificationRecord, provider_id: &str, now: DateTime<Utc>) -> Outcome {
        let mut wait = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            match self.store.mark_notification_sent(n.id, provider_id, now).await {
                Ok(_) => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    let delivery = (now - n.created_at).to_std().unwrap_or_default();
                    events::sent(n, provider_id, delivery);
                    return Outcome::Sent;
                }
                Err(error) if tries >= 4 => return self.unrecorded(n, &error),
                Err(error) => {
                    tracing::warn!(notification_id = n.id, %error, "recording a delivery failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    tries += 1;
                }
            }
        }
    }

    async fn record_failure(&self, n: &NotificationRecord, reason: &str, now: DateTime<Utc>) -> Outcome {
        match self.store.fail_notification(n.id, &self.options.worker_id, reason, now).await {
            Ok(true) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                events::failed(n, reason);
                Outcome::Failed
            }
            Ok(false) => self.lost_claim(n),
            Err(error) => self.unrecorded(n, &error),
        }
    }

    fn lost_claim(&self, n: &NotificationRecord) -> Outcome {
        self.unrecorded(n, &"the claim's lease ran out and another worker took the row")
    }

    fn unrecorded(&self, n: &NotificationRecord, error: &dyn std::fmt::Display) -> Outcome {
        self.counters.unrecorded.fetch_add(1, Ordering::Relaxed);
        events::unrecorded(n, error);
        Outcome::Unrecorded
    }
}
