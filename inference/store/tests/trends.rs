//! Trends, listings, retention and work claims, on both backends (`sqlite::<name>`, `postgres::<name>`).

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{capture, features, prediction, TestDb};
use prognos_store::{
    AlertFilter, AssetFilter, AssetKind, PredictionCursor, PredictionFilter, RetainedTable, Store, TrendMetric,
    TrendPlan, TrendRequest,
};

prognos_store::on_both_backends!(
    predictions_are_observed_at_capture_time_and_trend_there,
    trend_buckets_are_computed_in_sql,
    both_trend_plans_give_the_buckets_of_a_plain_computation,
    capture_means_and_window_features_trend,
    window_predictions_without_observed_at_get_the_window_end,
    predictions_list_filters_and_pages_without_gaps_or_repeats,
    assets_list_with_latest_prediction_filters_and_pages,
    retention_folds_old_days_into_aggregates_the_trend_still_sees,
    claims_exclude_live_owners_and_expire,
    alerts_list_by_time_range_and_keyset_pages,
);

fn day(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 3, d, h, m, 0).unwrap()
}

/// Records a wheel capture of `asset` taken at `when` with this health score, scored "now" (2026).
async fn wheel(store: &Store, hash: &str, asset: &str, when: DateTime<Utc>, health: f64) {
    let mut c = capture(hash, asset, when);
    c.mean_height = health / 10.0;
    let scored = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    store.record_scored_capture(&c, &features(health as f32), &prediction(health, scored)).await.unwrap();
}

