//! Alert state, silences, heartbeats and the outbox, on both backends: every scenario becomes `sqlite::<name>`
//! and `postgres::<name>`.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{at, record, TestDb};
use prognos_store::{
    AckOutcome, AlertFilter, AlertState, Claim, NewAlert, NewNotification, NewSilence, Notice, NotificationFilter,
    NotificationStatus, Store, StoreError,
};
use tokio::sync::Barrier;

prognos_store::on_both_backends!(
    alert_round_trips_every_field,
    one_open_alert_per_rule_and_asset,
    concurrent_opens_insert_exactly_once,
    rolled_back_transaction_writes_nothing,
    acknowledgement_outcomes,
    silences_cover_asset_site_and_time,
    heartbeats_keep_the_newest_time,
    enqueue_is_idempotent_by_key,
    claim_takes_due_rows_of_known_channels,
    sent_rows_are_never_claimed_again,
    retry_fail_and_release_need_the_claim,
    expired_lease_is_claimed_again,
    notification_filters_and_counts,
    concurrent_claimers_take_each_row_once,
    trend_and_asset_kind_are_read_inside_the_transaction,
    a_transaction_reading_an_alert_waits_for_the_one_deciding_it,
);

fn new_alert(rule: &str, asset: &str, when: DateTime<Utc>) -> NewAlert {
    NewAlert {
        rule: rule.into(),
        asset_id: asset.into(),
        site: "parkA".into(),
        pipeline: "wheels".into(),
        route: "oncall".into(),
        opened_at: when,
        value: Some(55.5),
        threshold: Some(70.0),
        detail: serde_json::json!({"model": "wheel-health"}),
    }
}

fn note(key: &str, channel: &str, alert_ids: Vec<i64>, when: DateTime<Utc>) -> NewNotification {
    NewNotification {
        alert_ids,
        route: "oncall".into(),
        channel: channel.into(),
        recipient: "+4915100000001".into(),
        subject: format!("subject {key}"),
        text: format!("text {key}"),
        html: Some("<p>hi</p>".into()),
        payload: serde_json::json!({"key": key, "n": [1, 2]}),
        idempotency_key: key.into(),
        created_at: when,
    }
}

fn claim(worker: &str, now: DateTime<Utc>, limit: i64) -> Claim {
    Claim {
        worker: worker.into(),
        now,
        lease: Duration::from_secs(60),
        limit,
        channels: vec!["sms".into(), "email".into(), "webhook".into()],
    }
}

async fn insert_open(store: &Store, rule: &str, asset: &str, when: DateTime<Utc>) -> Option<i64> {
    let mut tx = store.begin_alerts().await.unwrap();
    let inserted = tx.insert_alert(&new_alert(rule, asset, when)).await.unwrap();
    tx.commit().await.unwrap();
    inserted.map(|a| a.id)
}

