//! The real Ranger3 header from the shared data, unchanged, with a generated 100-profile `.dat`.

mod common;

use std::path::PathBuf;

use prognos_formats::icon::{Capture, HeightUnits, IntensityName, Layout, RangePlane, RangeTraits, ValueType};

const WIDTH: usize = 2560;
const PROFILES: usize = 100;

fn real_xml_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/real/sick-icon/gap-and-flush-ranger3-calibrated.xml")
}

/// Range in mm (0 = missing every 7th point), reflectance a function of position.
fn range_at(row: usize, col: usize) -> f32 {
    if (row * WIDTH + col).is_multiple_of(7) {
        0.0
    } else {
        62.5 + (col as f32) * 0.02 + (row as f32) * 0.1
    }
}

fn reflectance_at(row: usize, col: usize) -> u8 {
    ((row * 31 + col * 7) % 256) as u8
}

/// SUBCOMPONENT layout: all FLOAT range rows, then all BYTE reflectance rows.
fn dat() -> Vec<u8> {
    let mut out = Vec::with_capacity(PROFILES * 12800);
    for r in 0..PROFILES {
        for c in 0..WIDTH {
            out.extend_from_slice(&range_at(r, c).to_le_bytes());
        }
    }
    for r in 0..PROFILES {
        for c in 0..WIDTH {
            out.push(reflectance_at(r, c));
        }
    }
    out
}

fn check(cap: &Capture) {
    assert_eq!(cap.width(), WIDTH);
    assert_eq!(cap.profiles(), PROFILES);
    assert_eq!(cap.layout(), Layout::Subcomponent);
    assert_eq!(cap.range_value_type(), ValueType::Float);
    assert_eq!(cap.component_name(), "Ranger3Range");
    assert_eq!(cap.header().line_size, 12800);
    assert_eq!(
        cap.range_traits(),
        Some(&RangeTraits::World { lower_x: 130.306992, upper_x: 370.141571, lower_r: 62.224915, upper_r: 117.414742 })
    );
    assert!(cap.genistream().is_none());
    assert!(cap.scatter().is_none());
    assert!(cap.mark().is_none());

    let RangePlane::Float(range) = cap.range() else {
        panic!("FLOAT range expected");
    };
    assert!(range.is_contiguous());
    for (r, c) in [(0, 0), (0, 1), (3, 2559), (57, 1234), (99, 2559)] {
        assert_eq!(range.get(r, c), Some(range_at(r, c)), "range at {r},{c}");
    }
    let row42: Vec<f32> = range.row(42).expect("row 42").iter().collect();
    assert_eq!(row42.len(), WIDTH);
    assert_eq!(row42[100], range_at(42, 100));
    assert_eq!(range.get(100, 0), None);
    assert_eq!(range.get(0, 2560), None);

    let (name, refl) = cap.intensity().expect("reflectance present");
    assert_eq!(name, IntensityName::Reflectance);
    for (r, c) in [(0, 0), (10, 2000), (99, 2559)] {
        assert_eq!(refl.get(r, c), Some(reflectance_at(r, c)));
    }

    // FLOAT with world traits: already millimetres, 0 is missing.
    let conv = cap.height_conversion();
    assert_eq!(conv.units, HeightUnits::Millimetres);
    assert_eq!(conv.to_height(0.0), None);
    assert_eq!(conv.to_height(63.25), Some(63.25));
    let (mut valid, mut missing) = (0usize, 0usize);
    for row in range.iter_rows() {
        for v in row.iter() {
            match conv.to_height(v) {
                Some(h) => {
                    assert!((62.5..=62.5 + 0.02 * 2560.0 + 10.0).contains(&h));
                    valid += 1;
                }
                None => missing += 1,
            }
        }
    }
    let expected_missing = (0..PROFILES * WIDTH).filter(|i| i.is_multiple_of(7)).count();
    assert_eq!(missing, expected_missing);
    assert_eq!(valid + missing, PROFILES * WIDTH);

    // Bulk conversion agrees with the per-value one, NaN where missing.
    let mut buf = Vec::new();
    conv.heights_into(cap.range().row_raw(42).expect("row 42"), &mut buf);
    assert_eq!(buf.len(), WIDTH);
    for (c, h) in buf.iter().enumerate() {
        match conv.to_height(range_at(42, c)) {
            Some(e) => assert_eq!(*h, e),
            None => assert!(h.is_nan()),
        }
    }

    // x axis from lower/upper bound x.
    let x0 = cap.column_x_mm(0).expect("x of column 0");
    let x1 = cap.column_x_mm(1).expect("x of column 1");
    let xl = cap.column_x_mm(WIDTH - 1).expect("x of last column");
    assert!((x0 - 130.306992).abs() < 1e-9);
    assert!((xl - 370.141571).abs() < 1e-9);
    assert!((x1 - (130.306992 + (370.141571 - 130.306992) / 2559.0)).abs() < 1e-9);
    assert_eq!(cap.column_x_mm(WIDTH), None);
    common::touch_all(cap);
}

#[test]
fn real_header_with_generated_dat_in_memory() {
    let xml = std::fs::read_to_string(real_xml_path()).expect("real header present");
    let cap = Capture::from_bytes(&xml, dat()).expect("reads");
    check(&cap);
}

#[test]
fn real_header_with_generated_dat_memory_mapped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dat_path = dir.path().join("gap-and-flush.dat");
    std::fs::write(&dat_path, dat()).expect("write dat");
    let cap = Capture::open(real_xml_path(), &dat_path).expect("opens");
    check(&cap);
}

#[test]
fn real_header_round_trips_through_the_writer() {
    let xml = std::fs::read_to_string(real_xml_path()).expect("real header present");
    let original = Capture::from_bytes(&xml, dat()).expect("reads");
    let data = original.to_data();
    let (xml2, dat2) = prognos_formats::icon::encode(&data).expect("encodes");
    assert_eq!(dat2, dat(), "the writer reproduces the .dat byte for byte");
    let again = Capture::from_bytes(&xml2, dat2).expect("reads");
    assert_eq!(again.header().line_size, 12800);
    check(&again);
}