/// Runs raw SQL on the test database (for rows the store has no writer for here: inverter windows).
async fn exec(db: &TestDb, sql: &str) {
    if db.is_postgres() {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

fn request(asset: &str, metric: TrendMetric, from: DateTime<Utc>, to: DateTime<Utc>, bucket: Duration) -> TrendRequest {
    TrendRequest { asset_id: asset.into(), metric, from, to, bucket }
}

async fn predictions_are_observed_at_capture_time_and_trend_there(db: &TestDb) {
    let store = db.connect().await;
    wheel(&store, "h1", "W01", day(1, 10, 0), 80.0).await;
    let p = &store.predictions_for_asset("W01", 1).await.unwrap()[0];
    assert_eq!(p.observed_at, day(1, 10, 0));
    assert_eq!(p.scored_at.date_naive().to_string(), "2026-01-01");
    // The replayed 2020 capture charts in 2020, not when it was scored.
    let trend = store
        .trend(&request("W01", TrendMetric::HealthScore, day(1, 0, 0), day(2, 0, 0), Duration::days(1)))
        .await
        .unwrap();
    assert_eq!(trend.len(), 1);
    assert_eq!((trend[0].start, trend[0].count, trend[0].mean), (day(1, 0, 0), 1, 80.0));
    let scored_day = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let none = store
        .trend(&request(
            "W01",
            TrendMetric::HealthScore,
            scored_day,
            scored_day + Duration::days(1),
            Duration::hours(1),
        ))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
}

async fn trend_buckets_are_computed_in_sql(db: &TestDb) {
    let store = db.connect().await;
    let points = [
        (day(1, 0, 0), 90.0),
        (day(1, 0, 20), 70.0),
        (day(1, 0, 59), 80.0),
        (day(1, 2, 30), 50.0),
        (day(1, 3, 0), 10.0),
    ];
    for (i, (when, health)) in points.iter().enumerate() {
        wheel(&store, &format!("a{i}"), "W01", *when, *health).await;
    }
    wheel(&store, "other", "W02", day(1, 0, 30), 1.0).await;
    // [00:00, 03:00) hourly: the 03:00 point is outside (half-open), hour 01 is empty and left out.
    let trend = store
        .trend(&request("W01", TrendMetric::HealthScore, day(1, 0, 0), day(1, 3, 0), Duration::hours(1)))
        .await
        .unwrap();
    let got: Vec<_> = trend.iter().map(|b| (b.start, b.min, b.mean, b.max, b.count)).collect();
    assert_eq!(got, vec![(day(1, 0, 0), 70.0, 80.0, 90.0, 3), (day(1, 2, 0), 50.0, 50.0, 50.0, 1)]);
    // Buckets start at `from`, not at the top of the hour.
    let trend = store
        .trend(&request("W01", TrendMetric::HealthScore, day(1, 0, 10), day(1, 4, 0), Duration::minutes(30)))
        .await
        .unwrap();
    let got: Vec<_> = trend.iter().map(|b| (b.start, b.count)).collect();
    assert_eq!(got, vec![(day(1, 0, 10), 1), (day(1, 0, 40), 1), (day(1, 2, 10), 1), (day(1, 2, 40), 1)]);
    // Bad requests are refused.
    let bad = request("W01", TrendMetric::HealthScore, day(2, 0, 0), day(1, 0, 0), Duration::hours(1));
    assert!(store.trend(&bad).await.is_err());
    let bad = request("W01", TrendMetric::HealthScore, day(1, 0, 0), day(2, 0, 0), Duration::milliseconds(1500));
    assert!(store.trend(&bad).await.is_err());
    let bad = request("W01", TrendMetric::HealthScore, day(1, 0, 0), day(30, 0, 0), Duration::seconds(1));
    assert!(store.trend(&bad).await.is_err());
}

async fn both_trend_plans_give_the_buckets_of_a_plain_computation(db: &TestDb) {
    let store = db.connect().await;
    // 240 scores over three days at irregular times, some on whole hours (bucket edges), plus another asset.
    let mut points = Vec::new();
    let mut state: u64 = 7;
    for i in 0..240u64 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let minute = if i % 10 == 0 { (i / 10) * 180 } else { (state >> 33) % (3 * 24 * 60) };
        let when = day(1, 0, 0) + Duration::minutes(minute as i64) + Duration::seconds((i % 3) as i64 * 20);
        let health = ((state >> 40) % 10_000) as f64 / 100.0;
        wheel(&store, &format!("p{i}"), "W01", when, health).await;
        points.push((when, health));
    }
    wheel(&store, "other", "W02", day(2, 0, 0), 5.0).await;
    let ms = Duration::milliseconds;
    let requests = [
        (day(1, 0, 0), day(4, 0, 0), Duration::hours(1)),
        (day(1, 0, 7) + Duration::seconds(13), day(3, 5, 0), Duration::minutes(17)),
        (day(1, 3, 0) + ms(250), day(3, 22, 0) + ms(10), Duration::days(1)),
        (day(1, 0, 0) - Duration::days(30), day(2, 12, 0), Duration::days(7)),
        (day(2, 0, 0), day(2, 0, 1), Duration::seconds(1)),
    ];
    for (from, to, bucket) in requests {
        let width = bucket.num_microseconds().unwrap();
        let mut expected: std::collections::BTreeMap<i64, (f64, f64, f64, i64)> = Default::default();
        for (when, v) in points.iter().filter(|(w, _)| *w >= from && *w < to) {
            let b = (*when - from).num_microseconds().unwrap() / width;
            let e = expected.entry(b).or_insert((f64::INFINITY, f64::NEG_INFINITY, 0.0, 0));
            *e = (e.0.min(*v), e.1.max(*v), e.2 + v, e.3 + 1);
        }
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(b, (mn, mx, sum, n))| (from + Duration::microseconds(b * width), mn, mx, n, sum / n as f64))
            .collect();
        for plan in [TrendPlan::PerBucket, TrendPlan::Grouped] {
            let req = request("W01", TrendMetric::HealthScore, from, to, bucket);
            let got = store.trend_planned(&req, Some(plan)).await.unwrap();
            let shape: Vec<_> = got.iter().map(|b| (b.start, b.min, b.max, b.count)).collect();
            let want: Vec<_> = expected.iter().map(|e| (e.0, e.1, e.2, e.3)).collect();
            assert_eq!(shape, want, "{plan:?} {from} .. {to} by {bucket}");
            for (g, e) in got.iter().zip(&expected) {
                assert!((g.mean - e.4).abs() < 1e-9, "{plan:?} mean {} vs {}", g.mean, e.4);
            }
        }
    }
}

