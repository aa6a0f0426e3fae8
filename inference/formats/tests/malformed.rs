//! One test per malformed input: each must fail with the right `IconError` variant, never panic.

use prognos_formats::icon::{Capture, Header, IconError, MAX_LINE_SIZE};

/// A header with one Hi3D component holding `subs` = (valuetype, name, size, width).
fn xml(root_size: usize, layout: &str, subs: &[(&str, &str, usize, usize)], extra: &str) -> String {
    let comp_size: usize = subs.iter().map(|s| s.2).sum();
    let mut x = format!(
        "<icon_data_format valuetype=\"\" name=\"\">\n<parameter name=\"size\">{root_size}</parameter>\n\
         <parameter name=\"layout\">{layout}</parameter>\n<component valuetype=\"Hi3D\" name=\"Hi3D 1\">\n\
         <parameter name=\"size\">{comp_size}</parameter>\n{extra}\n"
    );
    for (vt, name, size, width) in subs {
        x.push_str(&format!(
            "<subcomponent valuetype=\"{vt}\" name=\"{name}\"><parameter name=\"size\">{size}</parameter>\
             <parameter name=\"width\">{width}</parameter></subcomponent>\n"
        ));
    }
    x.push_str("</component>\n</icon_data_format>\n");
    x
}

/// WORD range, width 4, plus BYTE intensity: 12 bytes a line.
fn good_xml() -> String {
    xml(12, "SUBCOMPONENT", &[("WORD", "Range", 8, 4), ("BYTE", "Intensity", 4, 4)], "")
}

fn err(xml: &str, dat: Vec<u8>) -> IconError {
    let e = Capture::from_bytes(xml, dat).expect_err("must be rejected");
    assert!(!e.to_string().is_empty());
    e
}

#[test]
fn the_good_header_is_accepted() {
    let cap = Capture::from_bytes(&good_xml(), vec![1; 24]).expect("reads");
    assert_eq!(cap.profiles(), 2);
}

#[test]
fn not_xml() {
    assert!(matches!(err("<icon_data_format", vec![0; 4]), IconError::Xml(_)));
    assert!(matches!(err("", vec![0; 4]), IconError::Xml(_)));
}

#[test]
fn xml_that_is_not_icon() {
    let e = err("<html><body/></html>", vec![0; 4]);
    assert!(matches!(e, IconError::NotIcon(_)), "{e}");
    assert!(e.to_string().contains("<html>"));
    let e = err("<icon_data_format><parameter name=\"size\">4</parameter></icon_data_format>", vec![0; 4]);
    assert!(matches!(e, IconError::NotIcon(_)), "{e}");
}

#[test]
fn unknown_value_type() {
    let x = xml(8, "SUBCOMPONENT", &[("DOUBLE", "Range", 8, 1)], "");
    match err(&x, vec![0; 8]) {
        IconError::UnknownValueType { subcomponent, value_type } => {
            assert_eq!((subcomponent.as_str(), value_type.as_str()), ("Range", "DOUBLE"));
        }
        e => panic!("wrong error {e}"),
    }
}

#[test]
fn subcomponent_size_not_width_times_bytes_per_value() {
    let x = xml(7, "SUBCOMPONENT", &[("WORD", "Range", 7, 4)], "");
    match err(&x, vec![0; 14]) {
        IconError::SubcomponentSize { size, width, bytes_per_value, .. } => {
            assert_eq!((size, width, bytes_per_value), (7, 4, 2));
        }
        e => panic!("wrong error {e}"),
    }
}

#[test]
fn root_size_not_sum_of_subcomponents() {
    let x = xml(13, "SUBCOMPONENT", &[("WORD", "Range", 8, 4), ("BYTE", "Intensity", 4, 4)], "");
    match err(&x, vec![0; 26]) {
        IconError::LineSize { declared, summed, context } => {
            assert_eq!((declared, summed, context.as_str()), (13, 12, "root"));
        }
        e => panic!("wrong error {e}"),
    }
}

#[test]
fn component_size_not_sum_of_subcomponents() {
    let x = good_xml()
        .replace("<parameter name=\"size\">12</parameter>\n\n", "<parameter name=\"size\">11</parameter>\n\n");
    assert!(matches!(err(&x, vec![0; 24]), IconError::LineSize { declared: 11, .. }));
}

#[test]
fn absurd_width() {
    let x = xml(2_000_000_000, "SUBCOMPONENT", &[("WORD", "Range", 2_000_000_000, 1_000_000_000)], "");
    assert!(matches!(err(&x, vec![0; 8]), IconError::Dimension { .. }));
    // Width 10^9 with a size that would fit the line limit.
    let x = xml(8, "SUBCOMPONENT", &[("WORD", "Range", 8, 1_000_000_000)], "");
    match err(&x, vec![0; 8]) {
        IconError::Dimension { value, max, .. } => {
            assert_eq!((value, max), (1_000_000_000, 65_536))
        }
        e => panic!("wrong error {e}"),
    }
}

#[test]
fn zero_sizes() {
    let x = xml(0, "SUBCOMPONENT", &[("WORD", "Range", 0, 0)], "");
    assert!(matches!(err(&x, vec![0; 8]), IconError::Dimension { value: 0, .. }));
    let x = xml(8, "SUBCOMPONENT", &[("WORD", "Range", 0, 0)], "");
    assert!(matches!(err(&x, vec![0; 8]), IconError::Dimension { value: 0, .. }));
}

#[test]
fn line_size_beyond_limit() {
    let big = MAX_LINE_SIZE + 2;
    let x = xml(big, "SUBCOMPONENT", &[("WORD", "Range", big, big / 2)], "");
    assert!(matches!(err(&x, vec![0; 8]), IconError::Dimension { .. }));
}