async fn alert_round_trips_every_field(db: &TestDb) {
    let store = db.connect().await;
    let mut tx = store.begin_alerts().await.unwrap();
    let mut alert = tx.insert_alert(&new_alert("health", "W07", at(0))).await.unwrap().expect("inserted");
    assert_eq!(alert.state, AlertState::Pending);
    assert_eq!((alert.consecutive, alert.value, alert.threshold), (0, Some(55.5), Some(70.0)));
    assert_eq!((alert.opened_at, alert.updated_at), (at(0), at(0)));
    assert_eq!(alert.detail, serde_json::json!({"model": "wheel-health"}));

    alert.state = AlertState::Firing;
    alert.consecutive = 3;
    alert.value = Some(41.25);
    alert.updated_at = at(3_000);
    alert.fired_at = Some(at(3_000));
    alert.last_notified_at = Some(at(4_000));
    alert.escalation_level = 1;
    alert.escalated_at = Some(at(5_000));
    alert.set_notice(Some(Notice::Firing), at(3_000));
    alert.detail = serde_json::json!({"min": 41.25, "model": "wheel-health"});
    tx.update_alert(&alert).await.unwrap();
    tx.commit().await.unwrap();

    let back = store.alert(alert.id).await.unwrap().expect("stored");
    assert_eq!(back, alert);
    assert_eq!(back.pending_notice, Some(Notice::Firing));
    assert_eq!(back.notice_since, Some(at(3_000)));
    assert_eq!(store.alert(alert.id + 1000).await.unwrap(), None);

    let filtered = |f: AlertFilter| {
        let store = store.clone();
        async move { store.alerts(&f).await.unwrap().into_iter().map(|a| a.id).collect::<Vec<_>>() }
    };
    assert_eq!(filtered(AlertFilter::default()).await, vec![alert.id]);
    assert_eq!(filtered(AlertFilter { state: Some(AlertState::Firing), ..Default::default() }).await, vec![alert.id]);
    assert!(filtered(AlertFilter { state: Some(AlertState::Resolved), ..Default::default() }).await.is_empty());
    assert_eq!(filtered(AlertFilter { with_pending_notice: true, ..Default::default() }).await, vec![alert.id]);
    assert!(filtered(AlertFilter { asset_id: Some("W08".into()), ..Default::default() }).await.is_empty());
    assert_eq!(
        filtered(AlertFilter { route: Some("oncall".into()), open_only: true, ..Default::default() }).await,
        vec![alert.id]
    );
    assert!(filtered(AlertFilter { opened_since: Some(at(1)), ..Default::default() }).await.is_empty());
    assert!(filtered(AlertFilter { limit: Some(0), ..Default::default() }).await.is_empty());
    assert!(matches!(
        store.alerts(&AlertFilter { limit: Some(-1), ..Default::default() }).await,
        Err(StoreError::InvalidInput(_))
    ));
    store.close().await;
}

async fn one_open_alert_per_rule_and_asset(db: &TestDb) {
    let store = db.connect().await;
    let first = insert_open(&store, "health", "W01", at(0)).await.expect("first opens");
    assert_eq!(insert_open(&store, "health", "W01", at(1)).await, None, "a second open alert is refused");
    // Another rule or another asset is another alert.
    assert!(insert_open(&store, "no_data", "W01", at(1)).await.is_some());
    assert!(insert_open(&store, "health", "W02", at(1)).await.is_some());

    // Once resolved, the next breach opens a new row.
    let mut tx = store.begin_alerts().await.unwrap();
    let mut open = tx.open_alert("health", "W01").await.unwrap().expect("open alert");
    assert_eq!(open.id, first);
    open.state = AlertState::Resolved;
    open.resolved_at = Some(at(10));
    tx.update_alert(&open).await.unwrap();
    assert_eq!(tx.open_alert("health", "W01").await.unwrap(), None);
    tx.commit().await.unwrap();
    let second = insert_open(&store, "health", "W01", at(20)).await.expect("a new episode opens");
    assert_ne!(second, first);

    // The database itself refuses a second open row, whoever writes it.
    let mut tx = store.begin_alerts().await.unwrap();
    let mut old = store.alert(first).await.unwrap().unwrap();
    old.state = AlertState::Firing;
    assert!(tx.update_alert(&old).await.is_err(), "reopening the old row would make two open alerts");
    drop(tx);
    assert_eq!(store.alerts(&AlertFilter { open_only: true, ..Default::default() }).await.unwrap().len(), 3);
    store.close().await;
}

async fn concurrent_opens_insert_exactly_once(db: &TestDb) {
    let stores = [db.connect().await, db.connect().await];
    for round in 0..5 {
        let asset = format!("W{round:02}");
        let barrier = Arc::new(Barrier::new(6));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (store, barrier, asset) = (stores[i % 2].clone(), barrier.clone(), asset.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                insert_open(&store, "health", &asset, at(i as i64)).await
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.extend(task.await.unwrap());
        }
        assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
    }
    assert_eq!(stores[0].alerts(&AlertFilter::default()).await.unwrap().len(), 5);
    for store in &stores {
        store.close().await;
    }
}

