//! The alert engine against a real store, on both backends: state machine with hysteresis, for-count, dedupe,
//! grouping, silences, repeats, escalation and acknowledgement, no-data rules, range rules, restarts and two
//! engines sharing one database.

#[path = "outbox_support/mod.rs"]
mod support;

use std::sync::Arc;

use prognos_alerts::engine::{
    AlertEngine, AlertError, Contact, EngineConfig, MetricValue, NoDataRule, RangeRule, Route,
};
use prognos_alerts::notify::sms_segments;
use prognos_store::{
    AlertFilter, AlertRecord, AlertState, FeatureValues, NewCapture, NewPrediction, NotificationFilter,
    NotificationRecord, Store,
};
use support::{t, TestDb};

prognos_store::on_both_backends!(
    hysteresis_fires_below_and_resolves_only_past_the_margin,
    wavering_score_gives_one_alert_and_one_message,
    for_count_keeps_the_alert_pending,
    repeated_breaches_are_one_alert_and_one_message,
    twelve_wheels_in_one_run_give_one_sms_listing_them,
    silence_suppresses_notices_but_keeps_state,
    site_silence_covers_every_asset_of_the_site,
    escalation_fires_when_unacknowledged_and_stops_when_acknowledged,
    repeat_interval_renotifies_until_acknowledged,
    resolution_is_told_to_everyone_who_was_told,
    no_data_fires_and_resolves_when_heartbeats_resume,
    never_heard_source_fires_after_its_interval,
    a_family_rule_watches_each_source_heard_from,
    range_rule_watches_an_inverter_metric,
    a_batch_of_metric_values_is_judged_as_one_by_one,
    drift_rule_fires_above_its_threshold_resolves_past_the_margin_and_can_be_off,
    out_of_order_observations_are_ignored,
    restarted_engine_sends_what_was_pending,
    two_engines_on_one_database_enqueue_once,
    concurrent_observations_of_one_wheel_are_all_counted,
    email_shows_score_trend_and_links,
    acknowledge_and_silence_errors,
);

const ALICE: &str = "+4915100000001";
const BOB: &str = "+4915100000002";
const CAROL: &str = "+4915100000003";

fn contact(name: &str, sms: &str, email: Option<&str>) -> Contact {
    Contact { name: name.into(), sms: Some(sms.into()), email: email.map(Into::into), webhook: false }
}

fn config() -> EngineConfig {
    EngineConfig {
        route: Route {
            name: "oncall".into(),
            group_wait_ms: 2000,
            levels: vec![vec![contact("alice", ALICE, None)], vec![contact("bob", BOB, None)]],
            escalate_after_s: 900,
        },
        dashboard_url: "https://dash.example".into(),
        ..EngineConfig::default()
    }
}

fn engine(store: &Store, config: EngineConfig) -> AlertEngine {
    AlertEngine::new(store.clone(), config).expect("valid config")
}

async fn health(engine: &AlertEngine, asset: &str, score: f64, secs: f64) {
    engine.observe_health("wheels", "parkA", asset, score, "wheel-health@1.0.0", t(secs)).await.unwrap();
}

async fn alerts(store: &Store) -> Vec<AlertRecord> {
    let mut all = store.alerts(&AlertFilter::default()).await.unwrap();
    all.sort_by_key(|a| a.id);
    all
}

async fn notes(store: &Store) -> Vec<NotificationRecord> {
    let mut all = store.notifications(&NotificationFilter::default()).await.unwrap();
    all.sort_by_key(|n| n.id);
    all
}

async fn sms_to(store: &Store, number: &str) -> Vec<NotificationRecord> {
    notes(store).await.into_iter().filter(|n| n.channel == "sms" && n.recipient == number).collect()
}

async fn hysteresis_fires_below_and_resolves_only_past_the_margin(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    health(&e, "W07", 70.0, 0.0).await;
    assert!(alerts(&store).await.is_empty(), "70 is not below 70");
    health(&e, "W07", 69.0, 10.0).await;
    let a = alerts(&store).await;
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].state, a[0].value, a[0].threshold), (AlertState::Firing, Some(69.0), Some(70.0)));
    assert_eq!((a[0].rule.as_str(), a[0].site.as_str(), a[0].pipeline.as_str()), ("health", "parkA", "wheels"));
    assert_eq!(a[0].fired_at, Some(t(10.0)));
    health(&e, "W07", 71.0, 20.0).await;
    health(&e, "W07", 74.9, 30.0).await;
    assert_eq!(alerts(&store).await[0].state, AlertState::Firing, "within the 5-point margin it keeps firing");
    health(&e, "W07", 76.0, 40.0).await;
    let a = alerts(&store).await;
    assert_eq!((a.len(), a[0].state, a[0].resolved_at), (1, AlertState::Resolved, Some(t(40.0))));
    // A new breach after resolution is a new episode.
    health(&e, "W07", 60.0, 50.0).await;
    let a = alerts(&store).await;
    assert_eq!(a.len(), 2);
    assert_eq!((a[1].state, a[1].opened_at), (AlertState::Firing, t(50.0)));
    store.close().await;
}

