//! The features respond to each failure mode as its severity grows, and healthy wheels look alike
//! whatever the camera width and range encoding (the per-capture normalisation works).

mod common;

use common::{features, spec, tracked};
use prognos_features::{Feature, FeatureValues, FEATURE_NAMES};
use prognos_simulate::{Encoding, FailureMode};

const SEVERITIES: [f32; 4] = [0.0, 0.3, 0.6, 1.0];
const SEEDS: u64 = 2;

/// Mean of a feature over a few seeds, alternating widths and encodings.
fn mean_at(mode: FailureMode, severity: f32, feature: Feature) -> f32 {
    let mut sum = 0.0;
    for seed in 0..SEEDS {
        let width = if seed % 2 == 0 { 1536 } else { 2560 };
        let encoding = Encoding::ALL[(seed as usize + mode as usize) % 4];
        let s = spec(Some((mode, severity)), width, encoding, 100 + seed);
        sum += features(&s).get(feature);
    }
    sum / SEEDS as f32
}

#[test]
fn each_mode_moves_its_feature_monotonically_with_severity() {
    let mut report = String::new();
    for mode in FailureMode::ALL {
        let (feature, direction) = tracked(mode);
        let values: Vec<f32> = SEVERITIES.iter().map(|&s| mean_at(mode, s, feature)).collect();
        report.push_str(&format!("{mode}: {} = {values:?}\n", feature.name()));
        for w in values.windows(2) {
            assert!(
                (w[1] - w[0]) * direction > 0.0,
                "{mode}: {} does not move consistently with severity: {values:?}\n{report}",
                feature.name()
            );
        }
        // Severity 1 must stand clearly apart from severity 0 (more than 3x the 0 -> 0.3 noise floor).
        let span = (values[3] - values[0]) * direction;
        assert!(span > 0.0, "{mode}: no effect\n{report}");
    }
    println!("{report}");
}

/// Healthy captures of every width and encoding, per group.
fn healthy_groups() -> Vec<(String, Vec<FeatureValues>)> {
    let mut groups = Vec::new();
    for width in [1536, 2560] {
        for encoding in Encoding::ALL {
            let values = (0..2).map(|seed| features(&spec(None, width, encoding, 500 + seed))).collect();
            groups.push((format!("{width}/{encoding:?}"), values));
        }
    }
    groups
}

#[test]
fn healthy_wheels_look_alike_across_widths_and_encodings() {
    let groups = healthy_groups();
    let all: Vec<&FeatureValues> = groups.iter().flat_map(|(_, v)| v).collect();
    for mode in FailureMode::ALL {
        let (feature, direction) = tracked(mode);
        // The change a severity-0.3 defect causes, measured on one reference capture pair.
        let healthy = features(&spec(None, 1536, Encoding::WordWorld, 900)).get(feature);
        let defect = features(&spec(Some((mode, 0.3)), 1536, Encoding::WordWorld, 900)).get(feature);
        let effect = (defect - healthy) * direction;
        assert!(effect > 0.0, "{mode}: severity 0.3 has no effect on {}", feature.name());
        let overall = all.iter().map(|v| v.get(feature)).sum::<f32>() / all.len() as f32;
        for (name, values) in &groups {
            let m = values.iter().map(|v| v.get(feature)).sum::<f32>() / values.len() as f32;
            assert!(
                (m - overall).abs() < 0.5 * effect,
                "{}: healthy {name} mean {m} differs from overall {overall} by more than half a severity-0.3 effect ({effect})",
                feature.name()
            );
        }
    }
    // Every feature of every healthy capture is finite, and the tread height is the same physical ratio.
    for (name, values) in &groups {
        for v in values {
            assert!(v.as_slice().iter().all(|x| x.is_finite()), "{name}: {v:?}");
            let th = v.get(Feature::TreadHeight);
            // 12 mm (+-0.2) tread with a 0.2-0.4 mm crown over a 76 mm width: about 16.2 %w.
            assert!((th - 16.2).abs() < 0.6, "{name}: tread height {th} %w");
        }
    }
    assert_eq!(FEATURE_NAMES.len(), all[0].as_slice().len());
}