async fn rolled_back_transaction_writes_nothing(db: &TestDb) {
    let store = db.connect().await;
    let mut tx = store.begin_alerts().await.unwrap();
    let alert = tx.insert_alert(&new_alert("health", "W01", at(0))).await.unwrap().unwrap();
    tx.enqueue(&note("k1", "sms", vec![alert.id], at(0))).await.unwrap().expect("enqueued");
    tx.record_heartbeat("parkA/Cam_01", at(0)).await.unwrap();
    tx.rollback().await.unwrap();
    // Dropping an uncommitted transaction rolls back too.
    {
        let mut tx = store.begin_alerts().await.unwrap();
        tx.insert_alert(&new_alert("health", "W02", at(0))).await.unwrap().unwrap();
    }
    assert!(store.alerts(&AlertFilter::default()).await.unwrap().is_empty());
    assert!(store.notifications(&NotificationFilter::default()).await.unwrap().is_empty());
    assert!(store.heartbeats().await.unwrap().is_empty());
    store.close().await;
}

async fn acknowledgement_outcomes(db: &TestDb) {
    let store = db.connect().await;
    let id = insert_open(&store, "health", "W01", at(0)).await.unwrap();
    let AckOutcome::Acknowledged(acked) = store.acknowledge_alert(id, "alice", at(5)).await.unwrap() else {
        panic!("first ack")
    };
    assert_eq!((acked.acked_at, acked.acked_by.as_deref()), (Some(at(5)), Some("alice")));
    let AckOutcome::AlreadyAcknowledged(again) = store.acknowledge_alert(id, "bob", at(9)).await.unwrap() else {
        panic!("second ack")
    };
    assert_eq!(again.acked_by.as_deref(), Some("alice"), "the first acknowledgement is kept");
    assert_eq!(store.acknowledge_alert(id + 100, "bob", at(9)).await.unwrap(), AckOutcome::NotFound);
    assert!(store.acknowledge_alert(id, "", at(9)).await.is_err());

    let other = insert_open(&store, "health", "W02", at(0)).await.unwrap();
    let mut tx = store.begin_alerts().await.unwrap();
    let mut a = tx.open_alert("health", "W02").await.unwrap().unwrap();
    a.state = AlertState::Resolved;
    a.resolved_at = Some(at(3));
    tx.update_alert(&a).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(store.acknowledge_alert(other, "bob", at(9)).await.unwrap(), AckOutcome::Resolved(_)));
    store.close().await;
}

async fn silences_cover_asset_site_and_time(db: &TestDb) {
    let store = db.connect().await;
    let silence = |asset: Option<&str>, site: Option<&str>, from: i64, to: i64| NewSilence {
        asset_id: asset.map(Into::into),
        site: site.map(Into::into),
        starts_at: at(from),
        ends_at: at(to),
        reason: "wheel change".into(),
        created_by: "alice".into(),
    };
    let asset_only = store.create_silence(&silence(Some("W01"), None, 0, 1_000)).await.unwrap();
    let site_wide = store.create_silence(&silence(None, Some("parkB"), 500, 2_000)).await.unwrap();
    let future = store.create_silence(&silence(Some("W09"), Some("parkA"), 5_000, 6_000)).await.unwrap();
    for bad in [
        silence(None, None, 0, 10),
        silence(Some("W01"), None, 10, 10),
        silence(Some("W01"), None, 10, 5),
        silence(Some(""), None, 0, 10),
        NewSilence { reason: String::new(), ..silence(Some("W01"), None, 0, 10) },
    ] {
        assert!(matches!(store.create_silence(&bad).await, Err(StoreError::InvalidInput(_))), "{bad:?}");
    }

    let active = |t: i64| {
        let store = store.clone();
        async move { store.silences(Some(at(t))).await.unwrap().into_iter().map(|s| s.id).collect::<HashSet<_>>() }
    };
    assert_eq!(active(0).await, HashSet::from([asset_only]));
    assert_eq!(active(700).await, HashSet::from([asset_only, site_wide]));
    assert_eq!(active(1_000).await, HashSet::from([site_wide]), "the end is exclusive");
    assert_eq!(store.silences(None).await.unwrap().len(), 3);

    let all = store.silences(None).await.unwrap();
    let by_id = |id| all.iter().find(|s| s.id == id).unwrap().clone();
    assert!(by_id(asset_only).covers("W01", "anywhere", at(10)));
    assert!(!by_id(asset_only).covers("W02", "anywhere", at(10)));
    assert!(by_id(site_wide).covers("INV3", "parkB", at(600)));
    assert!(!by_id(site_wide).covers("INV3", "parkA", at(600)));
    assert!(by_id(future).covers("W09", "parkA", at(5_000)));
    assert!(!by_id(future).covers("W09", "parkB", at(5_000)));
    assert_eq!(by_id(future).reason, "wheel change");
    assert_eq!(by_id(future).created_by, "alice");

    // Ending: a running silence stops at that time; one not yet started disappears; an ended one is left alone.
    assert!(store.end_silence(site_wide, at(800)).await.unwrap());
    assert_eq!(active(900).await, HashSet::from([asset_only]));
    assert!(store.end_silence(future, at(800)).await.unwrap());
    assert!(!store.end_silence(asset_only, at(3_000)).await.unwrap());
    assert!(!store.end_silence(future, at(800)).await.unwrap());
    assert_eq!(store.silences(None).await.unwrap().len(), 2);

    // Inside a transaction, the engine sees the same.
    let mut tx = store.begin_alerts().await.unwrap();
    assert_eq!(tx.active_silences(at(10)).await.unwrap().len(), 1);
    tx.rollback().await.unwrap();
    store.close().await;
}

