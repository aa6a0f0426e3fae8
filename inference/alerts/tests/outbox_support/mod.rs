//! Shared by the engine and outbox tests: throwaway databases on both backends, a scriptable fake notifier, and
//! a fixed clock.
//!
//! PostgreSQL is reached through `PROGNOS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! as in the store's tests. This crate does not depend on sqlx, so the per-test database is created and dropped
//! with the `psql` client. When the server (or `psql`) is unavailable the test fails under `CI=true` and is
//! skipped with a note otherwise.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::BoxFuture;
use prognos_alerts::notify::{Channel, Message, Notifier, SendError, Sent};
use prognos_store::Store;

/// Generates one test per backend for each scenario `async fn name(db: &TestDb)` (include this module as
/// `support` with `#[macro_use]`).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::support::TestDb::sqlite();
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::support::TestDb::postgres() else { return };
                    super::$name(&db).await;
                }
            )*
        }
    };
}

/// The server the PostgreSQL tests use unless `PROGNOS_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test.
pub struct TestDb {
    /// The URL to hand to [`Store::connect`].
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, database: String },
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn psql(url: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// `url` with its database (path) replaced, query string kept.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (before_query, query) = rest.split_once('?').map_or((rest, None), |(b, q)| (b, Some(q)));
    let authority = before_query.split_once('/').map_or(before_query, |(a, _)| a);
    match query {
        Some(q) => format!("{scheme}://{authority}/{database}?{q}"),
        None => format!("{scheme}://{authority}/{database}"),
    }
}

impl TestDb {
    /// A SQLite file that does not exist yet.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("prognos.db");
        TestDb { url: format!("sqlite://{}", path.display()), cleanup: Cleanup::Sqlite(dir) }
    }

    /// A new, empty PostgreSQL database; `None` (after a note) when unreachable outside CI.
    pub fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var("PROGNOS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        let database = format!("prognos_alerts_test_{:016x}", rand::random::<u64>());
        match psql(&admin_url, &format!("CREATE DATABASE {database}")) {
            Ok(()) => {}
            Err(err) if in_ci() => panic!("PostgreSQL at {admin_url} is unusable under CI=true: {err}"),
            Err(err) => {
                let note = format!("note: skipping a PostgreSQL test, {admin_url} is unusable: {err}\n");
                std::io::stderr().write_all(note.as_bytes()).ok();
                return None;
            }
        }
        let url = with_database(&admin_url, &database);
        Some(TestDb { url, cleanup: Cleanup::Postgres { admin_url, database } })
    }

    /// Whether this is the PostgreSQL flavour.
    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Postgres { .. })
    }

    /// Opens (and migrates) a store on this database.
    pub async fn connect(&self) -> Store {
        Store::connect(&self.url).await.unwrap_or_else(|e| panic!("connect {}: {e}", self.url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, database } = &self.cleanup else { return };
        if let Err(err) = psql(admin_url, &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")) {
            eprintln!("note: could not drop test database {database}: {err}");
        }
    }
}

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