async fn wavering_score_gives_one_alert_and_one_message(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    for (i, score) in [69.0, 71.0, 69.0, 71.0, 69.5, 72.0, 68.0].into_iter().enumerate() {
        health(&e, "W03", score, i as f64).await;
        e.tick(t(i as f64 + 0.5)).await.unwrap();
    }
    for s in 10..20 {
        e.tick(t(s as f64)).await.unwrap();
    }
    assert_eq!(alerts(&store).await.len(), 1, "one alert for one problem");
    let sms = sms_to(&store, ALICE).await;
    assert_eq!(sms.len(), 1, "one SMS, not one per wobble: {sms:#?}");
    assert!(sms[0].text.contains("W03"), "{}", sms[0].text);
    store.close().await;
}

async fn for_count_keeps_the_alert_pending(db: &TestDb) {
    let store = db.connect().await;
    let mut c = config();
    c.health.for_count = 3;
    let e = engine(&store, c);
    health(&e, "W01", 60.0, 0.0).await;
    health(&e, "W01", 61.0, 1.0).await;
    let a = alerts(&store).await;
    assert_eq!((a[0].state, a[0].consecutive), (AlertState::Pending, 2));
    assert_eq!(e.tick(t(100.0)).await.unwrap(), 0, "pending alerts are not told");
    health(&e, "W01", 62.0, 101.0).await;
    assert_eq!(alerts(&store).await[0].state, AlertState::Firing);
    assert_eq!(e.tick(t(104.0)).await.unwrap(), 1);

    // A good value in the run (even within the margin) cancels the pending alert without a message.
    health(&e, "W02", 60.0, 0.0).await;
    health(&e, "W02", 60.0, 1.0).await;
    health(&e, "W02", 71.0, 2.0).await;
    health(&e, "W02", 60.0, 3.0).await;
    let w2: Vec<_> = alerts(&store).await.into_iter().filter(|a| a.asset_id == "W02").collect();
    assert_eq!(w2.len(), 2);
    assert_eq!((w2[0].state, w2[0].detail["cancelled"].as_bool()), (AlertState::Resolved, Some(true)));
    assert_eq!((w2[1].state, w2[1].consecutive), (AlertState::Pending, 1));
    assert_eq!(e.tick(t(200.0)).await.unwrap(), 0);
    assert_eq!(sms_to(&store, ALICE).await.len(), 1);
    store.close().await;
}

async fn repeated_breaches_are_one_alert_and_one_message(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    for i in 0..20 {
        health(&e, "W05", 50.0 - i as f64, i as f64 * 60.0).await;
        e.tick(t(i as f64 * 60.0 + 30.0)).await.unwrap();
    }
    let a = alerts(&store).await;
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].consecutive, a[0].value), (20, Some(31.0)), "the open alert follows the latest score");
    assert_eq!(sms_to(&store, ALICE).await.len(), 1, "no repeat before the repeat interval");
    store.close().await;
}

async fn twelve_wheels_in_one_run_give_one_sms_listing_them(db: &TestDb) {
    let store = db.connect().await;
    let mut c = config();
    c.route.levels[0][0].email = Some("alice@example.com".into());
    let e = engine(&store, c);
    for i in 1..=12 {
        health(&e, &format!("W{i:02}"), 40.0 + i as f64, i as f64 * 0.05).await;
    }
    assert_eq!(e.tick(t(1.0)).await.unwrap(), 0, "the group waits 2 s for the oldest");
    assert_eq!(e.tick(t(2.0)).await.unwrap(), 0, "the first wheel failed at 0.05 s");
    assert_eq!(e.tick(t(2.1)).await.unwrap(), 2, "one SMS and one email");
    assert_eq!(e.tick(t(3.0)).await.unwrap(), 0);
    let all = notes(&store).await;
    assert_eq!(all.len(), 2);
    let sms = &sms_to(&store, ALICE).await[0];
    assert_eq!(sms.alert_ids.len(), 12);
    assert!(sms_segments(&sms.text) <= 2, "{}", sms.text);
    assert!(sms.text.starts_with("Prognos parkA: ALERT 12 assets below 70: W01 41, W02 42, W03 43"), "{}", sms.text);
    for i in 1..=12 {
        assert!(sms.text.contains(&format!("W{i:02}")), "W{i:02} missing: {}", sms.text);
    }
    assert!(sms.text.ends_with("Open https://dash.example/assets/W01"), "worst first: {}", sms.text);
    let email = all.iter().find(|n| n.channel == "email").unwrap();
    assert_eq!(email.recipient, "alice@example.com");
    assert_eq!(email.subject, "[Prognos] ALERT 12 assets below 70 at parkA");
    assert_ne!(email.idempotency_key, sms.idempotency_key);
    assert!(alerts(&store).await.iter().all(|a| a.pending_notice.is_none() && a.last_notified_at == Some(t(2.1))));
    store.close().await;
}

