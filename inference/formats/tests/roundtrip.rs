//! Property test: any valid `CaptureData` encodes, reads back equal, and survives a file round trip.

mod common;

use proptest::prelude::*;

use prognos_formats::icon::{
    encode, write_pair, Capture, CaptureData, GeniStreamTraits, IntensityName, Layout, MarkValues, RangeTraits,
    RangeValues,
};

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![-1.0e6..1.0e6f64, proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,]
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        -500.0..500.0f32,
        proptest::num::f32::NORMAL | proptest::num::f32::ZERO | proptest::num::f32::SUBNORMAL,
    ]
}

fn traits() -> impl Strategy<Value = Option<RangeTraits>> {
    prop_oneof![
        Just(None),
        (finite_f64(), finite_f64(), finite_f64(), finite_f64()).prop_map(|(a, b, c, d)| Some(RangeTraits::World {
            lower_x: a,
            upper_x: b,
            lower_r: c,
            upper_r: d,
        })),
        (
            finite_f64(),
            finite_f64(),
            finite_f64(),
            finite_f64(),
            prop::array::uniform4(finite_f64()),
            prop::array::uniform4(finite_f64())
        )
            .prop_map(|(a, b, c, d, fx, fz)| Some(RangeTraits::Sensor {
                origin_x: a,
                scale_x: b,
                origin_z: c,
                scale_z: d,
                fov_x: fx,
                fov_z: fz,
            })),
    ]
}

fn genistream() -> impl Strategy<Value = Option<GeniStreamTraits>> {
    let g = (
        prop::array::uniform4(finite_f64()),
        prop::option::of(finite_f64()),
        prop::option::of(any::<bool>()),
        prop::option::of(finite_f64()),
        prop::option::of("[a-zA-Z<>&\"']{0,8}"),
    )
        .prop_map(|([cs, co, as_, ao], b, m, mv, unit)| GeniStreamTraits {
            c_scale: cs,
            c_offset: co,
            a_scale: as_,
            a_offset: ao,
            b_scale: b,
            missing: m,
            missing_value: mv,
            unit,
        });
    prop::option::of(g)
}

prop_compose! {
    fn capture_data()(width in 1usize..40, profiles in 1usize..16)(
        width in Just(width),
        profiles in Just(profiles),
        layout in prop_oneof![Just(Layout::Subcomponent), Just(Layout::Scan)],
        name in "[A-Za-z0-9_ &<>\"']{0,12}",
        range in prop_oneof![
            prop::collection::vec(any::<u16>(), width * profiles).prop_map(RangeValues::Word),
            prop::collection::vec(finite_f32(), width * profiles).prop_map(RangeValues::Float),
        ],
        intensity in prop::option::of((
            prop_oneof![Just(IntensityName::Intensity), Just(IntensityName::Reflectance)],
            prop::collection::vec(any::<u8>(), width * profiles),
        )),
        scatter in prop::option::of(prop::collection::vec(any::<u8>(), width * profiles)),
        mark in prop::option::of(prop_oneof![
            prop::collection::vec(any::<[i32; 5]>(), profiles).prop_map(MarkValues::Extended),
            prop::collection::vec(any::<[i32; 2]>(), profiles).prop_map(MarkValues::Standard),
        ]),
        range_traits in traits(),
        genistream in genistream(),
    ) -> CaptureData {
        CaptureData {
            layout,
            width,
            profiles,
            component_name: name.trim().to_string(),
            range,
            intensity,
            scatter,
            mark,
            range_traits,
            genistream,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_read_back_is_identity(data in capture_data()) {
        let (xml, dat) = encode(&data).expect("valid data encodes");
        let line: usize = (data.width * data.range.value_type().bytes_per_value())
            + data.intensity.as_ref().map_or(0, |_| data.width)
            + data.scatter.as_ref().map_or(0, |_| data.width)
            + data.mark.as_ref().map_or(0, |m| 4 * m.words());
        prop_assert_eq!(dat.len(), line * data.profiles);
        let cap = Capture::from_bytes(&xml, dat).expect("encoded capture reads");
        prop_assert_eq!(cap.width(), data.width);
        prop_assert_eq!(cap.profiles(), data.profiles);
        prop_assert_eq!(cap.layout(), data.layout);
        prop_assert_eq!(cap.range_value_type(), data.range.value_type());
        // Spot-check the typed accessors against the source, not only `to_data`.
        let last = (data.profiles - 1, data.width - 1);
        let expect_last = match &data.range {
            RangeValues::Word(v) => f32::from(v[v.len() - 1]),
            RangeValues::Float(v) => v[v.len() - 1],
        };
        prop_assert_eq!(cap.range().get_raw(last.0, last.1), Some(expect_last));
        prop_assert_eq!(cap.to_data(), data.clone());
        common::touch_all(&cap);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn write_pair_then_open_is_identity(data in capture_data()) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (xml, dat) = write_pair(&dir.path().join("cap.2024-01-01"), &data).expect("writes");
        prop_assert_eq!(xml.file_name().and_then(|n| n.to_str()), Some("cap.2024-01-01.xml"));
        prop_assert_eq!(dat.file_name().and_then(|n| n.to_str()), Some("cap.2024-01-01.dat"));
        // No temporary files are left behind.
        prop_assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 2);
        let cap = Capture::open(&xml, &dat).expect("opens");
        prop_assert_eq!(cap.to_data(), data);
    }
}