/// An inverter, a window feature row and its prediction written the way the inverter pipeline does.
async fn inverter_window(db: &TestDb, id: i64, end: &str, efficiency: &str, with_observed_at: bool) {
    let observed = if with_observed_at { format!(", '{end}'") } else { String::new() };
    let observed_col = if with_observed_at { ", observed_at" } else { "" };
    exec(
        db,
        &format!(
            "INSERT INTO sites (id, first_seen, last_seen) VALUES ('plant', '{end}', '{end}') ON CONFLICT DO NOTHING;
             INSERT INTO assets (id, kind, site, first_seen, last_seen) VALUES ('INV1', 'inverter', 'plant', '{end}', '{end}')
                 ON CONFLICT DO NOTHING;
             INSERT INTO feature_rows (id, asset_id, window_start, window_end, feature_set, feature_values, observed_at)
                 VALUES ({id}, 'INV1', '{end}', '{end}', 'inverter-v1', '{{\"efficiency\": {efficiency}, \"power\": 5}}', '{end}');
             INSERT INTO predictions (asset_id, feature_row_id, model, model_version, health_score, label, probabilities,
                 scored_at{observed_col})
                 VALUES ('INV1', {id}, 'inverter-health', '1.0.0', 60, 'healthy', '{{}}', '2026-01-01T00:00:00.000000Z'{observed});"
        ),
    )
    .await;
}

async fn capture_means_and_window_features_trend(db: &TestDb) {
    let store = db.connect().await;
    wheel(&store, "a", "W01", day(1, 1, 0), 90.0).await;
    wheel(&store, "b", "W01", day(1, 2, 0), 70.0).await;
    let trend = store
        .trend(&request("W01", TrendMetric::MeanHeight, day(1, 0, 0), day(2, 0, 0), Duration::days(1)))
        .await
        .unwrap();
    assert_eq!(trend.len(), 1);
    assert_eq!((trend[0].min, trend[0].max, trend[0].count), (7.0, 9.0, 2));
    let trend = store
        .trend(&request("W01", TrendMetric::MeanIntensity, day(1, 0, 0), day(2, 0, 0), Duration::days(1)))
        .await
        .unwrap();
    assert_eq!(trend[0].count, 2);

    inverter_window(db, 1001, "2020-03-01T10:00:00.000000Z", "0.9", true).await;
    inverter_window(db, 1002, "2020-03-01T10:05:00.000000Z", "0.5", true).await;
    inverter_window(db, 1003, "2020-03-01T10:10:00.000000Z", "null", true).await;
    let efficiency = TrendMetric::parse("efficiency", prognos_store::INVERTER_FEATURE_SET).unwrap();
    let trend =
        store.trend(&request("INV1", efficiency, day(1, 0, 0), day(2, 0, 0), Duration::hours(1))).await.unwrap();
    assert_eq!(trend.len(), 1);
    assert_eq!((trend[0].start, trend[0].min, trend[0].max, trend[0].count), (day(1, 10, 0), 0.5, 0.9, 2));
    assert!((trend[0].mean - 0.7).abs() < 1e-12);
    let missing = TrendMetric::parse("inverter-v1:nope", "x").unwrap();
    assert!(store
        .trend(&request("INV1", missing, day(1, 0, 0), day(2, 0, 0), Duration::hours(1)))
        .await
        .unwrap()
        .is_empty());
}

async fn window_predictions_without_observed_at_get_the_window_end(db: &TestDb) {
    let store = db.connect().await;
    inverter_window(db, 7, "2020-03-02T08:00:00.000000Z", "0.8", false).await;
    let p = &store.predictions_for_asset("INV1", 1).await.unwrap()[0];
    assert_eq!(p.observed_at, day(2, 8, 0));
    assert_eq!(p.capture_id, None);
}

