//! The store's behaviour, run against both backends: every scenario below becomes `sqlite::<name>` and
//! `postgres::<name>`.

mod common;

use std::sync::Arc;

use common::{at, capture, features, prediction, record, TestDb};
use prognos_store::{
    stored_timestamp, AssetFilter, AssetKind, Backend, Contribution, RecordOutcome, Store, StoreError,
    SQLITE_MIGRATIONS,
};
use tokio::sync::Barrier;

prognos_store::on_both_backends!(
    migrations_apply_once_across_reconnects,
    record_reads_back_exact_values,
    duplicate_hash_returns_existing_id_and_writes_nothing,
    concurrent_duplicates_insert_exactly_once,
    quarantine_rows_read_back_newest_first,
    latest_predictions_are_newest_first,
    predictions_for_asset_filters_and_limits,
    health_trend_is_a_half_open_range,
    asset_span_widens_with_out_of_order_captures,
    non_finite_features_read_back_as_nan,
    invalid_input_is_refused_and_writes_nothing,
    explanations_read_back_with_their_prediction,
);

fn expected_backend(db: &TestDb) -> Backend {
    if db.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

async fn migrations_apply_once_across_reconnects(db: &TestDb) {
    let store = db.connect().await;
    assert_eq!(store.backend(), expected_backend(db));
    let id = store.record_scored_capture(&capture("h1", "W07", at(0)), &features(1.0), &prediction(90.0, at(5))).await;
    let id = id.unwrap().capture_id();
    store.close().await;

    // Reconnecting runs the migrator again: nothing is re-applied and the data survives.
    for _ in 0..2 {
        let store = db.connect().await;
        assert_eq!(store.count_captures().await.unwrap(), 1);
        assert_eq!(store.capture_by_hash("h1").await.unwrap(), Some(id));
        store.close().await;
    }
    let applied: i64 = if expected_backend(db) == Backend::Sqlite {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    };
    assert_eq!(applied, SQLITE_MIGRATIONS.iter().count() as i64);
}

async fn record_reads_back_exact_values(db: &TestDb) {
    let store = db.connect().await;
    // Sub-microsecond parts are truncated by the store; everything else must come back bit for bit.
    let captured = at(1_234) + chrono::Duration::nanoseconds(987);
    let scored = at(2_000) + chrono::Duration::nanoseconds(1_500);
    let new_capture = capture("abc123", "W07", captured);
    let new_features = features(0.3);
    let mut new_prediction = prediction(97.123_456_789, scored);
    new_prediction.probabilities = vec![("healthy".into(), 0.971_234_567_890_123), ("defect".into(), 1e-17)];

    let before = chrono::Utc::now();
    let outcome = store.record_scored_capture(&new_capture, &new_features, &new_prediction).await.unwrap();
    let RecordOutcome::Inserted(id) = outcome else { panic!("expected Inserted, got {outcome:?}") };
    assert_eq!(store.capture_by_hash("abc123").await.unwrap(), Some(id));
    assert_eq!(store.capture_by_hash("nope").await.unwrap(), None);

    let stored = store.capture(id).await.unwrap().expect("capture row");
    let mut expected = new_capture.clone();
    expected.captured_at = stored_timestamp(captured);
    assert_eq!(stored.capture, expected);
    assert_eq!(stored.capture.captured_at.timestamp_subsec_nanos(), 234_000_000);
    assert!(stored.received_at >= stored_timestamp(before) && stored.received_at <= chrono::Utc::now());

    assert_eq!(store.features_for_capture(id).await.unwrap(), vec![new_features]);

    let predictions = store.predictions_for_asset("W07", 10).await.unwrap();
    assert_eq!(predictions.len(), 1);
    let p = &predictions[0];
    assert_eq!(p.asset_id, "W07");
    assert_eq!(p.capture_id, Some(id));
    assert_eq!(p.model, "wheel-health");
    assert_eq!(p.model_version, "1.0.0");
    assert_eq!(p.health_score.to_bits(), 97.123_456_789f64.to_bits());
    assert_eq!(p.label, "healthy");
    assert_eq!(p.probabilities, new_prediction.probabilities);
    assert_eq!(p.scored_at, stored_timestamp(scored));
    assert_eq!(p.scored_at, at(2_000) + chrono::Duration::microseconds(1));
    assert_eq!(store.latest_predictions(10).await.unwrap(), predictions);

    let asset = store.asset("W07").await.unwrap().expect("asset row");
    assert_eq!(asset.kind, AssetKind::Wheel);
    assert_eq!(asset.site, "parkA");
    assert_eq!((asset.first_seen, asset.last_seen), (stored_timestamp(captured), stored_timestamp(captured)));
    assert_eq!(store.asset("W99").await.unwrap(), None);
    assert_eq!(store.count_captures().await.unwrap(), 1);
    assert_eq!(store.count_predictions().await.unwrap(), 1);
    assert_eq!(store.count_feature_rows().await.unwrap(), 1);
    store.close().await;
}

async fn duplicate_hash_returns_existing_id_and_writes_nothing(db: &TestDb) {
    let store = db.connect().await;
    let first = record(&store, "dup", "W01", at(0), 80.0, at(1)).await.unwrap();
    let RecordOutcome::Inserted(id) = first else { panic!("first record must insert, got {first:?}") };

    // Same hash, everything else different (even the wheel and a later time): nothing of it may be stored.
    assert_eq!(record(&store, "dup", "W02", at(60_000), 10.0, at(60_001)).await.unwrap(), RecordOutcome::Duplicate(id));
    assert_eq!(record(&store, "dup", "W01", at(0), 80.0, at(1)).await.unwrap(), RecordOutcome::Duplicate(id));

    assert_eq!(store.count_captures().await.unwrap(), 1);
    assert_eq!(store.count_predictions().await.unwrap(), 1);
    assert_eq!(store.count_feature_rows().await.unwrap(), 1);
    assert_eq!(store.asset("W02").await.unwrap(), None, "the duplicate's asset must not be created");
    assert_eq!(store.asset("W01").await.unwrap().unwrap().last_seen, at(0));
    let kept = store.latest_predictions(10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].health_score, 80.0);
    assert_eq!(store.features_for_capture(id).await.unwrap(), vec![features(80.0)]);

    // A new hash still inserts, with a new id.
    let other = record(&store, "other", "W01", at(2), 70.0, at(3)).await.unwrap();
    let RecordOutcome::Inserted(other_id) = other else { panic!("new hash must insert, got {other:?}") };
    assert_ne!(other_id, id);
    store.close().await;
}

