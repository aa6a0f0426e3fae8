//! Header variations seen in the field: name case, Ranger E components, sensor and GenIStream traits,
//! ignored `<genistream>` / `<additionalinfo>` blocks.

use prognos_formats::icon::{Capture, HeightUnits, MarkKind, RangePlane, RangeTraits, SubcomponentKind};

/// Ranger E style: two Hi3D components, sensor traits, mixed-case names, extended mark, extra blocks.
const RANGER_E: &str = r#"<?xml version="1.0"?>
<icon_data_format valuetype="" name="">
  <parameter name="SIZE">40</parameter>
  <parameter name="version">1</parameter>
  <parameter name="Layout">subcomponent</parameter>
  <component valuetype="Hi3D" name="Hi3D 1">
    <parameter name="size">30</parameter>
    <parameter name="height">1</parameter>
    <sensorrangetraits>
      <parameter name="fov x0">0</parameter><parameter name="fov x1">1535</parameter>
      <parameter name="fov x2">1535</parameter><parameter name="fov x3">0</parameter>
      <parameter name="fov z0">0</parameter><parameter name="fov z1">0</parameter>
      <parameter name="fov z2">511</parameter><parameter name="fov z3">511</parameter>
      <parameter name="Origin X">0</parameter>
      <parameter name="scale  x">1</parameter>
      <parameter name="origin z">10</parameter>
      <parameter name="Scale Z">-0.0625</parameter>
    </sensorrangetraits>
    <subcomponent valuetype="word" name="Range">
      <parameter name="size">4</parameter><parameter name="width">2</parameter>
    </subcomponent>
    <subcomponent valuetype="BYTE" name="Scatter">
      <parameter name="size">2</parameter><parameter name="width">2</parameter>
    </subcomponent>
    <subcomponent valuetype="BYTE" name="Unknown thing">
      <parameter name="size">4</parameter><parameter name="width">4</parameter>
    </subcomponent>
    <subcomponent valuetype="INT" name="Mark">
      <parameter name="size">20</parameter><parameter name="width">5</parameter>
    </subcomponent>
  </component>
  <component valuetype="Hi3D" name="Hi3D 2">
    <parameter name="size">10</parameter>
    <subcomponent valuetype="WORD" name="Range">
      <parameter name="size">4</parameter><parameter name="width">2</parameter>
    </subcomponent>
    <subcomponent valuetype="BYTE" name="Image">
      <parameter name="size">6</parameter><parameter name="width">6</parameter>
    </subcomponent>
  </component>
  <genistream><parameter name="size">99</parameter><component name="x"/></genistream>
  <additionalinfo><parameter name="layout">SCAN</parameter></additionalinfo>
</icon_data_format>"#;

#[test]
fn ranger_e_header_with_two_components() {
    // 2 profiles x 40 bytes, SUBCOMPONENT: every plane back to back in XML order.
    let mut dat = Vec::new();
    dat.extend_from_slice(&[16, 0, 32, 0, 0, 0, 1, 0]); // Hi3D 1 Range: 16, 32 | 0, 1
    dat.extend_from_slice(&[5, 6, 7, 8]); // Scatter
    dat.extend_from_slice(&[0; 8]); // Unknown thing
    for p in 0..2i32 {
        for w in 0..5i32 {
            dat.extend_from_slice(&(100 * p + w).to_le_bytes()); // Mark
        }
    }
    dat.extend_from_slice(&[9, 0, 9, 0, 9, 0, 9, 0]); // Hi3D 2 Range
    dat.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // Image
    assert_eq!(dat.len(), 80);

    let cap = Capture::from_bytes(RANGER_E, dat).expect("reads");
    assert_eq!(cap.profiles(), 2);
    assert_eq!(cap.component_name(), "Hi3D 1");
    assert_eq!(cap.header().components.len(), 2);
    let RangePlane::Word(range) = cap.range() else {
        panic!("WORD range expected");
    };
    assert_eq!(range.to_vec(), vec![16, 32, 0, 1]);
    assert_eq!(cap.scatter().expect("scatter").to_vec(), vec![5, 6, 7, 8]);
    assert!(cap.intensity().is_none());
    let mark = cap.mark().expect("mark");
    assert_eq!(mark.kind(), MarkKind::Extended);
    assert_eq!(mark.extended(1), Some([100, 101, 102, 103, 104]));

    // Sensor traits: row = v x scale z + origin z, in sensor units; no mm x axis.
    assert!(matches!(
        cap.range_traits(),
        Some(RangeTraits::Sensor { scale_z, origin_z, fov_x, fov_z, .. })
            if *scale_z == -0.0625 && *origin_z == 10.0 && fov_x[1] == 1535.0 && fov_z[2] == 511.0
    ));
    let conv = cap.height_conversion();
    assert_eq!(conv.units, HeightUnits::SensorUnits);
    assert_eq!(conv.to_height(16.0), Some(9.0));
    assert_eq!(conv.to_height(0.0), None);
    assert_eq!(cap.column_x_mm(0), None);

    // The Image plane of the second component is reachable by index.
    let (idx, sub) = cap
        .header()
        .subcomponents()
        .enumerate()
        .find(|(_, (_, s))| s.kind == SubcomponentKind::Image)
        .map(|(i, (_, s))| (i, s.clone()))
        .expect("image subcomponent");
    assert_eq!(sub.width, 6);
    match cap.subcomponent_plane(idx) {
        Some(prognos_formats::icon::AnyPlane::Byte(p)) => {
            assert_eq!(p.row(1).expect("row 1").to_vec(), vec![7, 8, 9, 10, 11, 12]);
        }
        other => panic!("byte plane expected, got {other:?}"),
    }
}

