//! Helpers shared by the simulator's integration tests.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use prognos_features::{Feature, FeatureValues};
use prognos_simulate::{feature_row, Encoding, FailureMode, Layout, WheelSpec};

/// A fixed capture time.
pub fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 0, 21, 30).single().expect("valid time") + chrono::Duration::milliseconds(123)
}

/// A small spec (quick in debug builds).
pub fn spec(failure: Option<(FailureMode, f32)>, width: usize, encoding: Encoding, seed: u64) -> WheelSpec {
    WheelSpec {
        wheel_id: "W07".into(),
        camera: "Cam_01".into(),
        captured_at: at(),
        failure,
        encoding,
        layout: Layout::Subcomponent,
        width,
        profiles: 200,
        with_mark: false,
        seed,
    }
}

/// Features of a spec through encode + the production reader.
pub fn features(spec: &WheelSpec) -> FeatureValues {
    let row = feature_row(spec).expect("feature row");
    let mut v = [0.0; prognos_features::FEATURE_COUNT];
    v.copy_from_slice(&row.values);
    FeatureValues(v)
}

/// The feature each mode should move, and the direction (+1 grows with severity, -1 falls).
pub fn tracked(mode: FailureMode) -> (Feature, f32) {
    match mode {
        FailureMode::EvenWear => (Feature::TreadHeight, -1.0),
        FailureMode::CompressionSet => (Feature::TroughDepth, 1.0),
        FailureMode::FlatSpot => (Feature::FlatSpotDepth, 1.0),
        FailureMode::Chunking => (Feature::PitDepth, 1.0),
        FailureMode::Cracks => (Feature::CrackLineDensity, 1.0),
        FailureMode::Debonding => (Feature::SeamBulge, 1.0),
        FailureMode::Blowout => (Feature::ProtrusionHeight, 1.0),
        FailureMode::ConicalWear => (Feature::Conicity, 1.0),
        FailureMode::Abrasion => (Feature::Roughness, 1.0),
    }
}