async fn silence_suppresses_notices_but_keeps_state(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    e.silence(Some("W03"), None, t(0.0), t(3600.0), "wheel change", "alice").await.unwrap();
    health(&e, "W03", 40.0, 10.0).await;
    health(&e, "W04", 40.0, 10.0).await;
    assert_eq!(e.tick(t(20.0)).await.unwrap(), 1);
    let sms = sms_to(&store, ALICE).await;
    assert_eq!(sms.len(), 1);
    assert!(sms[0].text.contains("W04") && !sms[0].text.contains("W03"), "{}", sms[0].text);
    let w3 = alerts(&store).await.into_iter().find(|a| a.asset_id == "W03").unwrap();
    assert_eq!((w3.state, w3.pending_notice, w3.last_notified_at), (AlertState::Firing, None, None));
    // No escalation or repeat while silenced.
    for s in [1000.0, 2000.0, 3599.0] {
        e.tick(t(s)).await.unwrap();
    }
    assert!(notes(&store).await.iter().all(|n| !n.text.contains("W03")));
    assert!(sms_to(&store, BOB).await.iter().all(|n| !n.text.contains("W03")));
    // Once the window ends, a wheel still failing is told.
    assert_eq!(e.tick(t(3600.0)).await.unwrap(), 1);
    let last = sms_to(&store, ALICE).await.pop().unwrap();
    assert!(last.text.contains("ALERT wheel W03") || last.text.contains("ALERT asset W03"), "{}", last.text);
    store.close().await;
}

async fn site_silence_covers_every_asset_of_the_site(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    e.silence(None, Some("parkA"), t(0.0), t(100.0), "annual inspection", "bob").await.unwrap();
    health(&e, "W01", 40.0, 1.0).await;
    e.observe_health("wheels", "parkB", "W99", 40.0, "m", t(1.0)).await.unwrap();
    assert_eq!(e.tick(t(5.0)).await.unwrap(), 1);
    let sms = sms_to(&store, ALICE).await;
    assert!(sms[0].text.contains("W99") && !sms[0].text.contains("W01"), "{}", sms[0].text);
    // Resolved inside the window: nothing to tell later.
    health(&e, "W01", 90.0, 50.0).await;
    assert_eq!(e.tick(t(200.0)).await.unwrap(), 0);
    store.close().await;
}

async fn escalation_fires_when_unacknowledged_and_stops_when_acknowledged(db: &TestDb) {
    let store = db.connect().await;
    let mut c = config();
    c.route.levels.push(vec![contact("carol", CAROL, None)]);
    let e = engine(&store, c);
    health(&e, "W01", 40.0, 0.0).await;
    health(&e, "W02", 45.0, 0.0).await;
    assert_eq!(e.tick(t(2.0)).await.unwrap(), 1);
    let ids: Vec<i64> = alerts(&store).await.iter().map(|a| a.id).collect();
    e.acknowledge(ids[1], "alice", t(100.0)).await.unwrap();

    assert_eq!(e.tick(t(901.0)).await.unwrap(), 0, "not yet 900 s since level 0 was told");
    assert_eq!(e.tick(t(902.0)).await.unwrap(), 1);
    let bob = sms_to(&store, BOB).await;
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].alert_ids, vec![ids[0]], "the acknowledged alert does not escalate");
    assert!(
        bob[0].text.contains("ESCALATED (no ack for 15m) wheel W01")
            || bob[0].text.contains("ESCALATED (no ack for 15m) asset W01"),
        "{}",
        bob[0].text
    );
    assert_eq!(alerts(&store).await[0].escalation_level, 1);

    // Acknowledged at level 1: carol is never called.
    e.acknowledge(ids[0], "bob", t(1000.0)).await.unwrap();
    for s in [1802.0, 2702.0, 9000.0] {
        e.tick(t(s)).await.unwrap();
    }
    assert!(sms_to(&store, CAROL).await.is_empty());
    assert_eq!(sms_to(&store, ALICE).await.len(), 1, "acknowledged alerts are not repeated either");

    // Without acknowledgement it goes all the way up, one level per 900 s, and stops at the last.
    health(&e, "W09", 30.0, 10_000.0).await;
    e.tick(t(10_002.0)).await.unwrap();
    e.tick(t(10_902.0)).await.unwrap();
    e.tick(t(11_802.0)).await.unwrap();
    e.tick(t(12_702.0)).await.unwrap();
    assert_eq!(sms_to(&store, CAROL).await.len(), 1);
    assert_eq!(alerts(&store).await.last().unwrap().escalation_level, 2);
    store.close().await;
}

