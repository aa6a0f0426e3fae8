//! Shared by the engine and outbox tests: throwaway databases on both backends, a scriptable fake notifier, and
//! a fixed clock.
//!
//! The throwaway databases (and `on_both_backends!`) are the store's own (`prognos_store::testing`, feature
//! `testing`): PostgreSQL through `PROGNOS_TEST_POSTGRES_URL`, a failure under `CI=true` when unreachable.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::BoxFuture;
use prognos_alerts::notify::{Channel, Message, Notifier, SendError, Sent};

pub use prognos_store::testing::TestDb;

/// 2024-05-01 12:00:00 UTC plus `secs` seconds.
pub fn t(secs: f64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::microseconds((secs * 1e6).round() as i64)
}

/// What the fake does with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Accepts the message.
    Accept,
    /// Fails transiently (a 503), without a delay.
    Transient,
    /// Rate-limited (a 429) with this `Retry-After`.
    RetryAfter(Duration),
    /// Refuses for good (an invalid number).
    Permanent,
    /// Never answers.
    Hang,
}

/// A notifier that records every attempt and behaves as scripted: the queued behaviours first, then the default.
pub struct FakeNotifier {
    channel: Channel,
    script: Mutex<VecDeque<Behaviour>>,
    default: Mutex<Behaviour>,
    attempts: Mutex<Vec<Message>>,
    delivered: Mutex<Vec<Message>>,
    delay: Mutex<Option<(u64, u64)>>,
    started: tokio::sync::Notify,
}

impl FakeNotifier {
    /// A fake for `channel` that accepts everything.
    pub fn new(channel: Channel) -> Arc<FakeNotifier> {
        Arc::new(FakeNotifier {
            channel,
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(Behaviour::Accept),
            attempts: Mutex::new(Vec::new()),
            delivered: Mutex::new(Vec::new()),
            delay: Mutex::new(None),
            started: tokio::sync::Notify::new(),
        })
    }

    /// Queues behaviours for the next attempts.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.script.lock().unwrap().extend(behaviours);
    }

    /// The behaviour once the script is used up.
    pub fn set_default(&self, behaviour: Behaviour) {
        *self.default.lock().unwrap() = behaviour;
    }

    /// Each attempt takes a random time in `[min_ms, max_ms]` before answering.
    pub fn set_delay(&self, min_ms: u64, max_ms: u64) {
        *self.delay.lock().unwrap() = Some((min_ms, max_ms));
    }

    /// Every attempt, in order.
    pub fn attempts(&self) -> Vec<Message> {
        self.attempts.lock().unwrap().clone()
    }

    /// Every accepted message, in order.
    pub fn delivered(&self) -> Vec<Message> {
        self.delivered.lock().unwrap().clone()
    }

    /// Waits until at least `n` attempts have started.
    pub async fn wait_for_attempts(&self, n: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let notified = self.started.notified();
                if self.attempts.lock().unwrap().len() >= n {
                    return;
                }
                notified.await;
            }
        })
        .await
        .expect("attempts did not start within 10 s");
    }

    /// Upcasts for `OutboxWorker::new`.
    pub fn dyn_arc(self: &Arc<Self>) -> Arc<dyn Notifier> {
        self.clone()
    }
}

impl Notifier for FakeNotifier {
    fn channel(&self) -> Channel {
        self.channel
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let behaviour = {
                let next = self.script.lock().unwrap().pop_front();
                next.unwrap_or(*self.default.lock().unwrap())
            };
            let number = {
                let mut attempts = self.attempts.lock().unwrap();
                attempts.push(message.clone());
                attempts.len()
            };
            self.started.notify_waiters();
            let delay = *self.delay.lock().unwrap();
            if let Some((min, max)) = delay {
                let ms = min + rand::random::<u64>() % (max - min + 1);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            match behaviour {
                Behaviour::Accept => {
                    self.delivered.lock().unwrap().push(message.clone());
                    Ok(Sent { provider_id: format!("FAKE{number:05}") })
                }
                Behaviour::Transient => Err(SendError::transient("HTTP 503 Service Unavailable")),
                Behaviour::RetryAfter(d) => {
                    Err(SendError::Transient { reason: "HTTP 429 Too Many Requests".into(), retry_after: Some(d) })
                }
                Behaviour::Permanent => Err(SendError::permanent("21211: invalid 'To' phone number")),
                Behaviour::Hang => std::future::pending().await,
            }
        })
    }

    fn health<'a>(&'a self) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}
