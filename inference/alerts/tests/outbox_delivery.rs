//! The outbox worker against a real store (both backends) and a scriptable fake notifier: retries with backoff,
//! Retry-After, permanent failures, timeouts, restarts, a worker killed mid-send, shutdown, and two workers
//! sharing one database.

#[path = "outbox_support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use prognos_alerts::engine::{AlertEngine, Contact, EngineConfig, Route};
use prognos_alerts::notify::{sms_segments, Channel};
use prognos_alerts::outbox::{OutboxOptions, OutboxWorker};
use prognos_store::{NewNotification, NotificationFilter, NotificationStatus, Store};
use support::{t, Behaviour, FakeNotifier, TestDb};
use tokio_util::sync::CancellationToken;

prognos_store::on_both_backends!(
    transient_failures_then_success_deliver_exactly_once,
    retry_after_is_honoured_exactly,
    permanent_failure_is_marked_failed_and_counted,
    give_up_after_max_attempts_when_configured,
    restart_resumes_pending_and_never_resends_sent,
    worker_killed_mid_send_is_resent_after_the_lease,
    unanswered_send_times_out_and_is_retried,
    channels_without_a_notifier_stay_pending,
    run_sends_when_woken_and_stops_on_shutdown,
    shutdown_cuts_a_hanging_send_and_reschedules_it,
    two_workers_on_one_database_send_every_row_once,
    engine_to_provider_twelve_wheels_one_sms,
);

fn options(worker: &str) -> OutboxOptions {
    OutboxOptions {
        worker_id: worker.into(),
        poll_interval_ms: 50,
        lease_s: 60,
        send_timeout_ms: 2000,
        initial_backoff_ms: 1000,
        max_backoff_ms: 8000,
        shutdown_grace_ms: 500,
        ..OutboxOptions::default()
    }
}

fn worker(store: &Store, fake: &Arc<FakeNotifier>, name: &str) -> OutboxWorker {
    OutboxWorker::new(store.clone(), vec![fake.dyn_arc()], options(name)).unwrap()
}

async fn enqueue(store: &Store, key: &str, channel: &str, secs: f64) -> i64 {
    let n = NewNotification {
        alert_ids: vec![1],
        route: "oncall".into(),
        channel: channel.into(),
        recipient: "+4915100000001".into(),
        subject: format!("subject {key}"),
        text: format!("text {key}"),
        html: None,
        payload: serde_json::json!({"key": key}),
        idempotency_key: key.into(),
        created_at: t(secs),
    };
    store.enqueue_notification(&n).await.unwrap().expect("new key")
}

async fn status(store: &Store, id: i64) -> prognos_store::NotificationRecord {
    store.notification(id).await.unwrap().expect("row")
}

async fn transient_failures_then_success_deliver_exactly_once(db: &TestDb) {
    let store = db.connect().await;
    let fake = FakeNotifier::new(Channel::Sms);
    fake.script([Behaviour::Transient, Behaviour::Transient, Behaviour::Transient, Behaviour::Transient]);
    let w = worker(&store, &fake, "w1");
    let id = enqueue(&store, "k1", "sms", 0.0).await;

    let mut now = t(0.0);
    for attempt in 1..=4 {
        let report = w.drain_at(now).await.unwrap();
        assert_eq!((report.claimed, report.retried), (1, 1), "attempt {attempt}");
        let row = status(&store, id).await;
        assert_eq!((row.status, row.attempts), (NotificationStatus::Pending, attempt));
        assert_eq!(row.last_error.as_deref(), Some("HTTP 503 Service Unavailable"));
        let delay = (row.next_attempt_at - now).num_milliseconds();
        // Full jitter under a doubling cap (1 s, 2 s, 4 s, 8 s), never below the 100 ms floor.
        let cap = (1000i64 << (attempt - 1)).min(8000);
        assert!((100..=cap).contains(&delay), "attempt {attempt}: {delay} ms, cap {cap}");
        // Not due a moment before.
        assert_eq!(w.drain_at(row.next_attempt_at - chrono::Duration::milliseconds(1)).await.unwrap().claimed, 0);
        now = row.next_attempt_at;
    }
    let report = w.drain_at(now).await.unwrap();
    assert_eq!(report.sent, 1);
    let row = status(&store, id).await;
    assert_eq!(
        (row.status, row.attempts, row.provider_id.as_deref()),
        (NotificationStatus::Sent, 5, Some("FAKE00005"))
    );
    assert!(row.sent_at.is_some());
    assert_eq!(fake.attempts().len(), 5);
    assert_eq!(fake.delivered().len(), 1);
    assert!(fake.attempts().iter().all(|m| m.idempotency_key == "k1"), "every attempt carries the same key");
    // Nothing more, ever.
    assert_eq!(w.drain_at(now + chrono::Duration::days(30)).await.unwrap().claimed, 0);
    assert_eq!(fake.delivered().len(), 1);
    assert_eq!(w.stats().sent, 1);
    assert_eq!(w.stats().retried, 4);
    store.close().await;
}

