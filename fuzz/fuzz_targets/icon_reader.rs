//! Fuzz target: split the input into an `.xml` and a `.dat` half, read it, touch every accessor.
//!
//! The first two bytes (little-endian u16) give the length of the xml part; the rest is the `.dat`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prognos_formats::icon::{AnyPlane, Capture, RangePlane};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let split = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
    let (xml, dat) = data[2..].split_at(split);
    let Ok(xml) = std::str::from_utf8(xml) else {
        return;
    };
    let Ok(cap) = Capture::from_bytes(xml, dat.to_vec()) else {
        return;
    };
    let conv = cap.height_conversion();
    let range = cap.range();
    assert_eq!(range.rows(), cap.profiles());
    assert_eq!(range.width(), cap.width());
    let mut buf = Vec::new();
    let mut n = 0usize;
    for r in 0..range.rows() {
        let row = range.row_raw(r).expect("every row in range exists");
        assert_eq!(row.len(), cap.width());
        n += row.iter().filter_map(|v| conv.to_height(v)).count();
        conv.heights_into(row, &mut buf);
        assert_eq!(buf.len(), cap.width());
    }
    assert!(range.row_raw(range.rows()).is_none());
    if let RangePlane::Float(p) = range {
        assert!(p.to_vec().iter().all(|v| v.is_finite()));
    }
    if let Some((_, p)) = cap.intensity() {
        assert_eq!(p.to_vec().len(), cap.width() * cap.profiles());
    }
    if let Some(p) = cap.scatter() {
        assert_eq!(p.to_vec().len(), cap.width() * cap.profiles());
    }
    if let Some(m) = cap.mark() {
        for i in 0..m.len() {
            assert!(m.standard(i).is_some());
            let _ = (m.extended(i), m.overtrigger(i));
        }
    }
    for c in 0..=cap.width() {
        let _ = cap.column_x_mm(c);
    }
    for i in 0..=cap.header().subcomponents().count() {
        if let Some(AnyPlane::Byte(p)) = cap.subcomponent_plane(i) {
            let _ = p.to_vec();
        }
    }
    // The owned copy re-encodes (when its text survives) and reads back identically.
    let owned = cap.to_data();
    if let Ok((xml2, dat2)) = prognos_formats::icon::encode(&owned) {
        let again = Capture::from_bytes(&xml2, dat2).expect("re-encoded capture reads");
        assert_eq!(again.to_data(), owned);
    }
    std::hint::black_box(n);
});
