//! Readings and window rows on both backends.

use chrono::{Duration, TimeZone, Utc};
use prognos_core::{Metric, Reading};

use crate::connect::on_pool;
use crate::testing::TestDb;
use crate::{InverterDay, NewPrediction, NewWindowRow};

fn reading(asset: &str, minute: i64, ac: f64) -> Reading {
    let t0 = Utc.with_ymd_and_hms(2020, 5, 15, 6, 0, 0).unwrap();
    let mut r = Reading::new(asset, t0 + Duration::minutes(minute));
    r.set(Metric::AcPowerW, ac);
    r.set(Metric::IrradianceWM2, 512.25);
    r
}

async fn readings_are_stored_once_and_read_back_exactly(db: &TestDb) {
    let store = db.connect().await;
    let batch: Vec<Reading> =
        ["INV-A", "INV-B"].iter().flat_map(|a| (0..3).map(move |i| reading(a, i * 15, 1000.0 + i as f64))).collect();
    let out = store.insert_readings("plant", &batch).await.unwrap();
    assert_eq!((out.inserted, out.duplicate), (6, 0));
    // An overlapping batch: two already stored, one new.
    let again = vec![reading("INV-A", 0, 1.0), reading("INV-A", 15, 2.0), reading("INV-A", 45, 3.0)];
    let out = store.insert_readings("plant", &again).await.unwrap();
    assert_eq!((out.inserted, out.duplicate), (1, 2));
    assert_eq!(store.count_readings(Some("plant")).await.unwrap(), 7);
    assert_eq!(store.count_readings(Some("other")).await.unwrap(), 0);
    let from = Utc.with_ymd_and_hms(2020, 5, 15, 6, 15, 0).unwrap();
    let back = store.readings_in_range("plant", from, from + Duration::minutes(30)).await.unwrap();
    let keys: Vec<(String, i64)> = back.iter().map(|r| (r.asset.clone(), (r.ts - from).num_minutes())).collect();
    assert_eq!(keys, [("INV-A".into(), 0), ("INV-B".into(), 0), ("INV-A".into(), 15), ("INV-B".into(), 15)]);
    assert_eq!(back[0], batch[1], "the first write wins; values round-trip, unreported stay None");
    let last = store.last_readings_before("plant", from + Duration::minutes(30)).await.unwrap();
    assert_eq!(last.len(), 2);
    assert_eq!((last["INV-A"] - from).num_minutes(), 15, "before is exclusive");
    assert_eq!((last["INV-B"] - from).num_minutes(), 15);
    let last = store.last_readings_before("plant", from + Duration::hours(1)).await.unwrap();
    assert_eq!(((last["INV-A"] - from).num_minutes(), (last["INV-B"] - from).num_minutes()), (30, 15));
    assert!(store.last_readings_before("plant", from - Duration::hours(1)).await.unwrap().is_empty());
    let asset = store.asset("INV-A").await.unwrap().unwrap();
    assert_eq!(asset.kind, crate::AssetKind::Inverter);
    assert_eq!(asset.site, "plant");
    assert_eq!(asset.last_seen, batch[0].ts + Duration::minutes(45));
}

