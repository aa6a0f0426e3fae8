//! Helpers shared by the iCon integration tests.

#![allow(dead_code)]

use prognos_formats::icon::{AnyPlane, Capture, RangePlane};

/// Touches every accessor and value of a capture; returns a checksum so nothing is optimised away.
pub fn touch_all(cap: &Capture) -> f64 {
    let mut acc = 0.0f64;
    let conv = cap.height_conversion();
    acc += cap.width() as f64 + cap.profiles() as f64;
    let range = cap.range();
    for r in 0..range.rows() {
        if let Some(row) = range.row_raw(r) {
            for v in row.iter() {
                acc += conv.to_height(v).map_or(0.0, f64::from);
            }
        }
    }
    if let RangePlane::Word(p) = range {
        acc += p.iter_rows().map(|r| r.len()).sum::<usize>() as f64;
    }
    if let Some((_, p)) = cap.intensity() {
        acc += p.to_vec().iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    if let Some(p) = cap.scatter() {
        acc += p.to_vec().len() as f64;
    }
    if let Some(m) = cap.mark() {
        for i in 0..m.len() {
            acc += f64::from(m.encoder(i).unwrap_or(0));
            acc += f64::from(m.overtrigger(i).unwrap_or(0));
            let _ = m.extended(i);
            let _ = m.standard(i);
        }
    }
    for c in 0..=cap.width() {
        acc += cap.column_x_mm(c).unwrap_or(0.0);
    }
    let n = cap.header().subcomponents().count();
    for i in 0..=n {
        if let Some(AnyPlane::Byte(p)) = cap.subcomponent_plane(i) {
            acc += p.rows() as f64;
        }
    }
    let _ = cap.to_data();
    acc
}
