//! Rendering a scene and condition profile by profile into encoded range and intensity planes.
//!
//! Each profile is built from per-column terms (shape, wear, reflectance), per-profile terms (wobble,
//! runout, flat spot, debonding) and the local spots and cracks crossing it; then points on steep
//! slopes are dropped, sensor noise and random dropouts are applied, and the row is encoded. No full
//! height plane is ever held in floating point.

use rand::Rng;

use crate::condition::{Condition, Spot};
use crate::noise::{geometric_gap, Gauss};
use crate::scene::{row_distance, Region, Scene, DROPOUT, SENSOR_NOISE, STEEP};

/// How a row of heights (mm, NaN = missing) becomes raw range values.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RangeEncoder {
    /// `raw = round((mm - offset) / scale)`, clamped to 1..=65535; missing = 0.
    Word { scale: f32, offset: f32 },
    /// `raw = mm`; missing = 0.0.
    Float,
}

/// The encoded planes of one capture.
#[derive(Debug)]
pub(crate) enum RangeOut {
    Word(Vec<u16>),
    Float(Vec<f32>),
}

/// Per-column terms, computed once per capture.
struct Columns {
    height: Vec<f32>,
    intensity: Vec<f32>,
    tread: Vec<f32>,
    bulge: Vec<f32>,
    sigma: Vec<f32>,
}

fn columns(scene: &Scene, cond: &Condition) -> Columns {
    let w = scene.width;
    let mut c = Columns {
        height: Vec::with_capacity(w),
        intensity: Vec::with_capacity(w),
        tread: Vec::with_capacity(w),
        bulge: Vec::with_capacity(w),
        sigma: Vec::with_capacity(w),
    };
    for col in 0..w {
        let base_h = scene.base_height(col);
        let base_i = scene.base_intensity(col) * scene.reflectance_col(col);
        if scene.region(col) == Region::Tread {
            let u = scene.u(col);
            let (dh, di) = cond.column_effect(u);
            c.height.push(base_h + dh);
            c.intensity.push(base_i * di);
            c.tread.push(1.0);
            c.bulge.push(cond.bulge_shape(u));
            c.sigma.push(SENSOR_NOISE.hypot(cond.abrasion.0));
        } else {
            c.height.push(base_h);
            c.intensity.push(base_i);
            c.tread.push(0.0);
            c.bulge.push(0.0);
            c.sigma.push(SENSOR_NOISE);
        }
    }
    c
}

/// Renders every profile; returns the range plane and the intensity plane, row-major.
pub(crate) fn render(
    scene: &Scene,
    cond: &Condition,
    encoder: RangeEncoder,
    rng: &mut impl Rng,
) -> (RangeOut, Vec<u8>) {
    let (w, rows) = (scene.width, scene.rows);
    let cols = columns(scene, cond);
    let mut range = match encoder {
        RangeEncoder::Word { .. } => RangeOut::Word(Vec::with_capacity(w * rows)),
        RangeEncoder::Float => RangeOut::Float(Vec::with_capacity(w * rows)),
    };
    let mut intensity = Vec::with_capacity(w * rows);
    let mut h = vec![0.0f32; w];
    let mut i = vec![0.0f32; w];
    let mut steep = vec![false; w];
    let mut gauss = Gauss::default();
    let mut next_dropout = geometric_gap(rng, DROPOUT);
    let mut crack_at = 0usize;
    let limit = 2.0 * STEEP * scene.pitch;

    for r in 0..rows {
        // Column and row terms.
        let (row_dh, bulge, row_di) = cond.row_effect(scene.angle(r));
        let wobble = scene.wobble_at(r);
        let tread_dh = scene.runout_at(r) + row_dh;
        let refl = scene.reflectance_row(r);
        for c in 0..w {
            let t = cols.tread[c];
            h[c] = cols.height[c] + wobble + t * tread_dh + cols.bulge[c] * bulge;
            i[c] = cols.intensity[c] * refl * (1.0 + t * (row_di - 1.0));
        }

        // Local spots and cracks.
        for pit in &cond.pits {
            apply_spot(pit, r, rows, &mut h, &mut i, rng, true);
        }
        for bump in &cond.bumps {
            apply_spot(bump, r, rows, &mut h, &mut i, rng, false);
        }
        let cracks = &cond.cracks;
        while crack_at < cracks.points.len() && (cracks.points[crack_at].0 as usize) < r {
            crack_at += 1;
        }
        while crack_at < cracks.points.len() && cracks.points[crack_at].0 as usize == r {
            let c = cracks.points[crack_at].1 as usize;
            if h[c].is_finite() && cols.tread[c] > 0.0 {
                h[c] -= cracks.depth;
                i[c] *= cracks.shade;
                if rng.random::<f32>() < cracks.missing {
                    h[c] = f32::NAN;
                }
            }
            crack_at += 1;
        }

        // No laser peak on steep slopes.
        for c in 1..w - 1 {
            steep[c] = (h[c + 1] - h[c - 1]).abs() > limit;
        }

        // Noise, dropouts, encoding.
        for c in 0..w {
            let mut missing = !h[c].is_finite() || steep[c];
            if next_dropout == 0 {
                missing = true;
                next_dropout = geometric_gap(rng, DROPOUT);
            } else {
                next_dropout -= 1;
            }
            if missing {
                h[c] = f32::NAN;
                i[c] = 0.0;
            } else {
                h[c] += cols.sigma[c] * gauss.next(rng);
                i[c] = i[c] * (1.0 + 0.05 * gauss.next(rng)) + gauss.next(rng);
            }
        }
        encode_row(&h, encoder, &mut range);
        intensity.extend(i.iter().zip(&h).map(|(&v, hv)| {
            if hv.is_finite() {
                // Round half up without a libm call (x86-64 baseline has no rounding instruction).
                (v.clamp(0.0, 255.0) + 0.5).clamp(1.0, 255.0) as u8
            } else {
                0
            }
        }));
    }
    (range, intensity)
}