async fn repeat_interval_renotifies_until_acknowledged(db: &TestDb) {
    let store = db.connect().await;
    let mut c = config();
    c.route.escalate_after_s = 0;
    c.health.repeat_interval_s = 600;
    let e = engine(&store, c);
    health(&e, "W01", 40.0, 0.0).await;
    e.tick(t(2.0)).await.unwrap();
    assert_eq!(e.tick(t(601.0)).await.unwrap(), 0);
    assert_eq!(e.tick(t(602.0)).await.unwrap(), 1);
    assert_eq!(e.tick(t(1201.0)).await.unwrap(), 0);
    assert_eq!(e.tick(t(1202.0)).await.unwrap(), 1);
    let sms = sms_to(&store, ALICE).await;
    assert_eq!(sms.len(), 3);
    assert!(sms[1].text.contains("STILL FIRING"), "{}", sms[1].text);
    assert_ne!(sms[1].idempotency_key, sms[2].idempotency_key);
    assert!(sms_to(&store, BOB).await.is_empty(), "escalation is off");
    let id = alerts(&store).await[0].id;
    e.acknowledge(id, "alice", t(1300.0)).await.unwrap();
    assert_eq!(e.tick(t(5000.0)).await.unwrap(), 0);
    store.close().await;
}

async fn resolution_is_told_to_everyone_who_was_told(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    health(&e, "W01", 40.0, 0.0).await;
    e.tick(t(2.0)).await.unwrap();
    e.tick(t(902.0)).await.unwrap();
    assert_eq!(sms_to(&store, BOB).await.len(), 1, "escalated to bob");
    health(&e, "W01", 90.0, 1000.0).await;
    assert_eq!(e.tick(t(1001.0)).await.unwrap(), 0, "grouped: waits 2 s");
    assert_eq!(e.tick(t(1002.0)).await.unwrap(), 2);
    for number in [ALICE, BOB] {
        let last = sms_to(&store, number).await.pop().unwrap();
        assert!(last.text.contains("RESOLVED") && last.text.contains("back to 90"), "{}", last.text);
    }
    // A wheel that fires and recovers before anyone was told produces no message at all.
    health(&e, "W02", 40.0, 2000.0).await;
    health(&e, "W02", 90.0, 2000.5).await;
    assert_eq!(e.tick(t(2010.0)).await.unwrap(), 0);
    assert_eq!(alerts(&store).await.last().unwrap().state, AlertState::Resolved);
    store.close().await;
}

fn camera_rule() -> NoDataRule {
    NoDataRule {
        source: "parkA/Cam_01".into(),
        expected_interval_s: 600,
        site: "parkA".into(),
        pipeline: "wheels".into(),
        repeat_interval_s: 3600,
    }
}