async fn predictions_list_filters_and_pages_without_gaps_or_repeats(db: &TestDb) {
    let store = db.connect().await;
    // 25 predictions for W01, some sharing an observation time (the id breaks the tie), 5 for W02.
    for i in 0..25u32 {
        wheel(&store, &format!("w1-{i}"), "W01", day(1, 0, i / 2), f64::from(i)).await;
    }
    for i in 0..5u32 {
        wheel(&store, &format!("w2-{i}"), "W02", day(2, 0, i), 50.0).await;
    }
    let mut seen = Vec::new();
    let mut filter = PredictionFilter { asset_id: Some("W01".into()), limit: 7, ..Default::default() };
    loop {
        let page = store.list_predictions(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        // Round-trip the cursor through its text form, as the API does.
        let cursor = PredictionCursor::after(page.last().unwrap()).to_string();
        filter.after = Some(PredictionCursor::parse(&cursor).unwrap());
        seen.extend(page);
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.iter().all(|p| p.asset_id == "W01"));
    let mut ids: Vec<i64> = seen.iter().map(|p| p.id).collect();
    assert!(seen.windows(2).all(|w| (w[0].observed_at, w[0].id) > (w[1].observed_at, w[1].id)), "newest first");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "no repeats");

    let all = |f: PredictionFilter| {
        let store = store.clone();
        async move { store.list_predictions(&PredictionFilter { limit: 1000, ..f }).await.unwrap() }
    };
    assert_eq!(all(PredictionFilter::default()).await.len(), 30);
    assert_eq!(all(PredictionFilter { site: Some("parkA".into()), ..Default::default() }).await.len(), 30);
    assert!(all(PredictionFilter { site: Some("elsewhere".into()), ..Default::default() }).await.is_empty());
    assert_eq!(all(PredictionFilter { model: Some("wheel-health".into()), ..Default::default() }).await.len(), 30);
    assert!(all(PredictionFilter { model_version: Some("9.9.9".into()), ..Default::default() }).await.is_empty());
    let range = PredictionFilter { from: Some(day(1, 0, 3)), to: Some(day(1, 0, 5)), ..Default::default() };
    // Minutes 3 and 4: i in 6..10.
    assert_eq!(all(range).await.len(), 4);
    assert!(store.list_predictions(&PredictionFilter { limit: 0, ..Default::default() }).await.is_err());
}

