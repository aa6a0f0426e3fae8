//! SCAN (line-interleaved) layout against hand-computed bytes, and the writer producing the same bytes.

use prognos_formats::icon::{
    encode, Capture, CaptureData, HeightUnits, IntensityName, Layout, MarkKind, MarkValues, RangePlane, RangeTraits,
    RangeValues,
};

/// Width 2, two profiles: WORD range (4 bytes) + BYTE intensity (2) + standard mark (8) = 14 bytes a line.
const XML: &str = r#"<icon_data_format valuetype="" name="">
  <parameter name="size">14</parameter>
  <parameter name="version">1</parameter>
  <parameter name="layout">SCAN</parameter>
  <component valuetype="Hi3D" name="Hi3D 1">
    <parameter name="size">14</parameter>
    <parameter name="height">1</parameter>
    <worldrangetraits>
      <parameter name="lower bound x">-1</parameter>
      <parameter name="upper bound x">1</parameter>
      <parameter name="lower bound r">10</parameter>
      <parameter name="upper bound r">20</parameter>
    </worldrangetraits>
    <subcomponent valuetype="WORD" name="Range">
      <parameter name="size">4</parameter><parameter name="width">2</parameter>
    </subcomponent>
    <subcomponent valuetype="BYTE" name="Intensity">
      <parameter name="size">2</parameter><parameter name="width">2</parameter>
    </subcomponent>
    <subcomponent valuetype="INT" name="Mark">
      <parameter name="size">8</parameter><parameter name="width">2</parameter>
    </subcomponent>
  </component>
</icon_data_format>"#;

#[rustfmt::skip]
const DAT: [u8; 28] = [
    // line 0: range 1, 258 | intensity 10, 20 | mark encoder 7, status 0x0001_0000 (1 overtrigger)
    0x01, 0x00, 0x02, 0x01,   10, 20,   7, 0, 0, 0,   0x00, 0x00, 0x01, 0x00,
    // line 1: range 0 (missing), 65535 | intensity 30, 40 | mark encoder -1, status 0
    0x00, 0x00, 0xff, 0xff,   30, 40,   0xff, 0xff, 0xff, 0xff,   0, 0, 0, 0,
];

#[test]
fn scan_layout_reads_hand_computed_bytes() {
    let cap = Capture::from_bytes(XML, DAT.to_vec()).expect("reads");
    assert_eq!(cap.layout(), Layout::Scan);
    assert_eq!((cap.width(), cap.profiles()), (2, 2));

    let RangePlane::Word(range) = cap.range() else {
        panic!("WORD range expected");
    };
    assert!(!range.is_contiguous());
    assert_eq!(range.contiguous_bytes(), None);
    assert_eq!(range.row(0).expect("row 0").to_vec(), vec![1, 258]);
    assert_eq!(range.row(1).expect("row 1").to_vec(), vec![0, 65535]);
    assert_eq!(range.to_vec(), vec![1, 258, 0, 65535]);

    let (name, intensity) = cap.intensity().expect("intensity");
    assert_eq!(name, IntensityName::Intensity);
    assert_eq!(intensity.to_vec(), vec![10, 20, 30, 40]);

    let mark = cap.mark().expect("mark");
    assert_eq!(mark.kind(), MarkKind::Standard);
    assert_eq!(mark.standard(0), Some([7, 0x0001_0000]));
    assert_eq!(mark.standard(1), Some([-1, 0]));
    assert_eq!(mark.extended(0), None);
    assert_eq!(mark.overtrigger(0), Some(1));
    assert_eq!(mark.overtrigger(1), Some(0));
    assert_eq!(mark.standard(2), None);

    // WORD world: mm = (v - 1) / 65534 x (20 - 10) + 10, v = 0 missing.
    let conv = cap.height_conversion();
    assert_eq!(conv.units, HeightUnits::Millimetres);
    let h = |v: u16| conv.to_height(f32::from(v));
    assert_eq!(h(0), None);
    assert!((h(1).expect("v=1") - 10.0).abs() < 1e-5);
    assert!((h(65535).expect("v=65535") - 20.0).abs() < 1e-4);
    let expect_258 = (258.0 - 1.0) / 65534.0 * 10.0 + 10.0;
    assert!((h(258).expect("v=258") - expect_258).abs() < 1e-4);

    assert_eq!(cap.column_x_mm(0), Some(-1.0));
    assert_eq!(cap.column_x_mm(1), Some(1.0));

    let mut buf = vec![123.0; 7];
    conv.heights_into(cap.range().row_raw(1).expect("row 1"), &mut buf);
    assert_eq!(buf.len(), 2);
    assert!(buf[0].is_nan());
    assert!((buf[1] - 20.0).abs() < 1e-4);
}

#[test]
fn writer_produces_the_same_scan_bytes() {
    let data = CaptureData {
        layout: Layout::Scan,
        width: 2,
        profiles: 2,
        component_name: "Hi3D 1".to_string(),
        range: RangeValues::Word(vec![1, 258, 0, 65535]),
        intensity: Some((IntensityName::Intensity, vec![10, 20, 30, 40])),
        scatter: None,
        mark: Some(MarkValues::Standard(vec![[7, 0x0001_0000], [-1, 0]])),
        range_traits: Some(RangeTraits::World { lower_x: -1.0, upper_x: 1.0, lower_r: 10.0, upper_r: 20.0 }),
        genistream: None,
    };
    let (xml, dat) = encode(&data).expect("encodes");
    assert_eq!(dat, DAT.to_vec());
    let cap = Capture::from_bytes(&xml, dat).expect("reads");
    assert_eq!(cap.to_data(), data);
}

#[test]
fn subcomponent_layout_of_the_same_data_is_planar() {
    let xml = XML.replace(">SCAN<", ">SUBCOMPONENT<");
    // Planes back to back: range rows, intensity rows, mark rows.
    #[rustfmt::skip]
    let dat: Vec<u8> = vec![
        0x01, 0x00, 0x02, 0x01, 0x00, 0x00, 0xff, 0xff,
        10, 20, 30, 40,
        7, 0, 0, 0, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    ];
    let cap = Capture::from_bytes(&xml, dat).expect("reads");
    let RangePlane::Word(range) = cap.range() else {
        panic!("WORD range expected");
    };
    assert!(range.is_contiguous());
    assert_eq!(range.to_vec(), vec![1, 258, 0, 65535]);
    assert_eq!(cap.intensity().expect("intensity").1.to_vec(), vec![10, 20, 30, 40]);
    assert_eq!(cap.mark().expect("mark").standard(1), Some([-1, 0]));
}
