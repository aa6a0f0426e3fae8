//! Every mode, encoding, layout and mark option round-trips through the real iCon reader, and the
//! simulator is deterministic.

mod common;

use common::{at, spec};
use prognos_features::{featurize, HeightUnits, Surface};
use prognos_formats::icon::{encode, Capture, IntensityName, MarkValues, RangeTraits, RangeValues};
use prognos_simulate::{simulate, Encoding, FailureMode, Layout, WheelSpec};

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for mode in [None, Some((FailureMode::Cracks, 0.7)), Some((FailureMode::Chunking, 0.4))] {
        let a = spec(mode, 1536, Encoding::WordWorld, 11);
        let (xa, da) = encode(&simulate(&a).unwrap()).unwrap();
        let (xb, db) = encode(&simulate(&a.clone()).unwrap()).unwrap();
        assert_eq!(xa, xb);
        assert!(da == db, "same spec, different .dat");
        let mut c = a.clone();
        c.seed = 12;
        let (_, dc) = encode(&simulate(&c).unwrap()).unwrap();
        assert!(da != dc, "different seeds gave identical data");
    }
}

#[test]
fn every_mode_encoding_layout_and_mark_round_trips() {
    let mut modes: Vec<Option<(FailureMode, f32)>> = vec![None];
    modes.extend(FailureMode::ALL.iter().map(|&m| Some((m, 0.8))));
    // Every mode x encoding x layout; mark data alternates so each combination of encoding, layout and
    // mark option occurs several times over the modes.
    let mut k = 0u64;
    for (mi, failure) in modes.iter().enumerate() {
        for (ei, encoding) in Encoding::ALL.into_iter().enumerate() {
            for (li, layout) in [Layout::Subcomponent, Layout::Scan].into_iter().enumerate() {
                k += 1;
                let s = WheelSpec {
                    layout,
                    with_mark: (mi + ei + li).is_multiple_of(2),
                    profiles: 64 + (k as usize % 5) * 16,
                    ..spec(*failure, if ei == li { 2560 } else { 1536 }, encoding, k)
                };
                check_round_trip(&s);
            }
        }
    }
}

fn check_round_trip(s: &WheelSpec) {
    let data = simulate(s).unwrap();
    let (xml, dat) = encode(&data).unwrap();
    assert_eq!(xml.contains("SCAN"), s.layout == Layout::Scan, "{xml}");
    let capture = Capture::from_bytes(&xml, dat).unwrap();
    assert_eq!(capture.to_data(), data, "round trip of {s:?}");
    assert_eq!((capture.width(), capture.profiles()), (s.width, s.profiles));
    // Encoding-specific facts.
    match (s.encoding, &data.range, data.range_traits) {
        (Encoding::FloatMm, RangeValues::Float(_), Some(RangeTraits::World { .. })) => {}
        (Encoding::WordWorld, RangeValues::Word(_), Some(RangeTraits::World { .. })) => {
            assert!(data.genistream.is_none())
        }
        (Encoding::WordGeniStream, RangeValues::Word(_), Some(RangeTraits::World { .. })) => {
            assert!(data.genistream.is_some())
        }
        (Encoding::WordSensor, RangeValues::Word(_), Some(RangeTraits::Sensor { scale_z, .. })) => {
            assert_eq!(scale_z, 0.0625)
        }
        other => panic!("unexpected encoding combination {other:?}"),
    }
    let conv = capture.height_conversion();
    let units = if s.encoding == Encoding::WordSensor { HeightUnits::SensorUnits } else { HeightUnits::Millimetres };
    assert_eq!(conv.units, units);
    let name = if s.width == 2560 { IntensityName::Reflectance } else { IntensityName::Intensity };
    assert_eq!(capture.intensity().map(|(n, _)| n), Some(name));
    // Mark data: extended, encoder increasing per profile.
    match (&data.mark, s.with_mark) {
        (Some(MarkValues::Extended(m)), true) => {
            assert_eq!(m.len(), s.profiles);
            assert!(m.windows(2).all(|w| w[1][0] > w[0][0]), "encoder must increase");
            let mark = capture.mark().unwrap();
            assert_eq!(mark.encoder(1).unwrap() - mark.encoder(0).unwrap(), prognos_simulate::TICKS_PER_PROFILE);
            assert_eq!(mark.overtrigger(0), Some(0));
        }
        (None, false) => assert!(capture.mark().is_none()),
        other => panic!("mark mismatch {other:?}"),
    }
    // Missing points exist (background, edges) but the tread is mostly valid.
    let range = capture.range();
    let row = range.row_raw(s.profiles / 2).unwrap();
    let missing = row.iter().filter(|&v| v == 0.0).count();
    assert!(missing > 0 && missing < s.width / 2, "missing {missing} of {}", s.width);
    // And the production featurizer accepts it.
    let surface = Surface::from_capture(&capture).unwrap();
    assert_eq!(surface.units(), units);
    let v = featurize(&surface).unwrap();
    assert!(v.as_slice().iter().all(|x| x.is_finite()));
}

#[test]
fn invalid_specs_are_errors_not_panics() {
    let ok = spec(None, 1536, Encoding::WordWorld, 1);
    let bad = [
        WheelSpec { width: 10, ..ok.clone() },
        WheelSpec { profiles: 0, ..ok.clone() },
        WheelSpec { failure: Some((FailureMode::Cracks, f32::NAN)), ..ok.clone() },
        WheelSpec { failure: Some((FailureMode::Cracks, 1.5)), ..ok.clone() },
        WheelSpec { camera: "../x".into(), ..ok.clone() },
        WheelSpec { wheel_id: String::new(), ..ok.clone() },
    ];
    for s in bad {
        assert!(simulate(&s).is_err(), "{s:?}");
    }
}

#[test]
fn capture_id_carries_camera_time_and_wheel() {
    let s = WheelSpec::healthy("W07", "Cam_01", at(), 1);
    assert_eq!(s.capture_id(), "Cam_01_20261122T002130123Z_W07");
}