async fn no_data_fires_and_resolves_when_heartbeats_resume(db: &TestDb) {
    let store = db.connect().await;
    let mut c = config();
    c.no_data.push(camera_rule());
    let e = engine(&store, c);
    e.heartbeat("parkA/Cam_01", t(0.0)).await.unwrap();
    e.tick(t(300.0)).await.unwrap();
    e.tick(t(600.0)).await.unwrap();
    assert!(alerts(&store).await.is_empty(), "600 s is the expected interval, not more");
    e.tick(t(601.0)).await.unwrap();
    let a = alerts(&store).await;
    assert_eq!((a.len(), a[0].rule.as_str(), a[0].asset_id.as_str()), (1, "no_data", "parkA/Cam_01"));
    assert_eq!(a[0].state, AlertState::Firing);
    assert_eq!(e.tick(t(603.0)).await.unwrap(), 1);
    let sms = sms_to(&store, ALICE).await;
    assert!(sms[0].text.contains("no data from parkA/Cam_01 for 10m (expected every 10m)"), "{}", sms[0].text);
    assert!(sms[0].text.ends_with(&format!("Open https://dash.example/alerts/{}", a[0].id)), "{}", sms[0].text);
    e.tick(t(1200.0)).await.unwrap();
    assert_eq!(alerts(&store).await[0].value, Some(1200.0), "silence keeps being measured");

    // A replayed old file does not end the silence; new data does.
    e.heartbeat("parkA/Cam_01", t(-50.0)).await.unwrap();
    assert_eq!(alerts(&store).await[0].state, AlertState::Firing);
    e.heartbeat("parkA/Cam_01", t(1300.0)).await.unwrap();
    let a = alerts(&store).await;
    assert_eq!((a[0].state, a[0].resolved_at), (AlertState::Resolved, Some(t(1300.0))));
    assert_eq!(e.tick(t(1302.0)).await.unwrap(), 1);
    let last = sms_to(&store, ALICE).await.pop().unwrap();
    assert!(last.text.contains("RESOLVED data again from parkA/Cam_01"), "{}", last.text);
    e.tick(t(1400.0)).await.unwrap();
    assert_eq!(alerts(&store).await.len(), 1);
    store.close().await;
}

async fn never_heard_source_fires_after_its_interval(db: &TestDb) {
    let store = db.connect().await;
    let mut c = config();
    c.no_data.push(camera_rule());
    let e = engine(&store, c);
    e.tick(t(0.0)).await.unwrap();
    e.tick(t(600.0)).await.unwrap();
    assert!(alerts(&store).await.is_empty());
    e.tick(t(600.5)).await.unwrap();
    assert_eq!(alerts(&store).await.len(), 1);
    e.heartbeat("parkA/Cam_01", t(700.0)).await.unwrap();
    assert_eq!(alerts(&store).await[0].state, AlertState::Resolved);
    store.close().await;
}

async fn a_family_rule_watches_each_source_heard_from(db: &TestDb) {
    let store = db.connect().await;
    let mut c = config();
    c.no_data.push(NoDataRule { source: "plant/inverter/*".into(), ..camera_rule() });
    let e = engine(&store, c);
    e.heartbeats(&["plant/inverter/A", "plant/inverter/B", "plant/feed"], t(0.0)).await.unwrap();
    e.tick(t(600.0)).await.unwrap();
    assert!(alerts(&store).await.is_empty());
    e.heartbeat("plant/inverter/B", t(500.0)).await.unwrap();
    e.tick(t(601.0)).await.unwrap();
    let a = alerts(&store).await;
    let fired: Vec<&str> = a.iter().map(|a| a.asset_id.as_str()).collect();
    assert_eq!(fired, ["plant/inverter/A"], "B spoke at 500 s; the feed is not in the family");
    e.tick(t(1101.0)).await.unwrap();
    let mut fired: Vec<(String, AlertState)> =
        alerts(&store).await.into_iter().map(|a| (a.asset_id, a.state)).collect();
    fired.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        fired,
        [("plant/inverter/A".to_string(), AlertState::Firing), ("plant/inverter/B".to_string(), AlertState::Firing)]
    );
    e.heartbeats(&["plant/inverter/A"], t(1200.0)).await.unwrap();
    let a = alerts(&store).await;
    let a_state = a.iter().find(|a| a.asset_id == "plant/inverter/A").unwrap().state;
    let b_state = a.iter().find(|a| a.asset_id == "plant/inverter/B").unwrap().state;
    assert_eq!((a_state, b_state), (AlertState::Resolved, AlertState::Firing));
    store.close().await;
}

/// The test configuration with a range rule on `dc_voltage`: 200..800 V, 10 V of margin, two readings in a row.
fn with_dc_voltage_range() -> EngineConfig {
    let mut c = config();
    c.ranges.push(RangeRule {
        metric: "dc_voltage".into(),
        min: Some(200.0),
        max: Some(800.0),
        hysteresis: 10.0,
        for_count: 2,
        for_s: 0,
        repeat_interval_s: 3600,
    });
    c
}