async fn heartbeats_keep_the_newest_time(db: &TestDb) {
    let store = db.connect().await;
    assert_eq!(store.heartbeat("parkA/Cam_01").await.unwrap(), None);
    store.record_heartbeat("parkA/Cam_01", at(1_000)).await.unwrap();
    store.record_heartbeat("parkA/Cam_01", at(500)).await.unwrap();
    store.record_heartbeat("parkA/Cam_02", at(700)).await.unwrap();
    assert_eq!(store.heartbeat("parkA/Cam_01").await.unwrap().unwrap().last_seen, at(1_000));
    store.record_heartbeat("parkA/Cam_01", at(2_000)).await.unwrap();
    let all = store.heartbeats().await.unwrap();
    assert_eq!(
        all.iter().map(|h| (h.source.as_str(), h.last_seen)).collect::<Vec<_>>(),
        [("parkA/Cam_01", at(2_000)), ("parkA/Cam_02", at(700))]
    );
    let mut tx = store.begin_alerts().await.unwrap();
    tx.record_heartbeat("parkA/Cam_02", at(3_000)).await.unwrap();
    assert_eq!(tx.heartbeat("parkA/Cam_02").await.unwrap().unwrap().last_seen, at(3_000));
    tx.commit().await.unwrap();
    assert!(store.record_heartbeat("", at(0)).await.is_err());
    store.close().await;
}

async fn enqueue_is_idempotent_by_key(db: &TestDb) {
    let store = db.connect().await;
    let id = store.enqueue_notification(&note("k1", "sms", vec![3, 4], at(0))).await.unwrap().expect("stored");
    let mut different = note("k1", "email", vec![9], at(50));
    different.text = "other".into();
    assert_eq!(store.enqueue_notification(&different).await.unwrap(), None, "same key: nothing stored");
    let stored = store.notification(id).await.unwrap().unwrap();
    assert_eq!(stored.alert_ids, vec![3, 4]);
    assert_eq!((stored.channel.as_str(), stored.text.as_str()), ("sms", "text k1"));
    assert_eq!(stored.html.as_deref(), Some("<p>hi</p>"));
    assert_eq!(stored.payload, serde_json::json!({"key": "k1", "n": [1, 2]}));
    assert_eq!((stored.status, stored.attempts), (NotificationStatus::Pending, 0));
    assert_eq!((stored.created_at, stored.next_attempt_at), (at(0), at(0)));
    assert_eq!((stored.sent_at, stored.provider_id.clone(), stored.claimed_by.clone()), (None, None, None));
    for bad in [note("", "sms", vec![], at(0)), note("k2", "fax", vec![], at(0))] {
        assert!(matches!(store.enqueue_notification(&bad).await, Err(StoreError::InvalidInput(_))));
    }
    store.close().await;
}

