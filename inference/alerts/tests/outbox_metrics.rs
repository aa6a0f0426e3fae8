//! What the outbox reports on /metrics: outcomes per channel, and gauges of pending and failed notifications.
//! One test in its own binary, because it installs the process-wide metrics recorder.

#[path = "outbox_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder};
use metrics::{SharedString, Unit};
use prognos_alerts::notify::Channel;
use prognos_alerts::outbox::{OutboxOptions, OutboxWorker};
use prognos_store::NewNotification;
use support::{t, Behaviour, FakeNotifier, TestDb};

/// Counter values and gauge values (as f64 bits), by `name{label=value,...}` with labels sorted.
#[derive(Default)]
struct Registry {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
    gauges: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

struct CounterCell(Arc<AtomicU64>);
struct GaugeCell(Arc<AtomicU64>);
struct Ignored;

impl CounterFn for CounterCell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

impl GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        let _ =
            self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some((f64::from_bits(b) + value).to_bits()));
    }
    fn decrement(&self, value: f64) {
        self.increment(-value);
    }
    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

impl HistogramFn for Ignored {
    fn record(&self, _value: f64) {}
}

fn key_text(key: &Key) -> String {
    let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

struct TestRecorder(Arc<Registry>);

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let cell = self.0.counters.lock().unwrap().entry(key_text(key)).or_default().clone();
        Counter::from_arc(Arc::new(CounterCell(cell)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let cell = self.0.gauges.lock().unwrap().entry(key_text(key)).or_default().clone();
        Gauge::from_arc(Arc::new(GaugeCell(cell)))
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Ignored))
    }
}

impl Registry {
    fn counter(&self, key: &str) -> u64 {
        self.counters.lock().unwrap().get(key).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn gauge(&self, key: &str) -> Option<f64> {
        self.gauges.lock().unwrap().get(key).map(|g| f64::from_bits(g.load(Ordering::Relaxed)))
    }
}

#[tokio::test]
async fn outcomes_are_counted_and_failures_raised() {
    let registry = Arc::new(Registry::default());
    metrics::set_global_recorder(TestRecorder(registry.clone())).expect("the only recorder in this binary");

    let db = TestDb::sqlite();
    let store = db.connect().await;
    for (i, key) in ["bad", "flaky", "good"].into_iter().enumerate() {
        let n = NewNotification {
            alert_ids: vec![1],
            route: "oncall".into(),
            channel: "sms".into(),
            recipient: "+4915100000001".into(),
            subject: String::new(),
            text: key.into(),
            html: None,
            payload: serde_json::Value::Null,
            idempotency_key: key.into(),
            created_at: t(i as f64),
        };
        store.enqueue_notification(&n).await.unwrap().unwrap();
    }
    let fake = FakeNotifier::new(Channel::Sms);
    fake.script([Behaviour::Permanent, Behaviour::Transient, Behaviour::Accept]);
    let options = OutboxOptions { worker_id: "w".into(), concurrency: 1, ..OutboxOptions::default() };
    let worker = OutboxWorker::new(store.clone(), vec![fake.dyn_arc()], options).unwrap();
    worker.drain_at(t(10.0)).await.unwrap();

    assert_eq!(registry.counter("prognos_notifications_total{channel=sms,outcome=failed}"), 1);
    assert_eq!(registry.counter("prognos_notifications_total{channel=sms,outcome=retry}"), 1);
    assert_eq!(registry.counter("prognos_notifications_total{channel=sms,outcome=sent}"), 1);
    assert_eq!(registry.gauge("prognos_notifications_failed{}"), Some(1.0));
    assert_eq!(registry.gauge("prognos_notifications_pending{}"), Some(1.0));
    assert_eq!(registry.gauge("prognos_notifications_oldest_unsent_seconds{}"), Some(9.0), "the flaky one, from 1 s");

    // The retry succeeds: nothing pending, the failure stays raised until someone deals with it.
    worker.drain_at(t(1000.0)).await.unwrap();
    assert_eq!(registry.counter("prognos_notifications_total{channel=sms,outcome=sent}"), 2);
    assert_eq!(registry.gauge("prognos_notifications_pending{}"), Some(0.0));
    assert_eq!(registry.gauge("prognos_notifications_oldest_unsent_seconds{}"), Some(0.0));
    assert_eq!(registry.gauge("prognos_notifications_failed{}"), Some(1.0));
    store.close().await;
}
