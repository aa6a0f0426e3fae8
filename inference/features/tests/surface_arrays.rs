//! Featurizing synthetic array surfaces: known geometry gives known values, and bad input gives errors.

use ndarray::Array2;
use prognos_features::{featurize, Feature, FeatureError, HeightUnits, Surface};

const W: usize = 400;
const R: usize = 64;
const PITCH: f32 = 0.25;

/// Hub rims at 20 (columns 40..80 and 320..360), a flat tread at 32 (columns 80..320), background NaN.
fn wheel() -> (Array2<f32>, Array2<u8>) {
    let h = Array2::from_shape_fn((R, W), |(r, c)| {
        let noise = (((r * 31 + c * 17) % 13) as f32 - 6.0) * 0.002;
        match c {
            40..80 | 320..360 => 20.0 + noise,
            80..320 => 32.0 + noise,
            _ => f32::NAN,
        }
    });
    let i = Array2::from_shape_fn((R, W), |(_, c)| match c {
        40..80 | 320..360 => 200,
        80..320 => 150,
        _ => 0,
    });
    (h, i)
}

#[test]
fn flat_tread_on_a_hub() {
    let (h, i) = wheel();
    let s = Surface::from_arrays(h.view(), Some(i.view()), HeightUnits::Millimetres, PITCH).unwrap();
    let v = featurize(&s).unwrap();
    // 12 mm over a 240-column (60 mm) tread.
    let th = v[Feature::TreadHeight];
    assert!((th - 20.0).abs() < 0.2, "tread height {th}");
    assert!(v[Feature::Conicity] < 0.05, "{v:?}");
    assert!(v[Feature::PitArea] < 1e-6 && v[Feature::MissingFraction] < 1e-6, "{v:?}");
    assert!((v[Feature::IntensityMean] - 150.0 / 255.0).abs() < 0.01);
    assert!(v.as_slice().iter().all(|x| x.is_finite()));
}

#[test]
fn a_pit_and_a_tilt_show() {
    let (mut h, i) = wheel();
    for r in 20..26 {
        for c in 190..210 {
            h[[r, c]] -= 3.0;
        }
    }
    let s = Surface::from_arrays(h.view(), Some(i.view()), HeightUnits::Millimetres, PITCH).unwrap();
    let v = featurize(&s).unwrap();
    assert!(v[Feature::PitDepth] > 2.0, "pit depth {}", v[Feature::PitDepth]);
    assert!(v[Feature::PitArea] > 0.0);

    let (mut h, i) = wheel();
    for ((_, c), x) in h.indexed_iter_mut() {
        if (80..320).contains(&c) {
            *x -= (c - 80) as f32 * 0.01; // 2.4 mm across the tread
        }
    }
    let s = Surface::from_arrays(h.view(), Some(i.view()), HeightUnits::Millimetres, PITCH).unwrap();
    let v = featurize(&s).unwrap();
    assert!((v[Feature::Conicity] - 4.0).abs() < 0.3, "conicity {}", v[Feature::Conicity]);
}

#[test]
fn layouts_and_aspect() {
    let (h, i) = wheel();
    let base =
        featurize(&Surface::from_arrays(h.view(), Some(i.view()), HeightUnits::SensorUnits, PITCH).unwrap()).unwrap();
    // A column-major copy gives the same values.
    let hf = h.t().as_standard_layout().to_owned();
    let hf = hf.t();
    let fi = i.t().as_standard_layout().to_owned();
    let v = featurize(&Surface::from_arrays(hf, Some(fi.t()), HeightUnits::SensorUnits, PITCH).unwrap()).unwrap();
    assert_eq!(base, v);
    // Heights twice as tall in x units: twice the tread height.
    let s = Surface::from_arrays(h.view(), Some(i.view()), HeightUnits::SensorUnits, PITCH)
        .unwrap()
        .with_height_aspect(2.0)
        .unwrap();
    let v = featurize(&s).unwrap();
    assert!((v[Feature::TreadHeight] - 2.0 * base[Feature::TreadHeight]).abs() < 1e-3);
}

#[test]
fn bad_inputs_are_errors() {
    let (h, i) = wheel();
    let no_i = Surface::from_arrays(h.view(), None, HeightUnits::Millimetres, PITCH).unwrap();
    assert!(matches!(featurize(&no_i), Err(FeatureError::NoIntensity)));

    let small = Array2::<f32>::zeros((8, 64));
    assert!(matches!(
        Surface::from_arrays(small.view(), None, HeightUnits::Millimetres, PITCH),
        Err(FeatureError::TooSmall { .. })
    ));

    let empty = Array2::<f32>::from_elem((R, W), f32::NAN);
    let s = Surface::from_arrays(empty.view(), Some(i.view()), HeightUnits::Millimetres, PITCH).unwrap();
    assert!(matches!(featurize(&s), Err(FeatureError::NoTread(_))));

    let other = Array2::<u8>::zeros((R, W - 1));
    assert!(matches!(
        Surface::from_arrays(h.view(), Some(other.view()), HeightUnits::Millimetres, PITCH),
        Err(FeatureError::ShapeMismatch { .. })
    ));
    for pitch in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(Surface::from_arrays(h.view(), Some(i.view()), HeightUnits::Millimetres, pitch).is_err());
    }
    let s = Surface::from_arrays(h.view(), Some(i.view()), HeightUnits::Millimetres, PITCH).unwrap();
    assert!(s.with_height_aspect(0.0).is_err());

    // Garbage heights (infinities, huge values) never panic.
    let wild = Array2::from_shape_fn((R, W), |(r, c)| match (r * W + c) % 7 {
        0 => f32::INFINITY,
        1 => -1e30,
        2 => f32::NAN,
        _ => ((r * c) % 97) as f32,
    });
    let s = Surface::from_arrays(wild.view(), Some(i.view()), HeightUnits::Millimetres, PITCH).unwrap();
    if let Ok(v) = featurize(&s) {
        assert!(v.as_slice().iter().all(|x| x.is_finite()));
    }
}