async fn assets_list_with_latest_prediction_filters_and_pages(db: &TestDb) {
    let store = db.connect().await;
    for (i, asset) in ["W03", "W01", "W02"].iter().enumerate() {
        wheel(&store, &format!("{asset}-old"), asset, day(1, 0, 0), 99.0).await;
        wheel(&store, &format!("{asset}-new"), asset, day(2, 0, 0), 10.0 * (i as f64 + 1.0)).await;
    }
    inverter_window(db, 9001, "2020-03-01T10:00:00.000000Z", "0.9", true).await;
    let page = store.list_assets(&AssetFilter { limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(page.iter().map(|a| a.asset.id.as_str()).collect::<Vec<_>>(), ["INV1", "W01"]);
    let latest = page[1].latest.as_ref().expect("W01 has predictions");
    assert_eq!((latest.health_score, latest.observed_at), (20.0, day(2, 0, 0)));
    let next =
        store.list_assets(&AssetFilter { limit: 2, after: Some("W01".into()), ..Default::default() }).await.unwrap();
    assert_eq!(next.iter().map(|a| a.asset.id.as_str()).collect::<Vec<_>>(), ["W02", "W03"]);
    let wheels = store
        .list_assets(&AssetFilter { kind: Some(AssetKind::Wheel), limit: 100, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(wheels.len(), 3);
    let plant =
        store.list_assets(&AssetFilter { site: Some("plant".into()), limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(plant.len(), 1);
    assert_eq!(plant[0].asset.kind, AssetKind::Inverter);
}

async fn retention_folds_old_days_into_aggregates_the_trend_still_sees(db: &TestDb) {
    let store = db.connect().await;
    let mut n = 0;
    for d in 1..=4 {
        for (h, health) in [(1, 90.0), (13, 60.0)] {
            wheel(&store, &format!("r{n}"), "W01", day(d, h, 0), health + f64::from(d)).await;
            n += 1;
        }
    }
    inverter_window(db, 500, "2020-03-01T10:00:00.000000Z", "0.9", true).await;
    inverter_window(db, 501, "2020-03-01T11:00:00.000000Z", "0.3", true).await;
    let whole = |metric: TrendMetric, bucket: Duration| {
        let store = store.clone();
        async move {
            let r = store.trend(&request("W01", metric, day(1, 0, 0), day(5, 0, 0), bucket)).await.unwrap();
            r.into_iter().map(|b| (b.start, b.min, b.max, (b.mean * 1e9).round(), b.count)).collect::<Vec<_>>()
        }
    };
    let before = whole(TrendMetric::HealthScore, Duration::days(1)).await;
    let before_height = whole(TrendMetric::MeanHeight, Duration::days(2)).await;
    assert_eq!(before.len(), 4);

    // "Now" is 2020-03-05 12:00 and raw rows are kept 2 days: days 1 and 2 are folded, 3 and 4 stay.
    let now = day(5, 12, 0);
    let tables = [RetainedTable::parse("readings_not_there_yet.observed_at").unwrap()];
    let report = store.apply_retention(now, 2, &tables).await.unwrap();
    assert_eq!(report.watermark, Some(day(3, 0, 0)));
    assert_eq!((report.predictions, report.feature_rows, report.other_rows), (6, 6, 0));
    assert_eq!(store.count_predictions().await.unwrap(), 4);
    assert_eq!(store.count_captures().await.unwrap(), 8, "captures are kept");

    assert_eq!(whole(TrendMetric::HealthScore, Duration::days(1)).await, before);
    assert_eq!(whole(TrendMetric::MeanHeight, Duration::days(2)).await, before_height);
    let efficiency = TrendMetric::parse("efficiency", prognos_store::INVERTER_FEATURE_SET).unwrap();
    let inv = store.trend(&request("INV1", efficiency, day(1, 0, 0), day(2, 0, 0), Duration::days(1))).await.unwrap();
    assert_eq!((inv.len(), inv[0].min, inv[0].max, inv[0].count), (1, 0.3, 0.9, 2));

    // A second run finds nothing new; late data for a folded day is merged in by the next run.
    let again = store.apply_retention(now, 2, &tables).await.unwrap();
    assert_eq!((again.predictions, again.feature_rows), (0, 0));
    wheel(&store, "late", "W01", day(1, 5, 0), 0.5).await;
    store.apply_retention(now, 2, &tables).await.unwrap();
    let after = whole(TrendMetric::HealthScore, Duration::days(1)).await;
    assert_eq!((after[0].1, after[0].4), (0.5, 3), "late row merged into day 1: {after:?}");
    assert_eq!(after[1..], before[1..]);
}

async fn claims_exclude_live_owners_and_expire(db: &TestDb) {
    let store = db.connect().await;
    let t0 = day(1, 0, 0);
    let lease = Duration::seconds(30);
    assert!(store.claim_work("hash1", "replica-a", t0, lease).await.unwrap());
    assert!(!store.claim_work("hash1", "replica-b", t0 + Duration::seconds(10), lease).await.unwrap());
    assert!(store.claim_work("hash1", "replica-a", t0 + Duration::seconds(10), lease).await.unwrap(), "renewal");
    // Renewed until t0+40 s: still refused at t0+35 s, taken over at t0+40 s.
    assert!(!store.claim_work("hash1", "replica-b", t0 + Duration::seconds(35), lease).await.unwrap());
    assert!(store.claim_work("hash1", "replica-b", t0 + Duration::seconds(40), lease).await.unwrap());
    assert!(!store.release_work("hash1", "replica-a").await.unwrap(), "a lost its claim");
    assert!(store.release_work("hash1", "replica-b").await.unwrap());
    assert!(store.claim_work("hash1", "replica-a", t0 + Duration::seconds(41), lease).await.unwrap());
    assert_eq!(store.purge_expired_claims(t0 + Duration::seconds(500)).await.unwrap(), 1);
    assert!(store.claim_work("", "x", t0, lease).await.is_err());

    // Many claimers of one key at once: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.claim_work("hot", &format!("r{i}"), t0, lease).await.unwrap() }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn alerts_list_by_time_range_and_keyset_pages(db: &TestDb) {
    let store = db.connect().await;
    let mut sql = String::new();
    for i in 0..9 {
        // Two alerts per opening time (ties broken by id), resolved so that one rule+asset may repeat.
        let t = format!("2020-03-01T00:0{}:00.000000Z", i / 2);
        sql.push_str(&format!(
            "INSERT INTO alerts (rule, asset_id, site, pipeline, route, state, opened_at, updated_at) \
             VALUES ('health', 'W{}', 'parkA', 'wheels', 'ops', 'resolved', '{t}', '{t}');",
            i % 3
        ));
    }
    exec(db, &sql).await;
    let mut filter = AlertFilter { limit: Some(4), ..Default::default() };
    let mut seen = Vec::new();
    loop {
        let page = store.alerts(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        filter.after = Some((last.opened_at, last.id));
        seen.extend(page.into_iter().map(|a| (a.opened_at, a.id)));
    }
    assert_eq!(seen.len(), 9);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats: {seen:?}");
    let range =
        AlertFilter { opened_since: Some(day(1, 0, 1)), opened_before: Some(day(1, 0, 3)), ..Default::default() };
    assert_eq!(store.alerts(&range).await.unwrap().len(), 4);
    let one = AlertFilter { asset_id: Some("W1".into()), site: Some("parkA".into()), ..Default::default() };
    assert_eq!(store.alerts(&one).await.unwrap().len(), 3);
}