async fn concurrent_duplicates_insert_exactly_once(db: &TestDb) {
    // Two stores (two pools, as two processes would have), several writers each, all racing on the same hash.
    let stores = [db.connect().await, db.connect().await];
    const WRITERS_PER_STORE: usize = 4;
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let hash = format!("race-{round}");
        let barrier = Arc::new(Barrier::new(stores.len() * WRITERS_PER_STORE));
        let mut tasks = Vec::new();
        for (s, store) in stores.iter().enumerate() {
            for w in 0..WRITERS_PER_STORE {
                let (store, barrier, hash) = (store.clone(), barrier.clone(), hash.clone());
                tasks.push(tokio::spawn(async move {
                    let c = capture(&hash, "W03", at(round as i64));
                    let health = (s * WRITERS_PER_STORE + w) as f64;
                    barrier.wait().await;
                    store.record_scored_capture(&c, &features(health as f32), &prediction(health, at(10))).await
                }));
            }
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap().expect("no writer may fail"));
        }
        let inserted: Vec<i64> = outcomes
            .iter()
            .filter_map(|o| if let RecordOutcome::Inserted(id) = o { Some(*id) } else { None })
            .collect();
        assert_eq!(inserted.len(), 1, "round {round}: exactly one writer inserts, got {outcomes:?}");
        assert!(outcomes.iter().all(|o| o.capture_id() == inserted[0]), "round {round}: {outcomes:?}");
        assert_eq!(stores[0].capture_by_hash(&hash).await.unwrap(), Some(inserted[0]));
    }
    assert_eq!(stores[1].count_captures().await.unwrap(), ROUNDS as i64);
    assert_eq!(stores[1].count_predictions().await.unwrap(), ROUNDS as i64);
    assert_eq!(stores[1].count_feature_rows().await.unwrap(), ROUNDS as i64);
    for store in &stores {
        store.close().await;
    }
}