/// Applies one pit (`pit` true) or bump to row `r`.
fn apply_spot(s: &Spot, r: usize, rows: usize, h: &mut [f32], i: &mut [f32], rng: &mut impl Rng, pit: bool) {
    if s.rows <= 0.0 || s.cols <= 0.0 || s.size <= 0.0 {
        return;
    }
    let dr = row_distance(r as f32, s.row, rows) / s.rows;
    if dr >= 1.0 {
        return;
    }
    let half = s.cols * (1.0 - dr * dr).sqrt();
    let lo = (s.col - half).ceil().max(0.0) as usize;
    let hi = ((s.col + half).floor() as i64).min(h.len() as i64 - 1);
    if hi < 0 {
        return;
    }
    // Missing points need a pit deep enough to hide the floor from the camera.
    let visible = (s.size / 0.5).min(1.0);
    for c in lo..=hi as usize {
        if !h[c].is_finite() {
            continue;
        }
        let dc = (c as f32 - s.col) / s.cols;
        let rho2 = dc * dc + dr * dr;
        if rho2 >= 1.0 {
            continue;
        }
        if pit {
            let rho = rho2.sqrt();
            let x = ((1.0 - rho) / 0.15).min(1.0);
            let wall = x * x * (3.0 - 2.0 * x);
            h[c] -= s.size * wall;
            i[c] *= 1.0 + (s.shade - 1.0) * wall;
            let p = if rho > 0.85 { 0.75 } else { 0.15 } * visible;
            if rng.random::<f32>() < p {
                h[c] = f32::NAN;
            }
        } else {
            let k = 1.0 - rho2;
            h[c] += s.size * k * k;
            i[c] *= 1.0 + (s.shade - 1.0) * k;
        }
    }
}

fn encode_row(h: &[f32], encoder: RangeEncoder, out: &mut RangeOut) {
    match out {
        RangeOut::Word(v) => {
            let (scale, offset) = match encoder {
                RangeEncoder::Word { scale, offset } => (scale, offset),
                RangeEncoder::Float => (1.0, 0.0),
            };
            let inv = 1.0 / scale;
            v.extend(h.iter().map(|&x| {
                if x.is_finite() {
                    (((x - offset) * inv).clamp(0.0, 65535.0) + 0.5).clamp(1.0, 65535.0) as u16
                } else {
                    0
                }
            }));
        }
        RangeOut::Float(v) => {
            v.extend(h.iter().map(|&x| if x.is_finite() { x } else { 0.0 }));
        }
    }
}
