//! Fixtures for the store's tests; the test databases themselves come from `prognos_store::testing`.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
pub use prognos_store::testing::TestDb;
use prognos_store::{FeatureValues, NewCapture, NewPrediction, RecordOutcome, Store, StoreError};

/// A fixed instant plus `millis`, with a sub-microsecond part the store must truncate.
pub fn at(millis: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::milliseconds(millis)
}

/// A capture of wheel `asset` with hash `hash`, taken at `when`.
pub fn capture(hash: &str, asset: &str, when: DateTime<Utc>) -> NewCapture {
    NewCapture {
        content_hash: hash.into(),
        site: "parkA".into(),
        camera: "Cam_01".into(),
        asset_id: asset.into(),
        run_count: Some(1234),
        captured_at: when,
        source: format!("Cam_01/{hash}.dat"),
        width: 2560,
        profiles: 1000,
        height_units: "mm".into(),
        mean_height: 412.25,
        mean_intensity: 0.1 + 0.2,
    }
}

/// A three-feature row whose names are deliberately not in alphabetical order.
pub fn features(seed: f32) -> FeatureValues {
    FeatureValues {
        feature_set: "wheel-v1".into(),
        names: vec!["tread_depth".into(), "flat_spot".into(), "crack_len".into()],
        values: vec![seed, 0.1 * seed, -3.3e-7],
    }
}

/// A prediction scored at `when`; classes deliberately not in alphabetical order.
pub fn prediction(health: f64, when: DateTime<Utc>) -> NewPrediction {
    NewPrediction {
        model: "wheel-health".into(),
        model_version: "1.0.0".into(),
        health_score: health,
        label: if health >= 50.0 { "healthy" } else { "defect" }.into(),
        probabilities: vec![("healthy".into(), health / 100.0), ("defect".into(), 1.0 - health / 100.0)],
        scored_at: when,
    }
}

/// Records `capture(hash, asset, captured)` with `features(health)` and `prediction(health, scored)`.
pub async fn record(
    store: &Store,
    hash: &str,
    asset: &str,
    captured: DateTime<Utc>,
    health: f64,
    scored: DateTime<Utc>,
) -> Result<RecordOutcome, StoreError> {
    let (c, f, p) = (capture(hash, asset, captured), features(health as f32), prediction(health, scored));
    store.record_scored_capture(&c, &f, &p).await
}