async fn claim_takes_due_rows_of_known_channels(db: &TestDb) {
    let store = db.connect().await;
    for (key, channel, created) in [("a", "sms", 0), ("b", "email", 10), ("c", "webhook", 20), ("d", "sms", 5_000)] {
        store.enqueue_notification(&note(key, channel, vec![1], at(created))).await.unwrap().unwrap();
    }
    let sms_only = Claim { channels: vec!["sms".into()], ..claim("w1", at(100), 10) };
    let got = store.claim_notifications(&sms_only).await.unwrap();
    assert_eq!(got.iter().map(|n| n.idempotency_key.as_str()).collect::<Vec<_>>(), ["a"], "d is not due yet");
    let a = &got[0];
    assert_eq!(a.status, NotificationStatus::Sending);
    assert_eq!(a.attempts, 1);
    assert_eq!(a.claimed_by.as_deref(), Some("w1"));
    assert_eq!(a.claimed_until, Some(at(100) + chrono::Duration::seconds(60)));

    let rest = store.claim_notifications(&claim("w2", at(100), 1)).await.unwrap();
    assert_eq!(rest.iter().map(|n| n.idempotency_key.as_str()).collect::<Vec<_>>(), ["b"], "limit, oldest first");
    let rest = store.claim_notifications(&claim("w2", at(6_000), 10)).await.unwrap();
    assert_eq!(rest.iter().map(|n| n.idempotency_key.as_str()).collect::<Vec<_>>(), ["c", "d"]);
    assert!(store.claim_notifications(&claim("w3", at(6_000), 10)).await.unwrap().is_empty());
    assert!(store
        .claim_notifications(&Claim { channels: vec![], ..claim("w3", at(9_000), 10) })
        .await
        .unwrap()
        .is_empty());
    assert!(store.claim_notifications(&claim("", at(0), 1)).await.is_err());
    store.close().await;
}

async fn sent_rows_are_never_claimed_again(db: &TestDb) {
    let store = db.connect().await;
    let id = store.enqueue_notification(&note("k", "sms", vec![1], at(0))).await.unwrap().unwrap();
    let claimed = store.claim_notifications(&claim("w1", at(0), 10)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(store.mark_notification_sent(id, "SM123", at(1)).await.unwrap());
    assert!(!store.mark_notification_sent(id, "SM999", at(2)).await.unwrap(), "the first record is kept");
    let sent = store.notification(id).await.unwrap().unwrap();
    assert_eq!(
        (sent.status, sent.provider_id.as_deref(), sent.sent_at),
        (NotificationStatus::Sent, Some("SM123"), Some(at(1)))
    );
    assert_eq!(sent.claimed_until, None);
    // Not even long after any lease could have run out.
    assert!(store.claim_notifications(&claim("w2", at(10_000_000), 10)).await.unwrap().is_empty());
    // A late retry or failure report from the claimer changes nothing.
    assert!(!store.retry_notification(id, "w1", at(5), "late").await.unwrap());
    assert!(!store.fail_notification(id, "w1", "late", at(5)).await.unwrap());
    assert_eq!(store.notification(id).await.unwrap().unwrap().status, NotificationStatus::Sent);
    store.close().await;
}

async fn retry_fail_and_release_need_the_claim(db: &TestDb) {
    let store = db.connect().await;
    let a = store.enqueue_notification(&note("a", "sms", vec![1], at(0))).await.unwrap().unwrap();
    let b = store.enqueue_notification(&note("b", "sms", vec![1], at(0))).await.unwrap().unwrap();
    let c = store.enqueue_notification(&note("c", "sms", vec![1], at(0))).await.unwrap().unwrap();
    assert_eq!(store.claim_notifications(&claim("w1", at(0), 10)).await.unwrap().len(), 3);

    assert!(!store.retry_notification(a, "w2", at(30_000), "not mine").await.unwrap());
    assert!(store.retry_notification(a, "w1", at(30_000), "HTTP 503").await.unwrap());
    let row = store.notification(a).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.next_attempt_at, row.last_error.as_deref()),
        (NotificationStatus::Pending, at(30_000), Some("HTTP 503"))
    );
    assert_eq!(row.attempts, 1);

    assert!(!store.fail_notification(b, "w2", "not mine", at(1)).await.unwrap());
    assert!(store.fail_notification(b, "w1", "Twilio 21211: invalid number", at(1)).await.unwrap());
    let row = store.notification(b).await.unwrap().unwrap();
    assert_eq!((row.status, row.failed_at), (NotificationStatus::Failed, Some(at(1))));
    assert!(store.claim_notifications(&claim("w2", at(10_000_000), 10)).await.unwrap().iter().all(|n| n.id != b));

    // The claim above re-took `a` (due at 30 s) and `c` (its lease had run out): w1 may no longer release `c`.
    assert_eq!(store.release_notifications(&[c], "w1").await.unwrap(), 0);
    let row = store.notification(c).await.unwrap().unwrap();
    assert_eq!(row.claimed_by.as_deref(), Some("w2"));
    assert_eq!(store.release_notifications(&[c], "w2").await.unwrap(), 1);
    let row = store.notification(c).await.unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (NotificationStatus::Pending, 1), "two claims, one released: one attempt");
    store.close().await;
}