async fn retry_after_is_honoured_exactly(db: &TestDb) {
    let store = db.connect().await;
    let fake = FakeNotifier::new(Channel::Sms);
    fake.script([Behaviour::RetryAfter(Duration::from_secs(30))]);
    let w = worker(&store, &fake, "w1");
    let id = enqueue(&store, "k1", "sms", 0.0).await;
    assert_eq!(w.drain_at(t(5.0)).await.unwrap().retried, 1);
    let row = status(&store, id).await;
    assert_eq!(row.next_attempt_at, t(35.0), "exactly Retry-After after the attempt");
    assert_eq!(row.last_error.as_deref(), Some("HTTP 429 Too Many Requests"));
    assert_eq!(w.drain_at(t(34.999)).await.unwrap().claimed, 0);
    assert_eq!(w.drain_at(t(35.0)).await.unwrap().sent, 1);
    assert_eq!(fake.attempts().len(), 2);
    store.close().await;
}

async fn permanent_failure_is_marked_failed_and_counted(db: &TestDb) {
    let store = db.connect().await;
    let fake = FakeNotifier::new(Channel::Sms);
    fake.script([Behaviour::Permanent]);
    let w = worker(&store, &fake, "w1");
    let bad = enqueue(&store, "bad-number", "sms", 0.0).await;
    let good = enqueue(&store, "good-number", "sms", 0.1).await;
    let report = w.drain_at(t(1.0)).await.unwrap();
    assert_eq!((report.failed, report.sent), (1, 1));
    let row = status(&store, bad).await;
    assert_eq!(row.status, NotificationStatus::Failed);
    assert_eq!(row.last_error.as_deref(), Some("21211: invalid 'To' phone number"));
    assert_eq!(row.failed_at, Some(t(1.0)));
    assert_eq!(status(&store, good).await.status, NotificationStatus::Sent);
    assert_eq!(w.stats().failed, 1);
    let counts = store.notification_counts().await.unwrap();
    assert_eq!((counts.failed, counts.sent, counts.pending), (1, 1, 0));
    // Never attempted again.
    assert_eq!(w.drain_at(t(1_000_000.0)).await.unwrap().claimed, 0);
    assert_eq!(fake.attempts().len(), 2);
    let failed = store
        .notifications(&NotificationFilter { status: Some(NotificationStatus::Failed), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    store.close().await;
}

async fn give_up_after_max_attempts_when_configured(db: &TestDb) {
    let store = db.connect().await;
    let fake = FakeNotifier::new(Channel::Sms);
    fake.set_default(Behaviour::Transient);
    let w = OutboxWorker::new(store.clone(), vec![fake.dyn_arc()], OutboxOptions { max_attempts: 3, ..options("w") })
        .unwrap();
    let id = enqueue(&store, "k", "sms", 0.0).await;
    for i in 0..5 {
        w.drain_at(t(i as f64 * 100.0)).await.unwrap();
    }
    let row = status(&store, id).await;
    assert_eq!((row.status, row.attempts), (NotificationStatus::Failed, 3));
    assert!(row.last_error.unwrap().starts_with("gave up after 3 attempts"));
    store.close().await;
}

async fn restart_resumes_pending_and_never_resends_sent(db: &TestDb) {
    let store = db.connect().await;
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for i in 0..6 {
            ids.push(enqueue(&store, &format!("k{i}"), "sms", i as f64).await);
        }
        ids
    };
    let first = FakeNotifier::new(Channel::Sms);
    first.script([Behaviour::Accept, Behaviour::Accept, Behaviour::Accept]);
    first.set_default(Behaviour::RetryAfter(Duration::from_secs(60)));
    {
        let w =
            OutboxWorker::new(store.clone(), vec![first.dyn_arc()], OutboxOptions { concurrency: 1, ..options("a") })
                .unwrap();
        let report = w.drain_at(t(10.0)).await.unwrap();
        assert_eq!((report.sent, report.retried), (3, 3));
    }
    store.close().await;

    // A new process: new store handle, new worker, new provider connection.
    let store = db.connect().await;
    let second = FakeNotifier::new(Channel::Sms);
    let w = worker(&store, &second, "b");
    assert_eq!(w.drain_at(t(69.0)).await.unwrap().claimed, 0, "the Retry-After survives the restart");
    assert_eq!(w.drain_at(t(70.0)).await.unwrap().sent, 3);
    let first_keys: HashSet<String> = first.delivered().into_iter().map(|m| m.idempotency_key).collect();
    let second_keys: HashSet<String> = second.delivered().into_iter().map(|m| m.idempotency_key).collect();
    assert_eq!(first_keys.len() + second_keys.len(), 6);
    assert!(first_keys.is_disjoint(&second_keys), "sent rows are never sent again");
    for id in ids {
        assert_eq!(status(&store, id).await.status, NotificationStatus::Sent);
    }
    assert_eq!(w.drain_at(t(1_000_000.0)).await.unwrap().claimed, 0);
    store.close().await;
}

async fn worker_killed_mid_send_is_resent_after_the_lease(db: &TestDb) {
    let store = db.connect().await;
    let id = enqueue(&store, "k1", "sms", 0.0).await;
    let hanging = FakeNotifier::new(Channel::Sms);
    hanging.set_default(Behaviour::Hang);
    let doomed = Arc::new(worker(&store, &hanging, "doomed"));
    let task = {
        let doomed = doomed.clone();
        tokio::spawn(async move { doomed.drain_at(t(1.0)).await })
    };
    hanging.wait_for_attempts(1).await;
    task.abort(); // the process dies mid-send
    let _ = task.await;
    let row = status(&store, id).await;
    assert_eq!((row.status, row.claimed_by.as_deref()), (NotificationStatus::Sending, Some("doomed")));
    assert_eq!(row.claimed_until, Some(t(61.0)));

    let fake = FakeNotifier::new(Channel::Sms);
    let survivor = worker(&store, &fake, "survivor");
    assert_eq!(survivor.drain_at(t(60.9)).await.unwrap().claimed, 0, "the lease still holds");
    assert_eq!(survivor.drain_at(t(61.0)).await.unwrap().sent, 1);
    let row = status(&store, id).await;
    assert_eq!((row.status, row.attempts, row.claimed_by.as_deref()), (NotificationStatus::Sent, 2, Some("survivor")));
    // At least once to the provider, with the same idempotency key both times.
    assert_eq!(hanging.attempts()[0].idempotency_key, fake.delivered()[0].idempotency_key);
    store.close().await;
}

async fn unanswered_send_times_out_and_is_retried(db: &TestDb) {
    let store = db.connect().await;
    let fake = FakeNotifier::new(Channel::Sms);
    fake.script([Behaviour::Hang]);
    let w =
        OutboxWorker::new(store.clone(), vec![fake.dyn_arc()], OutboxOptions { send_timeout_ms: 200, ..options("w") })
            .unwrap();
    let id = enqueue(&store, "k", "sms", 0.0).await;
    let started = std::time::Instant::now();
    assert_eq!(w.drain_at(t(1.0)).await.unwrap().retried, 1);
    assert!(started.elapsed() < Duration::from_secs(2));
    let row = status(&store, id).await;
    assert_eq!((row.status, row.last_error.as_deref()), (NotificationStatus::Pending, Some("no answer within 200 ms")));
    assert_eq!(w.drain_at(t(100.0)).await.unwrap().sent, 1);
    store.close().await;
}

async fn channels_without_a_notifier_stay_pending(db: &TestDb) {
    let store = db.connect().await;
    let sms = enqueue(&store, "s", "sms", 0.0).await;
    let email = enqueue(&store, "e", "email", 0.0).await;
    let fake = FakeNotifier::new(Channel::Sms);
    let w = worker(&store, &fake, "w");
    assert_eq!(w.drain_at(t(1.0)).await.unwrap().sent, 1);
    assert_eq!(status(&store, sms).await.status, NotificationStatus::Sent);
    let row = status(&store, email).await;
    assert_eq!((row.status, row.attempts), (NotificationStatus::Pending, 0), "left for a worker that can send it");
    let mailer = FakeNotifier::new(Channel::Email);
    assert!(OutboxWorker::new(store.clone(), vec![fake.dyn_arc(), mailer.dyn_arc()], options("x")).is_ok());
    assert!(OutboxWorker::new(store.clone(), vec![fake.dyn_arc(), fake.dyn_arc()], options("x")).is_err());
    store.close().await;
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run_sends_when_woken_and_stops_on_shutdown(db: &TestDb) {
    let store = db.connect().await;
    let fake = FakeNotifier::new(Channel::Sms);
    let w = OutboxWorker::new(
        store.clone(),
        vec![fake.dyn_arc()],
        OutboxOptions { poll_interval_ms: 60_000, ..options("runner") },
    )
    .unwrap();
    let waker = w.waker();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(w.run(shutdown.clone()));
    // Rows created "now" are due at once; the first pass may already have run, so wake the worker.
    let key = format!("live-{}", chrono::Utc::now().timestamp_micros());
    let n = NewNotification {
        alert_ids: vec![],
        route: "oncall".into(),
        channel: "sms".into(),
        recipient: "+4915100000001".into(),
        subject: String::new(),
        text: "hello".into(),
        html: None,
        payload: serde_json::Value::Null,
        idempotency_key: key,
        created_at: chrono::Utc::now(),
    };
    let id = store.enqueue_notification(&n).await.unwrap().unwrap();
    waker.wake();
    wait_until("the woken worker sent it", async || status(&store, id).await.status == NotificationStatus::Sent).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops within the grace").unwrap();
    assert_eq!(fake.delivered().len(), 1);
    store.close().await;
}

async fn shutdown_cuts_a_hanging_send_and_reschedules_it(db: &TestDb) {
    let store = db.connect().await;
    let fake = FakeNotifier::new(Channel::Sms);
    fake.set_default(Behaviour::Hang);
    let w = OutboxWorker::new(
        store.clone(),
        vec![fake.dyn_arc()],
        OutboxOptions { send_timeout_ms: 30_000, lease_s: 120, shutdown_grace_ms: 300, concurrency: 1, ..options("w") },
    )
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let n = NewNotification {
            alert_ids: vec![],
            route: "oncall".into(),
            channel: "sms".into(),
            recipient: "+4915100000001".into(),
            subject: String::new(),
            text: "hello".into(),
            html: None,
            payload: serde_json::Value::Null,
            idempotency_key: format!("hang-{i}"),
            created_at: chrono::Utc::now() - chrono::Duration::seconds(10 - i),
        };
        ids.push(store.enqueue_notification(&n).await.unwrap().unwrap());
    }
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(w.run(shutdown.clone()));
    fake.wait_for_attempts(1).await;
    let cancelled = std::time::Instant::now();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops despite the hanging send").unwrap();
    // One grace period in all, not one per claimed row.
    assert!(cancelled.elapsed() < Duration::from_millis(1500), "{:?}", cancelled.elapsed());
    assert_eq!(fake.attempts().len(), 1, "rows claimed but not started are not attempted after the deadline");
    let cut = status(&store, ids[0]).await;
    assert_eq!((cut.status, cut.attempts), (NotificationStatus::Pending, 1), "not left claimed for a whole lease");
    assert!(cut.last_error.unwrap().contains("cut short by shutdown"));
    for id in &ids[1..] {
        let row = status(&store, *id).await;
        assert_eq!((row.status, row.attempts), (NotificationStatus::Pending, 0), "released unattempted");
    }
    store.close().await;
}

async fn two_workers_on_one_database_send_every_row_once(db: &TestDb) {
    const ROWS: usize = 300;
    let stores = [db.connect().await, db.connect().await];
    for i in 0..ROWS {
        enqueue(&stores[i % 2], &format!("row-{i:04}"), "sms", 0.0).await;
    }
    let fakes = [FakeNotifier::new(Channel::Sms), FakeNotifier::new(Channel::Sms)];
    for fake in &fakes {
        fake.set_delay(0, 3);
    }
    // Some transient failures too, so rows move between workers.
    fakes[0].script([Behaviour::Transient, Behaviour::Accept, Behaviour::Transient]);
    fakes[1].script([Behaviour::RetryAfter(Duration::ZERO), Behaviour::Transient]);
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();
    for (i, (store, fake)) in stores.iter().zip(&fakes).enumerate() {
        let opts = OutboxOptions {
            batch_size: 7,
            concurrency: 3,
            initial_backoff_ms: 1,
            max_backoff_ms: 20,
            min_backoff_ms: 1,
            ..options(&format!("replica-{i}"))
        };
        let w = OutboxWorker::new(store.clone(), vec![fake.dyn_arc()], opts).unwrap();
        tasks.push(tokio::spawn(w.run(shutdown.clone())));
    }
    wait_until("every row is sent", async || stores[0].notification_counts().await.unwrap().sent == ROWS as i64).await;
    shutdown.cancel();
    for task in tasks {
        task.await.unwrap();
    }
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for fake in &fakes {
        for m in fake.delivered() {
            *per_key.entry(m.idempotency_key).or_default() += 1;
        }
    }
    assert_eq!(per_key.len(), ROWS);
    assert!(
        per_key.values().all(|&n| n == 1),
        "a row delivered twice: {:?}",
        per_key.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert!(fakes.iter().all(|f| !f.delivered().is_empty()), "both workers took part");
    let counts = stores[1].notification_counts().await.unwrap();
    assert_eq!((counts.sent, counts.pending, counts.sending, counts.failed), (ROWS as i64, 0, 0, 0));
    for store in &stores {
        store.close().await;
    }
}

async fn engine_to_provider_twelve_wheels_one_sms(db: &TestDb) {
    let store = db.connect().await;
    let config = EngineConfig {
        route: Route {
            name: "oncall".into(),
            levels: vec![vec![Contact {
                name: "alice".into(),
                sms: Some("+4915100000001".into()),
                email: None,
                webhook: false,
            }]],
            ..Route::default()
        },
        dashboard_url: "https://dash.example".into(),
        ..EngineConfig::default()
    };
    let sms = FakeNotifier::new(Channel::Sms);
    let w = worker(&store, &sms, "w");
    let engine = AlertEngine::new(store.clone(), config).unwrap().with_outbox_waker(w.waker());
    for i in 1..=12 {
        engine.observe_health("wheels", "parkA", &format!("W{i:02}"), 30.0 + i as f64, "m", t(0.0)).await.unwrap();
    }
    assert_eq!(engine.tick(t(2.0)).await.unwrap(), 1);
    assert_eq!(w.drain_at(t(2.0)).await.unwrap().sent, 1);
    let delivered = sms.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].to, "+4915100000001");
    assert!(sms_segments(&delivered[0].text) <= 2);
    assert!(delivered[0].text.contains("12 assets below 70: W01 31, W02 32"), "{}", delivered[0].text);
    // Ticking and draining again sends nothing more.
    assert_eq!(engine.tick(t(60.0)).await.unwrap(), 0);
    assert_eq!(w.drain_at(t(60.0)).await.unwrap().claimed, 0);
    store.close().await;
}