async fn range_rule_watches_an_inverter_metric(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, with_dc_voltage_range());
    let observe = |v: f64, s: f64| e.observe_metric("inverters", "solarB", "INV3", "dc_voltage", v, t(s));
    observe(500.0, 0.0).await.unwrap();
    observe(812.0, 1.0).await.unwrap();
    assert_eq!(alerts(&store).await[0].state, AlertState::Pending);
    observe(815.5, 2.0).await.unwrap();
    let a = alerts(&store).await;
    assert_eq!((a[0].rule.as_str(), a[0].state, a[0].threshold), ("range:dc_voltage", AlertState::Firing, Some(800.0)));
    e.tick(t(5.0)).await.unwrap();
    let sms = sms_to(&store, ALICE).await;
    assert!(sms[0].text.contains("asset INV3 dc_voltage 815.5 (outside 200..800)"), "{}", sms[0].text);
    observe(795.0, 10.0).await.unwrap();
    assert_eq!(alerts(&store).await[0].state, AlertState::Firing, "inside, but within the margin");
    observe(790.0, 11.0).await.unwrap();
    assert_eq!(alerts(&store).await[0].state, AlertState::Resolved);
    // Metrics without a rule are ignored.
    e.observe_metric("inverters", "solarB", "INV3", "ac_power", -1.0, t(12.0)).await.unwrap();
    assert_eq!(alerts(&store).await.len(), 1);
    store.close().await;
}

async fn a_batch_of_metric_values_is_judged_as_one_by_one(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, with_dc_voltage_range());
    let v = |asset: &'static str, value: f64, s: f64| MetricValue {
        asset_id: asset,
        metric: "dc_voltage",
        value,
        at: t(s),
    };
    let state = |alerts: &[AlertRecord], asset: &str| alerts.iter().find(|a| a.asset_id == asset).map(|a| a.state);
    // INV3 breaches twice (for_count 2: firing); INV4 only once (pending); INV5 stays inside; ac_power has no rule.
    let batch = [
        v("INV3", 500.0, 0.0),
        v("INV3", 812.0, 1.0),
        v("INV4", 150.0, 1.0),
        v("INV5", 600.0, 1.0),
        v("INV3", 815.5, 2.0),
        MetricValue { asset_id: "INV5", metric: "ac_power", value: -1.0, at: t(2.0) },
    ];
    e.observe_metrics("inverters", "solarB", &batch).await.unwrap();
    let a = alerts(&store).await;
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!((state(&a, "INV3"), state(&a, "INV4")), (Some(AlertState::Firing), Some(AlertState::Pending)));
    // A later batch of good values: those of assets with an open alert still count (INV3 resolves past the
    // margin, INV4's pending alert ends), the others change nothing.
    let batch = [v("INV3", 795.0, 10.0), v("INV4", 400.0, 10.0), v("INV5", 610.0, 10.0), v("INV3", 790.0, 11.0)];
    e.observe_metrics("inverters", "solarB", &batch).await.unwrap();
    let a = alerts(&store).await;
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(state(&a, "INV3"), Some(AlertState::Resolved));
    assert_eq!(state(&a, "INV4"), Some(AlertState::Resolved), "a good value cancels the pending alert");
    // A value that cannot be judged is counted, and the rest of the batch still is.
    let (failed, _) = e
        .observe_metrics("inverters", "solarB", &[v("INV6", f64::NAN, 20.0), v("INV6", 900.0, 21.0)])
        .await
        .unwrap_err();
    assert_eq!(failed, 1);
    assert_eq!(state(&alerts(&store).await, "INV6"), Some(AlertState::Pending));
    store.close().await;
}

async fn drift_rule_fires_above_its_threshold_resolves_past_the_margin_and_can_be_off(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    let observe =
        |psi: f64, s: f64| e.observe_drift("wheels", "parkA", "wheel-health", "1.1.0", "dark_area", psi, t(s));
    observe(0.1, 0.0).await.unwrap();
    assert!(alerts(&store).await.is_empty(), "0.1 is below the default 0.25");
    observe(0.41, 1.0).await.unwrap();
    let a = alerts(&store).await;
    assert_eq!((a[0].rule.as_str(), a[0].asset_id.as_str(), a[0].state), ("drift", "wheel-health", AlertState::Firing));
    assert_eq!((a[0].threshold, a[0].detail["feature"].as_str()), (Some(0.25), Some("dark_area")));
    e.tick(t(5.0)).await.unwrap();
    let sms = sms_to(&store, ALICE).await;
    assert!(
        sms[0].text.contains("model wheel-health inputs drift: PSI 0.41 on dark_area (above 0.25)"),
        "{}",
        sms[0].text
    );
    observe(0.22, 10.0).await.unwrap();
    assert_eq!(alerts(&store).await[0].state, AlertState::Firing, "within the 0.05 margin");
    observe(0.19, 11.0).await.unwrap();
    assert_eq!(alerts(&store).await[0].state, AlertState::Resolved);

    let mut off = config();
    off.drift.enabled = false;
    let quiet = engine(&store, off);
    quiet.observe_drift("wheels", "parkA", "other-model", "1.0.0", "x", 9.0, t(20.0)).await.unwrap();
    assert_eq!(alerts(&store).await.len(), 1, "a disabled rule raises nothing");
    store.close().await;
}