async fn expired_lease_is_claimed_again(db: &TestDb) {
    let store = db.connect().await;
    let id = store.enqueue_notification(&note("k", "sms", vec![1], at(0))).await.unwrap().unwrap();
    assert_eq!(store.claim_notifications(&claim("crashed", at(0), 10)).await.unwrap().len(), 1);
    // While the lease holds, nobody else takes it.
    assert!(store.claim_notifications(&claim("w2", at(59_999), 10)).await.unwrap().is_empty());
    let again = store.claim_notifications(&claim("w2", at(60_000), 10)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts, again[0].claimed_by.as_deref()), (id, 2, Some("w2")));
    // The crashed claimer, back, may not report a retry over the new claim.
    assert!(!store.retry_notification(id, "crashed", at(61_000), "stale").await.unwrap());
    store.close().await;
}

async fn notification_filters_and_counts(db: &TestDb) {
    let store = db.connect().await;
    let counts = store.notification_counts().await.unwrap();
    assert_eq!((counts.pending, counts.sent, counts.failed, counts.oldest_unsent), (0, 0, 0, None));
    store.enqueue_notification(&note("a", "sms", vec![1, 12], at(0))).await.unwrap().unwrap();
    store.enqueue_notification(&note("b", "email", vec![2], at(10))).await.unwrap().unwrap();
    let c = store.enqueue_notification(&note("c", "sms", vec![21], at(20))).await.unwrap().unwrap();
    let claimed = store.claim_notifications(&Claim { channels: vec!["sms".into()], ..claim("w", at(30), 10) }).await;
    assert_eq!(claimed.unwrap().len(), 2);
    store.mark_notification_sent(c, "SM1", at(31)).await.unwrap();

    let keys = |f: NotificationFilter| {
        let store = store.clone();
        async move { store.notifications(&f).await.unwrap().into_iter().map(|n| n.idempotency_key).collect::<Vec<_>>() }
    };
    assert_eq!(keys(NotificationFilter::default()).await, ["c", "b", "a"]);
    assert_eq!(keys(NotificationFilter { channel: Some("sms".into()), ..Default::default() }).await, ["c", "a"]);
    assert_eq!(keys(NotificationFilter { status: Some(NotificationStatus::Sent), ..Default::default() }).await, ["c"]);
    assert_eq!(keys(NotificationFilter { alert_id: Some(1), ..Default::default() }).await, ["a"]);
    assert_eq!(keys(NotificationFilter { alert_id: Some(2), ..Default::default() }).await, ["b"]);
    assert_eq!(keys(NotificationFilter { alert_id: Some(12), ..Default::default() }).await, ["a"]);
    assert!(keys(NotificationFilter { alert_id: Some(3), ..Default::default() }).await.is_empty());
    assert_eq!(keys(NotificationFilter { limit: Some(1), ..Default::default() }).await, ["c"]);
    assert_eq!(
        keys(NotificationFilter {
            route: Some("oncall".into()),
            recipient: Some("+4915100000001".into()),
            ..Default::default()
        })
        .await
        .len(),
        3
    );

    let counts = store.notification_counts().await.unwrap();
    assert_eq!((counts.pending, counts.sending, counts.sent, counts.failed), (1, 1, 1, 0));
    assert_eq!(counts.oldest_unsent, Some(at(0)));
    store.close().await;
}