async fn quarantine_rows_read_back_newest_first(db: &TestDb) {
    let store = db.connect().await;
    assert!(store.recent_quarantine(10).await.unwrap().is_empty());
    store.record_quarantine("Cam_01/a.dat", "truncated .dat", at(1_500)).await.unwrap();
    store.record_quarantine("Cam_02/b.xml", "bad XML: unexpected end", at(200)).await.unwrap();
    store.record_quarantine("Cam_01/c.dat", "no RFID match", at(1_000_000)).await.unwrap();
    assert_eq!(store.count_quarantine().await.unwrap(), 3);

    let rows = store.recent_quarantine(10).await.unwrap();
    let seen: Vec<(&str, &str, _)> = rows.iter().map(|r| (r.source.as_str(), r.reason.as_str(), r.at)).collect();
    assert_eq!(
        seen,
        [
            ("Cam_01/c.dat", "no RFID match", at(1_000_000)),
            ("Cam_01/a.dat", "truncated .dat", at(1_500)),
            ("Cam_02/b.xml", "bad XML: unexpected end", at(200)),
        ]
    );
    assert_eq!(store.recent_quarantine(1).await.unwrap().len(), 1);
    // Quarantine is independent of captures.
    assert_eq!(store.count_captures().await.unwrap(), 0);
    store.close().await;
}

/// Scoring times chosen to break any ordering that is not chronological: whole seconds against fractions, a
/// different year, a different day and a tie (broken by id).
fn tricky_times() -> Vec<chrono::DateTime<chrono::Utc>> {
    vec![
        at(1_000),
        at(500),
        at(1_001),
        at(999),
        at(-365 * 24 * 3_600_000),
        at(24 * 3_600_000),
        at(500) + chrono::Duration::microseconds(1),
        at(1_000),
    ]
}

async fn latest_predictions_are_newest_first(db: &TestDb) {
    let store = db.connect().await;
    let times = tricky_times();
    let mut recorded = Vec::new();
    for (i, when) in times.iter().enumerate() {
        let asset = if i % 2 == 0 { "W10" } else { "W11" };
        let c = capture(&format!("t{i}"), asset, at(0));
        let id = store.record_scored_capture(&c, &features(1.0), &prediction(i as f64, *when)).await.unwrap();
        recorded.push((*when, id.capture_id()));
    }
    // Expected: by time descending, ties by insertion (id) descending.
    let mut expected = recorded.clone();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let latest = store.latest_predictions(100).await.unwrap();
    let got: Vec<_> = latest.iter().map(|p| (p.scored_at, p.capture_id.unwrap())).collect();
    assert_eq!(got, expected);
    assert!(latest.windows(2).all(|w| w[0].scored_at > w[1].scored_at || w[0].id > w[1].id));

    let top3 = store.latest_predictions(3).await.unwrap();
    assert_eq!(top3, latest[..3].to_vec());
    assert!(store.latest_predictions(0).await.unwrap().is_empty());
    store.close().await;
}