async fn an_inverter_that_moved_site_keeps_each_sites_readings_apart(db: &TestDb) {
    // A site's readings are found through the inverters it has readings of: one that moved is read under each
    // site for the readings it made there, never under both.
    let store = db.connect().await;
    store.insert_readings("plant", &[reading("INV-A", 0, 1.0), reading("INV-B", 0, 2.0)]).await.unwrap();
    store.insert_readings("other", &[reading("INV-A", 15, 3.0), reading("INV-C", 15, 4.0)]).await.unwrap();
    let from = Utc.with_ymd_and_hms(2020, 5, 15, 0, 0, 0).unwrap();
    let to = from + Duration::days(1);
    let keys = |rs: Vec<Reading>| {
        rs.into_iter()
            .map(|r| {
                let ac = r.get(Metric::AcPowerW);
                (r.asset, ac)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(store.readings_in_range("plant", from, to).await.unwrap()),
        [("INV-A".to_string(), Some(1.0)), ("INV-B".to_string(), Some(2.0))]
    );
    assert_eq!(
        keys(store.readings_in_range("other", from, to).await.unwrap()),
        [("INV-A".to_string(), Some(3.0)), ("INV-C".to_string(), Some(4.0))]
    );
    assert_eq!(store.count_readings(Some("plant")).await.unwrap(), 2);
    assert_eq!(store.count_readings(Some("other")).await.unwrap(), 2);
    assert_eq!(store.count_readings_in_range("other", from, to).await.unwrap(), 2);
    assert_eq!(store.count_readings(None).await.unwrap(), 4);
}

async fn a_wheel_id_is_refused_and_nothing_is_written(db: &TestDb) {
    let store = db.connect().await;
    on_pool!(store, pool => {
        sqlx::raw_sql("INSERT INTO sites VALUES ('park', '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z');\
            INSERT INTO assets VALUES ('W01', 'wheel', 'park', '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z')")
            .execute(pool).await.unwrap();
    });
    let err = store.insert_readings("plant", &[reading("INV-A", 0, 1.0), reading("W01", 0, 1.0)]).await.unwrap_err();
    assert!(err.to_string().contains("W01 is stored as a wheel"), "{err}");
    assert_eq!(store.count_readings(None).await.unwrap(), 0);
    assert!(store.asset("INV-A").await.unwrap().is_none());
}

async fn a_recomputed_window_replaces_its_row_and_prediction(db: &TestDb) {
    let store = db.connect().await;
    store.insert_readings("plant", &[reading("INV-A", 0, 1.0)]).await.unwrap();
    let start = Utc.with_ymd_and_hms(2020, 5, 15, 0, 0, 0).unwrap();
    let row = |score: f64, eff: f64| NewWindowRow {
        asset_id: "INV-A".into(),
        feature_set: "inverter-v1".into(),
        names: vec!["efficiency".into(), "gap_count".into()],
        values: vec![eff, f64::NAN],
        window_start: start,
        window_end: start + Duration::days(1),
        prediction: Some(NewPrediction {
            model: "inverter-health".into(),
            model_version: "1.0.0".into(),
            health_score: score,
            label: "healthy".into(),
            probabilities: vec![("fault".into(), 1.0 - score / 100.0), ("healthy".into(), score / 100.0)],
            scored_at: Utc::now(),
        }),
        explanation: None,
    };
    let day = |asset: &str, d: i64, ac: f64| InverterDay {
        asset_id: asset.into(),
        day: start + Duration::days(d),
        ac_sum: ac,
        expected_sum: 2.0 * ac,
        peer_ac_sum: ac,
        peer_sum: 1.5 * ac,
    };
    store.record_windows(&[row(90.0, 0.97)], "plant", &[day("INV-A", 0, 10.0), day("INV-A", 1, 11.0)]).await.unwrap();
    store.record_windows(&[row(40.0, 0.80)], "plant", &[day("INV-A", 0, 20.0)]).await.unwrap();
    let days = store.inverter_days_before("plant", start + Duration::days(1)).await.unwrap();
    assert_eq!(days, [day("INV-A", 0, 20.0)], "a recomputed day replaces its row; later days are not returned");
    assert_eq!(store.inverter_days_before("plant", start + Duration::days(2)).await.unwrap().len(), 2);
    assert!(store.inverter_days_before("other", start + Duration::days(2)).await.unwrap().is_empty());
    let nan = InverterDay { peer_sum: f64::NAN, ..day("INV-A", 3, 1.0) };
    assert!(store.record_windows(&[], "plant", &[nan]).await.is_err(), "a NaN sum is refused");
    let predictions = store.predictions_for_asset("INV-A", 10).await.unwrap();
    assert_eq!(predictions.len(), 1);
    assert_eq!(predictions[0].health_score, 40.0);
    assert_eq!(predictions[0].observed_at, start + Duration::days(1), "observed at the window's end");
    on_pool!(store, pool => {
        let (n, values): (i64, String) =
            sqlx::query_as("SELECT COUNT(*), MAX(feature_values) FROM feature_rows").fetch_one(pool).await.unwrap();
        assert_eq!(n, 1);
        assert_eq!(values, r#"{"efficiency":0.8,"gap_count":null}"#);
    });
    // Recomputed again and not scored (scoring off): the row is replaced and its verdict goes with it.
    let unscored = NewWindowRow { prediction: None, ..row(0.0, 0.5) };
    store.record_windows(&[unscored], "plant", &[]).await.unwrap();
    assert!(store.predictions_for_asset("INV-A", 10).await.unwrap().is_empty());
    // Two windows new to the store in one call, one of them twice (the later wins), beside the replaced one.
    let next = |days: i64, eff: f64| NewWindowRow {
        window_start: start + Duration::days(days),
        window_end: start + Duration::days(days + 1),
        ..row(70.0, eff)
    };
    assert_eq!(store.record_windows(&[next(1, 0.1), next(2, 0.2), next(1, 0.3)], "plant", &[]).await.unwrap(), 3);
    let windows = store.windows_of_site("plant", "inverter-v1").await.unwrap();
    let effs: Vec<(i64, f64)> = windows.iter().map(|w| ((w.window_start - start).num_days(), w.values[0].1)).collect();
    assert_eq!(effs, [(0, 0.5), (1, 0.3), (2, 0.2)]);
    let predictions = store.predictions_for_asset("INV-A", 10).await.unwrap();
    assert_eq!(predictions.len(), 2, "one verdict per stored window: {predictions:?}");
}

#[tokio::test]
async fn every_sqlite_connection_keeps_foreign_keys_on_after_bulk_writes() {
    // insert_readings switches SQLite's parent lookups off for its own transaction only: whether it commits or
    // fails, the connection goes back to the pool with them on.
    let dir = tempfile::tempdir().unwrap();
    let store = crate::Store::connect(&format!("sqlite://{}", dir.path().join("p.db").display())).await.unwrap();
    store.insert_readings("plant", &[reading("INV-A", 0, 1.0)]).await.unwrap();
    on_pool!(store, pool => {
        sqlx::raw_sql("INSERT INTO assets VALUES ('W01', 'wheel', 'plant', '2020-01-01T00:00:00.000000Z', \
            '2020-01-01T00:00:00.000000Z')")
            .execute(pool).await.unwrap();
    });
    assert!(store.insert_readings("plant", &[reading("W01", 0, 1.0)]).await.is_err());
    let crate::connect::Pool::Sqlite(pool) = &store.pool else { unreachable!("a SQLite URL") };
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    for conn in &mut held {
        let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut **conn).await.unwrap();
        assert_eq!(on, 1, "a connection came back with foreign keys off");
        let orphan = sqlx::query(
            "INSERT INTO readings (asset_id, ts, site) VALUES ('nobody', '2020-01-01T00:00:00.000000Z', 'plant')",
        )
        .execute(&mut **conn)
        .await;
        assert!(orphan.is_err(), "a reading of an unknown inverter was stored");
    }
    drop(held);
    store.close().await;
}

crate::on_both_backends!(
    readings_are_stored_once_and_read_back_exactly,
    an_inverter_that_moved_site_keeps_each_sites_readings_apart,
    a_wheel_id_is_refused_and_nothing_is_written,
    a_recomputed_window_replaces_its_row_and_prediction,
);