async fn out_of_order_observations_are_ignored(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    health(&e, "W01", 40.0, 100.0).await;
    health(&e, "W01", 95.0, 50.0).await;
    let a = alerts(&store).await;
    assert_eq!((a[0].state, a[0].value), (AlertState::Firing, Some(40.0)));
    assert!(matches!(
        e.observe_health("wheels", "parkA", "W01", f64::NAN, "m", t(200.0)).await,
        Err(AlertError::Observation(_))
    ));
    assert!(matches!(
        e.observe_health("wheels", "parkA", "", 10.0, "m", t(200.0)).await,
        Err(AlertError::Observation(_))
    ));
    store.close().await;
}

async fn restarted_engine_sends_what_was_pending(db: &TestDb) {
    {
        let store = db.connect().await;
        let e = engine(&store, config());
        health(&e, "W01", 40.0, 0.0).await;
        health(&e, "W02", 41.0, 0.5).await;
        // The process dies before the group wait is over.
        store.close().await;
    }
    let store = db.connect().await;
    let e = engine(&store, config());
    assert_eq!(e.tick(t(2.0)).await.unwrap(), 1);
    let sms = sms_to(&store, ALICE).await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].alert_ids.len(), 2);
    store.close().await;
}

async fn two_engines_on_one_database_enqueue_once(db: &TestDb) {
    let stores = [db.connect().await, db.connect().await];
    let engines: Vec<Arc<AlertEngine>> = stores.iter().map(|s| Arc::new(engine(s, config()))).collect();
    // Both observe the same wheels (as two replicas fed the same scores would) and both tick.
    let mut tasks = Vec::new();
    for (k, e) in engines.iter().enumerate() {
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let asset = format!("W{i:02}");
                e.observe_health("wheels", "parkA", &asset, 40.0 + k as f64, "m", t(i as f64 * 0.01)).await.unwrap();
            }
            let mut enqueued = 0;
            for s in 0..40 {
                enqueued += e.tick(t(1.9 + s as f64 * 0.05)).await.unwrap();
            }
            enqueued
        }));
    }
    let mut enqueued = 0;
    for task in tasks {
        enqueued += task.await.unwrap();
    }
    let a = alerts(&stores[0]).await;
    assert_eq!(a.len(), 10, "one alert per wheel");
    let sms = sms_to(&stores[0], ALICE).await;
    assert_eq!(enqueued, sms.len());
    let mut told: Vec<i64> = sms.iter().flat_map(|n| n.alert_ids.clone()).collect();
    told.sort_unstable();
    let mut ids: Vec<i64> = a.iter().map(|a| a.id).collect();
    ids.sort_unstable();
    assert_eq!(told, ids, "every alert told exactly once: {sms:#?}");
    for store in &stores {
        store.close().await;
    }
}

async fn concurrent_observations_of_one_wheel_are_all_counted(db: &TestDb) {
    let stores = [db.connect().await, db.connect().await];
    let engines: Vec<Arc<AlertEngine>> = stores.iter().map(|s| Arc::new(engine(s, config()))).collect();
    let mut tasks = Vec::new();
    for k in 0..8 {
        let e = engines[k % 2].clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                e.observe_health("wheels", "parkA", "W01", 50.0, "m", t(1.0)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let a = alerts(&stores[0]).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].consecutive, 40, "every observation counted: none lost to a concurrent writer");
    for store in &stores {
        store.close().await;
    }
}

async fn record_prediction(store: &Store, asset: &str, health: f64, secs: f64) {
    let capture = NewCapture {
        content_hash: format!("{asset}-{secs}"),
        site: "parkA".into(),
        camera: "Cam_01".into(),
        asset_id: asset.into(),
        run_count: None,
        captured_at: t(secs),
        source: "Cam_01/x.dat".into(),
        width: 10,
        profiles: 10,
        height_units: "mm".into(),
        mean_height: 1.0,
        mean_intensity: 1.0,
    };
    let features = FeatureValues { feature_set: "wheel-v1".into(), names: vec!["a".into()], values: vec![1.0] };
    let prediction = NewPrediction {
        model: "wheel-health".into(),
        model_version: "1.0.0".into(),
        health_score: health,
        label: "healthy".into(),
        probabilities: vec![("healthy".into(), health / 100.0)],
        scored_at: t(secs),
    };
    store.record_scored_capture(&capture, &features, &prediction).await.unwrap();
}

