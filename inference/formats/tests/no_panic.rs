//! Robustness: mutated headers and `.dat`s either read or fail with an error; nothing panics.

mod common;

use proptest::prelude::*;

use prognos_formats::icon::{encode, Capture, CaptureData, IntensityName, Layout, MarkValues, RangeValues};

fn base(layout: Layout, float: bool) -> (String, Vec<u8>) {
    let (w, p) = (5, 3);
    let data = CaptureData {
        layout,
        width: w,
        profiles: p,
        component_name: "Hi3D 1".to_string(),
        range: if float {
            RangeValues::Float((0..w * p).map(|i| i as f32).collect())
        } else {
            RangeValues::Word((0..w * p).map(|i| i as u16).collect())
        },
        intensity: Some((IntensityName::Reflectance, vec![9; w * p])),
        scatter: Some(vec![1; w * p]),
        mark: Some(MarkValues::Extended(vec![[1, 2, 3, 4, 5]; p])),
        range_traits: None,
        genistream: None,
    };
    encode(&data).expect("encodes")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_inputs_never_panic(
        scan in any::<bool>(),
        float in any::<bool>(),
        xml_edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        number_edits in prop::collection::vec((any::<prop::sample::Index>(), "[0-9]{1,12}|-1|nan|inf"), 0..3),
        dat_edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        dat_len in any::<prop::sample::Index>(),
    ) {
        let (xml, mut dat) = base(if scan { Layout::Scan } else { Layout::Subcomponent }, float);
        let mut xml = xml.into_bytes();
        for (i, b) in xml_edits {
            let i = i.index(xml.len());
            xml[i] = b;
        }
        let mut xml = String::from_utf8_lossy(&xml).into_owned();
        for (i, n) in number_edits {
            // Replace one parameter value with another number (or garbage).
            let starts: Vec<usize> = xml.match_indices("\">").map(|(i, _)| i + 2).collect();
            let s = starts[i.index(starts.len())];
            if let Some(e) = xml[s..].find('<') {
                xml.replace_range(s..s + e, &n);
            }
        }
        for (i, b) in dat_edits {
            let i = i.index(dat.len());
            dat[i] = b;
        }
        dat.truncate(dat_len.index(dat.len() + 1));
        if let Ok(cap) = Capture::from_bytes(&xml, dat) {
            common::touch_all(&cap);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(xml in ".{0,300}", dat in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(cap) = Capture::from_bytes(&xml, dat) {
            common::touch_all(&cap);
        }
    }
}