#[test]
fn negative_or_garbage_numbers() {
    let x = good_xml().replace(">12<", ">-12<");
    assert!(matches!(err(&x, vec![0; 24]), IconError::InvalidParameter { .. }));
    let x = good_xml().replace(">12<", ">twelve<");
    assert!(matches!(err(&x, vec![0; 24]), IconError::InvalidParameter { .. }));
}

#[test]
fn empty_dat() {
    assert!(matches!(err(&good_xml(), Vec::new()), IconError::EmptyDat));
    let dir = tempfile::tempdir().expect("temp dir");
    let (xp, dp) = (dir.path().join("a.xml"), dir.path().join("a.dat"));
    std::fs::write(&xp, good_xml()).expect("write xml");
    std::fs::write(&dp, b"").expect("write dat");
    assert!(matches!(Capture::open(&xp, &dp), Err(IconError::EmptyDat)));
}

#[test]
fn missing_files_are_io_errors_naming_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let xp = dir.path().join("nope.xml");
    let e = Capture::open(&xp, dir.path().join("nope.dat")).expect_err("missing");
    assert!(matches!(e, IconError::Io { .. }));
    assert!(e.to_string().contains("nope.xml"));
}

#[test]
fn truncated_dat() {
    match err(&good_xml(), vec![0; 12 * 3 + 5]) {
        IconError::Truncated { len, line_size, remainder } => {
            assert_eq!((len, line_size, remainder), (41, 12, 5));
        }
        e => panic!("wrong error {e}"),
    }
}

#[test]
fn non_finite_float_range_reports_row_and_col() {
    let x = xml(12, "SCAN", &[("FLOAT", "Range", 8, 2), ("BYTE", "Intensity", 4, 4)], "");
    // Intensity width differs from the range width: rejected before values are looked at.
    assert!(matches!(err(&x, vec![0; 12]), IconError::WidthMismatch { width: 4, range_width: 2, .. }));

    let x = xml(10, "SCAN", &[("FLOAT", "Range", 8, 2), ("BYTE", "Intensity", 2, 2)], "");
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut dat = Vec::new();
        for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)] {
            let v = if (r, c) == (2, 1) { bad } else { 1.5 };
            if c == 0 && r > 0 {
                dat.extend_from_slice(&[7, 7]); // intensity of the previous line
            }
            dat.extend_from_slice(&v.to_le_bytes());
        }
        dat.extend_from_slice(&[7, 7]);
        match err(&x, dat) {
            IconError::NonFiniteRange { row, col, value } => {
                assert_eq!((row, col), (2, 1));
                assert_eq!(value.is_nan(), bad.is_nan());
            }
            e => panic!("wrong error {e}"),
        }
    }
}

#[test]
fn missing_range_subcomponent() {
    let x = xml(4, "SUBCOMPONENT", &[("BYTE", "Intensity", 4, 4)], "");
    assert!(matches!(err(&x, vec![0; 8]), IconError::MissingRange));
    let x = xml(4, "SUBCOMPONENT", &[("BYTE", "Image", 4, 4)], "");
    assert!(matches!(err(&x, vec![0; 8]), IconError::MissingRange));
}

#[test]
fn unknown_or_missing_layout() {
    let x = good_xml().replace("SUBCOMPONENT", "PLANAR");
    assert!(matches!(err(&x, vec![0; 24]), IconError::UnknownLayout(l) if l == "PLANAR"));
    let x = good_xml().replace("<parameter name=\"layout\">SUBCOMPONENT</parameter>", "");
    assert!(matches!(err(&x, vec![0; 24]), IconError::MissingParameter { .. }));
}

#[test]
fn unsupported_value_types_for_known_subcomponents() {
    let x = xml(4, "SUBCOMPONENT", &[("INT", "Range", 4, 1)], "");
    assert!(matches!(err(&x, vec![0; 4]), IconError::UnsupportedValueType { .. }));
    let x = xml(16, "SUBCOMPONENT", &[("WORD", "Range", 8, 4), ("WORD", "Intensity", 8, 4)], "");
    assert!(matches!(err(&x, vec![0; 16]), IconError::UnsupportedValueType { expected: "BYTE", .. }));
    let x = xml(20, "SUBCOMPONENT", &[("WORD", "Range", 8, 4), ("INT", "Mark", 12, 3)], "");
    assert!(matches!(err(&x, vec![0; 20]), IconError::InvalidParameter { .. }));
}

#[test]
fn incomplete_traits() {
    let traits = "<worldrangetraits><parameter name=\"lower bound x\">0</parameter></worldrangetraits>";
    let x = xml(8, "SUBCOMPONENT", &[("WORD", "Range", 8, 4)], traits);
    match err(&x, vec![0; 8]) {
        IconError::MissingParameter { name, .. } => assert_eq!(name, "upper bound x"),
        e => panic!("wrong error {e}"),
    }
    let traits = "<worldrangetraits><parameter name=\"lower bound x\">nan</parameter></worldrangetraits>";
    let x = xml(8, "SUBCOMPONENT", &[("WORD", "Range", 8, 4)], traits);
    assert!(matches!(err(&x, vec![0; 8]), IconError::InvalidParameter { .. }));
}

#[test]
fn header_parse_alone_reports_the_same_errors() {
    assert!(Header::parse(&good_xml()).is_ok());
    let x = xml(9, "SUBCOMPONENT", &[("WORD", "Range", 8, 4)], "");
    assert!(matches!(Header::parse(&x), Err(IconError::LineSize { .. })));
}