async fn email_shows_score_trend_and_links(db: &TestDb) {
    let store = db.connect().await;
    let mut c = config();
    c.route.levels[0][0].email = Some("alice@example.com".into());
    c.route.levels[0][0].webhook = true;
    let e = engine(&store, c);
    for (i, score) in [91.0, 84.5, 77.0, 63.25].into_iter().enumerate() {
        record_prediction(&store, "W07", score, i as f64).await;
        health(&e, "W07", score, i as f64).await;
    }
    assert_eq!(e.tick(t(10.0)).await.unwrap(), 3, "sms, email and webhook");
    let all = notes(&store).await;
    let sms = all.iter().find(|n| n.channel == "sms").unwrap();
    assert_eq!(sms.text, "Prognos parkA: ALERT wheel W07 health 63.2 (below 70). Open https://dash.example/assets/W07");
    let email = all.iter().find(|n| n.channel == "email").unwrap();
    assert_eq!(email.subject, "[Prognos] ALERT wheel W07 health 63.2 (below 70) at parkA");
    assert!(email.text.contains("recent scores: 91 > 84.5 > 77 > 63.2 (oldest first)"), "{}", email.text);
    assert!(email.text.contains("model: wheel-health@1.0.0"), "{}", email.text);
    let id = alerts(&store).await[0].id;
    assert!(email.text.contains(&format!("acknowledge: https://dash.example/alerts/{id}")), "{}", email.text);
    let html = email.html.as_deref().unwrap();
    assert!(html.contains("<a href=\"https://dash.example/assets/W07\">"), "{html}");
    let hook = all.iter().find(|n| n.channel == "webhook").unwrap();
    assert_eq!(hook.recipient, "alice");
    let alert = &hook.payload["alerts"][0];
    assert_eq!((alert["asset_id"].as_str(), alert["notice"].as_str()), (Some("W07"), Some("firing")));
    assert_eq!(alert["trend"].as_array().unwrap().len(), 4);
    assert_eq!(alert["url"], "https://dash.example/assets/W07");
    store.close().await;
}

async fn acknowledge_and_silence_errors(db: &TestDb) {
    let store = db.connect().await;
    let e = engine(&store, config());
    assert!(matches!(e.acknowledge(4242, "alice", t(0.0)).await, Err(AlertError::NotFound(4242))));
    health(&e, "W01", 40.0, 0.0).await;
    let id = alerts(&store).await[0].id;
    let acked = e.acknowledge(id, "alice", t(5.0)).await.unwrap();
    assert_eq!(acked.acked_by.as_deref(), Some("alice"));
    assert_eq!(e.acknowledge(id, "bob", t(6.0)).await.unwrap().acked_by.as_deref(), Some("alice"));
    health(&e, "W01", 90.0, 10.0).await;
    let other = {
        health(&e, "W02", 40.0, 0.0).await;
        health(&e, "W02", 90.0, 1.0).await;
        alerts(&store).await.last().unwrap().id
    };
    assert!(matches!(e.acknowledge(other, "bob", t(6.0)).await, Err(AlertError::NotOpen(_))));
    assert!(e.silence(None, None, t(0.0), t(10.0), "x", "alice").await.is_err());
    assert!(e.silence(Some("W01"), None, t(10.0), t(0.0), "x", "alice").await.is_err());
    assert!(AlertEngine::new(store.clone(), EngineConfig::default()).is_err(), "a route with nobody on it");
    store.close().await;
}

/// `sqlite::memory:` has a single connection: nothing may read through the pool while a transaction holds it.
#[tokio::test]
async fn works_on_an_in_memory_database() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let e = engine(&store, config());
    health(&e, "W01", 80.0, 0.0).await;
    health(&e, "W01", 40.0, 1.0).await;
    let fired = tokio::time::timeout(std::time::Duration::from_secs(10), e.tick(t(5.0))).await;
    assert_eq!(fired.expect("no deadlock").unwrap(), 1);
    let id = alerts(&store).await[0].id;
    e.acknowledge(id, "alice", t(6.0)).await.unwrap();
    health(&e, "W01", 90.0, 7.0).await;
    assert_eq!(e.tick(t(10.0)).await.unwrap(), 1, "the resolution");
    store.close().await;
}