async fn predictions_for_asset_filters_and_limits(db: &TestDb) {
    let store = db.connect().await;
    let times = tricky_times();
    for (i, when) in times.iter().enumerate() {
        let asset = if i % 3 == 0 { "W20" } else { "W21" };
        let c = capture(&format!("a{i}"), asset, at(0));
        store.record_scored_capture(&c, &features(1.0), &prediction(i as f64, *when)).await.unwrap();
    }
    let all = store.latest_predictions(100).await.unwrap();
    for asset in ["W20", "W21"] {
        let expected: Vec<_> = all.iter().filter(|p| p.asset_id == asset).cloned().collect();
        assert!(!expected.is_empty());
        assert_eq!(store.predictions_for_asset(asset, 100).await.unwrap(), expected);
        assert_eq!(store.predictions_for_asset(asset, 2).await.unwrap(), expected[..2].to_vec());
    }
    assert_eq!(store.predictions_for_asset("W20", 100).await.unwrap().len(), 3);
    assert!(store.predictions_for_asset("W2", 100).await.unwrap().is_empty(), "no prefix matching");
    assert!(store.predictions_for_asset("nobody", 100).await.unwrap().is_empty());
    store.close().await;
}

async fn health_trend_is_a_half_open_range(db: &TestDb) {
    let store = db.connect().await;
    for (i, ms) in [0i64, 999, 1_000, 1_500, 2_000, 2_001].iter().enumerate() {
        let c = capture(&format!("r{i}"), "W30", at(*ms));
        store.record_scored_capture(&c, &features(1.0), &prediction(50.0 + i as f64, at(*ms))).await.unwrap();
    }
    let other = capture("r-other", "W31", at(1_200));
    store.record_scored_capture(&other, &features(1.0), &prediction(1.0, at(1_200))).await.unwrap();

    let trend = |from, to| {
        let request = prognos_store::TrendRequest {
            asset_id: "W30".into(),
            metric: prognos_store::TrendMetric::HealthScore,
            from,
            to,
            bucket: chrono::Duration::seconds(1),
        };
        let store = store.clone();
        async move { store.trend(&request).await.unwrap() }
    };
    let one = trend(at(1_000), at(2_000)).await;
    let got: Vec<_> = one.iter().map(|b| (b.start, b.count, b.min, b.max)).collect();
    assert_eq!(got, [(at(1_000), 2, 52.0, 53.0)], "from inclusive, to exclusive, one asset");
    let everything = trend(at(-1), at(10_000)).await;
    assert_eq!(everything.iter().map(|b| b.count).sum::<i64>(), 6);
    assert!(everything.windows(2).all(|w| w[0].start < w[1].start), "oldest first");
    store.close().await;
}

async fn asset_span_widens_with_out_of_order_captures(db: &TestDb) {
    let store = db.connect().await;
    for (i, ms) in [5_000i64, 1_000, 9_000, 3_000].iter().enumerate() {
        let c = capture(&format!("s{i}"), "W40", at(*ms));
        store.record_scored_capture(&c, &features(1.0), &prediction(90.0, at(*ms))).await.unwrap();
    }
    let asset = store.asset("W40").await.unwrap().unwrap();
    assert_eq!((asset.first_seen, asset.last_seen), (at(1_000), at(9_000)));

    // The asset follows the site of its newest observation; an older one elsewhere does not move it.
    let mut moved = capture("s-moved", "W40", at(10_000));
    moved.site = "parkB".into();
    store.record_scored_capture(&moved, &features(1.0), &prediction(90.0, at(10_000))).await.unwrap();
    let mut stale = capture("s-stale", "W40", at(0));
    stale.site = "parkC".into();
    store.record_scored_capture(&stale, &features(1.0), &prediction(90.0, at(0))).await.unwrap();
    let asset = store.asset("W40").await.unwrap().unwrap();
    assert_eq!((asset.site.as_str(), asset.first_seen, asset.last_seen), ("parkB", at(0), at(10_000)));
    store.close().await;
}

async fn non_finite_features_read_back_as_nan(db: &TestDb) {
    let store = db.connect().await;
    let mut f = features(1.0);
    f.values = vec![f32::NAN, f32::INFINITY, 2.5];
    let id = store.record_scored_capture(&capture("nan", "W50", at(0)), &f, &prediction(60.0, at(0))).await.unwrap();
    let back = store.features_for_capture(id.capture_id()).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].names, f.names);
    assert!(back[0].values[0].is_nan() && back[0].values[1].is_nan());
    assert_eq!(back[0].values[2], 2.5);
    store.close().await;
}