const GENISTREAM: &str = r#"<icon_data_format valuetype="" name="">
  <parameter name="size">4</parameter>
  <parameter name="version">1</parameter>
  <parameter name="layout">SUBCOMPONENT</parameter>
  <component valuetype="Hi3D" name="Ranger3Range">
    <parameter name="size">4</parameter>
    <parameter name="height">1</parameter>
    <worldrangetraits>
      <parameter name="lower bound x">0</parameter>
      <parameter name="lower bound r">136.1589</parameter>
      <parameter name="upper bound x">100</parameter>
      <parameter name="upper bound r">156.7215</parameter>
    </worldrangetraits>
    <genistreamtraits>
      <parameter name="a axis range scale">0.05</parameter>
      <parameter name="a axis range offset">-20</parameter>
      <parameter name="a axis range min">0</parameter>
      <parameter name="b axis range scale">0.1</parameter>
      <parameter name="c axis range scale">0.00031377</parameter>
      <parameter name="c axis range offset">136.1589</parameter>
      <parameter name="C Axis Range Missing">true</parameter>
      <parameter name="c axis range missing value">0</parameter>
      <parameter name="unit">millimeter</parameter>
    </genistreamtraits>
    <subcomponent valuetype="WORD" name="Range">
      <parameter name="size">4</parameter><parameter name="width">2</parameter>
    </subcomponent>
  </component>
</icon_data_format>"#;

#[test]
fn genistream_traits_win_for_conversion() {
    let cap = Capture::from_bytes(GENISTREAM, vec![0, 0, 0x10, 0x27]).expect("reads");
    let g = cap.genistream().expect("genistream traits");
    assert_eq!(g.c_scale, 0.00031377);
    assert_eq!(g.b_scale, Some(0.1));
    assert_eq!(g.missing, Some(true));
    assert_eq!(g.unit.as_deref(), Some("millimeter"));
    let conv = cap.height_conversion();
    assert_eq!(conv.units, HeightUnits::Millimetres);
    assert_eq!(conv.to_height(0.0), None);
    // 10000 x 0.00031377 + 136.1589 = 139.2966
    let h = conv.to_height(cap.range().get_raw(0, 1).expect("value")).expect("height");
    assert!((h - 139.2966).abs() < 1e-3, "{h}");
    // x from the a axis, not from the world bounds.
    assert_eq!(cap.column_x_mm(0), Some(-20.0));
    assert!((cap.column_x_mm(1).expect("x") - (-19.95)).abs() < 1e-12);
}

#[test]
fn world_word_conversion_matches_genistream_scale() {
    // Without the genistream block, the world bounds give the same scale (SICK's own example).
    let start = GENISTREAM.find("<genistreamtraits>").expect("block");
    let end = GENISTREAM.find("</genistreamtraits>").expect("block end") + "</genistreamtraits>".len();
    let xml = format!("{}{}", &GENISTREAM[..start], &GENISTREAM[end..]);
    let cap = Capture::from_bytes(&xml, vec![1, 0, 0x10, 0x27]).expect("reads");
    let conv = cap.height_conversion();
    assert!(((conv.scale as f64) - 0.00031377).abs() < 1e-8);
    assert!((conv.to_height(1.0).expect("v=1") - 136.1589).abs() < 1e-4);
    let h = conv.to_height(10000.0).expect("height");
    assert!((h - (9999.0 / 65534.0 * (156.7215 - 136.1589) + 136.1589) as f32).abs() < 1e-4);
    assert_eq!(cap.column_x_mm(1), Some(100.0));
}

#[test]
fn no_traits_gives_raw_sensor_units() {
    let start = GENISTREAM.find("<worldrangetraits>").expect("block");
    let end = GENISTREAM.find("</genistreamtraits>").expect("block end") + "</genistreamtraits>".len();
    let xml = format!("{}{}", &GENISTREAM[..start], &GENISTREAM[end..]);
    let cap = Capture::from_bytes(&xml, vec![0, 0, 0x10, 0x27]).expect("reads");
    let conv = cap.height_conversion();
    assert_eq!(conv.units, HeightUnits::SensorUnits);
    assert_eq!(conv.to_height(10000.0), Some(10000.0));
    assert_eq!(conv.to_height(0.0), None);
    assert_eq!(cap.column_x_mm(0), None);
}