async fn concurrent_claimers_take_each_row_once(db: &TestDb) {
    const ROWS: usize = 200;
    let stores = [db.connect().await, db.connect().await];
    for i in 0..ROWS {
        store_note(&stores[i % 2], i).await;
    }
    let barrier = Arc::new(Barrier::new(6));
    let mut tasks = Vec::new();
    for w in 0..6 {
        let (store, barrier) = (stores[w % 2].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut mine = Vec::new();
            loop {
                let got = store.claim_notifications(&claim(&format!("w{w}"), at(1_000), 7)).await.unwrap();
                if got.is_empty() {
                    break mine;
                }
                for n in got {
                    assert!(store.mark_notification_sent(n.id, &format!("P{}", n.id), at(1_001)).await.unwrap());
                    mine.push(n.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().copied().collect();
    assert_eq!((all.len(), unique.len()), (ROWS, ROWS), "every row claimed by exactly one claimer");
    assert_eq!(stores[0].notification_counts().await.unwrap().sent, ROWS as i64);
    for store in &stores {
        store.close().await;
    }
}

async fn store_note(store: &Store, i: usize) {
    store.enqueue_notification(&note(&format!("n{i}"), "sms", vec![i as i64], at(i as i64))).await.unwrap().unwrap();
}

async fn trend_and_asset_kind_are_read_inside_the_transaction(db: &TestDb) {
    let store = db.connect().await;
    for (i, health) in [90.0, 80.0, 65.0].into_iter().enumerate() {
        record(&store, &format!("h{i}"), "W05", at(i as i64 * 1_000), health, at(i as i64 * 1_000 + 1)).await.unwrap();
    }
    let mut tx = store.begin_alerts().await.unwrap();
    let trend = tx.recent_predictions("W05", 2).await.unwrap();
    assert_eq!(trend.iter().map(|p| p.health_score).collect::<Vec<_>>(), [65.0, 80.0], "newest first");
    assert_eq!(trend[0].model, "wheel-health");
    assert_eq!(tx.asset_kind("W05").await.unwrap(), Some(prognos_store::AssetKind::Wheel));
    assert_eq!(tx.asset_kind("nope").await.unwrap(), None);
    tx.rollback().await.unwrap();
    store.close().await;
}

async fn a_transaction_reading_an_alert_waits_for_the_one_deciding_it(db: &TestDb) {
    let stores = [db.connect().await, db.connect().await];
    insert_open(&stores[0], "health", "W01", at(0)).await.unwrap();
    let mut first = stores[0].begin_alerts().await.unwrap();
    let mut alert = first.open_alert("health", "W01").await.unwrap().unwrap();
    let second = {
        let store = stores[1].clone();
        tokio::spawn(async move {
            let mut tx = store.begin_alerts().await.unwrap();
            let seen = tx.open_alert("health", "W01").await.unwrap().unwrap();
            tx.rollback().await.unwrap();
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second reader must wait for the first transaction");
    alert.consecutive = 5;
    first.update_alert(&alert).await.unwrap();
    first.commit().await.unwrap();
    let seen = second.await.unwrap();
    assert_eq!(seen.consecutive, 5, "and then see its decision");
    for store in &stores {
        store.close().await;
    }
}