async fn invalid_input_is_refused_and_writes_nothing(db: &TestDb) {
    let store = db.connect().await;
    let mut f = features(1.0);
    f.values.pop();
    let err = store.record_scored_capture(&capture("bad1", "W60", at(0)), &f, &prediction(60.0, at(0))).await;
    assert!(matches!(err, Err(StoreError::InvalidInput(_))), "{err:?}");

    let mut f = features(1.0);
    f.names[1] = "tread_depth".into();
    let err = store.record_scored_capture(&capture("bad2", "W60", at(0)), &f, &prediction(60.0, at(0))).await;
    assert!(matches!(err, Err(StoreError::InvalidInput(_))), "{err:?}");

    let err = store.record_scored_capture(&capture("", "W60", at(0)), &features(1.0), &prediction(60.0, at(0))).await;
    assert!(matches!(err, Err(StoreError::InvalidInput(_))), "{err:?}");

    let err =
        store.record_scored_capture(&capture("bad3", "W60", at(0)), &features(1.0), &prediction(f64::NAN, at(0))).await;
    assert!(matches!(err, Err(StoreError::InvalidInput(_))), "{err:?}");

    assert!(matches!(store.latest_predictions(-1).await, Err(StoreError::InvalidInput(_))));
    assert_eq!(store.count_captures().await.unwrap(), 0);
    assert_eq!(store.asset("W60").await.unwrap(), None);
    store.close().await;
}

async fn explanations_read_back_with_their_prediction(db: &TestDb) {
    let store = db.connect().await;
    let explanation = vec![
        Contribution { feature: "flat_spot".into(), value: 0.75, median: 0.01, contribution: -41.5 },
        Contribution { feature: "crack_len".into(), value: f64::NAN, median: 2.0, contribution: -3.25 },
    ];
    let (f, p) = (features(1.0), prediction(40.0, at(1)));
    let outcome = store.record_explained_capture(&capture("e1", "W70", at(0)), &f, &p, Some(&explanation)).await;
    assert!(matches!(outcome.unwrap(), RecordOutcome::Inserted(_)));
    store.record_scored_capture(&capture("e2", "W71", at(0)), &f, &prediction(90.0, at(2))).await.unwrap();

    let got = store.predictions_for_asset("W70", 10).await.unwrap();
    let back = got[0].explanation.clone().expect("stored with its prediction");
    assert_eq!(back.len(), 2);
    assert_eq!(back[0], explanation[0], "order and values survive");
    assert_eq!(back[1].feature, "crack_len");
    assert!(back[1].value.is_nan(), "a missing value reads back as NaN");
    let by_capture = store.predictions_for_capture(got[0].capture_id.unwrap()).await.unwrap();
    assert_eq!(by_capture[0].explanation.as_ref().map(Vec::len), Some(2));
    assert_eq!(store.predictions_for_asset("W71", 10).await.unwrap()[0].explanation, None, "not explained");
    let listed = store.list_assets(&AssetFilter { limit: 10, ..AssetFilter::default() }).await.unwrap();
    let w70 = listed.iter().find(|a| a.asset.id == "W70").unwrap();
    assert_eq!(w70.latest.as_ref().unwrap().explanation.as_ref().map(Vec::len), Some(2), "asset listing too");

    let bad = vec![Contribution { feature: String::new(), value: 1.0, median: 0.0, contribution: -1.0 }];
    let err = store.record_explained_capture(&capture("e3", "W72", at(0)), &f, &p, Some(&bad)).await;
    assert!(matches!(err, Err(StoreError::InvalidInput(_))), "{err:?}");
    assert_eq!(store.asset("W72").await.unwrap(), None);
    store.close().await;
}

/// Stores are `Send + Sync + Clone` so the ingestion can share one across tasks.
#[allow(dead_code)]
fn store_is_shareable(store: Store) -> impl Send + Sync + Clone + 'static {
    store
}
