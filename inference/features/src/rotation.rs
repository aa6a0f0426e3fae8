//! Features along the circumference: runout, flat-spot depth/length, glazing, and the seam bulge.

use crate::context::Context;
use crate::stats::{first_harmonic, moving_average, percentile, running_median};

/// Along-the-circumference features, heights in percent of the tread width.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rotation {
    pub runout_spread: f32,
    pub runout_once_per_turn: f32,
    pub flat_depth: f32,
    pub flat_length: f32,
    pub flat_brightening: f32,
    pub seam_bulge: f32,
}

/// Odd window of about `fraction` of `n` samples, at least `min`.
fn window(n: usize, fraction: f32, min: usize) -> usize {
    (((n as f32 * fraction) as usize).max(min)) | 1
}

pub(crate) fn rotation(ctx: &Context<'_>) -> Rotation {
    let rows = ctx.grid.rows;
    // Tread level relative to the hub per profile: wobble of the whole wheel cancels.
    let level: Vec<f32> = ctx
        .row_level
        .iter()
        .zip(&ctx.hub_level)
        .map(|(&t, &h)| (t - if h.is_finite() { h } else { 0.0 }) * ctx.norm)
        .collect();
    let mut scratch = Vec::with_capacity(rows);
    let p95 = percentile(level.iter().copied(), 0.95, &mut scratch);
    let p05 = percentile(level.iter().copied(), 0.05, &mut scratch);

    let long = window(rows, 1.0 / 6.0, 5);
    let short = window(rows, 1.0 / 200.0, 3);
    let (flat_depth, flat_length) = deepest_dip(&level, long, short);

    let bright = peak_rise(&ctx.row_intensity, long, short);

    // Seam: mean residual of the three outermost core bins on each side, the larger side per profile.
    let core = ctx.lay.core_bins.clone();
    let edge = 3.min(core.len() / 2);
    let side_mean = |r: usize, bins: std::ops::Range<usize>| {
        let (mut s, mut n) = (0.0f32, 0u32);
        for b in bins {
            let e = ctx.residual(r, b);
            if e.is_finite() {
                s += e;
                n += 1;
            }
        }
        if n == 0 {
            f32::NAN
        } else {
            s / n as f32
        }
    };
    let seam: Vec<f32> = (0..rows)
        .map(|r| {
            let l = side_mean(r, core.start..core.start + edge);
            let rr = side_mean(r, core.end - edge..core.end);
            l.max(rr) * ctx.norm
        })
        .collect();
    let seam_bulge =
        moving_average(&seam, window(rows, 1.0 / 50.0, 3)).into_iter().filter(|v| v.is_finite()).fold(0.0f32, f32::max);

    Rotation {
        runout_spread: finite_or_zero(p95 - p05),
        runout_once_per_turn: first_harmonic(&level),
        flat_depth,
        flat_length,
        flat_brightening: bright,
        seam_bulge,
    }
}

/// Deepest dip of the smoothed series below its running median, and the share of samples in that dip
/// deeper than half of it.
fn deepest_dip(xs: &[f32], long: usize, short: usize) -> (f32, f32) {
    let base = running_median(xs, long);
    let smooth = moving_average(xs, short);
    let dip: Vec<f32> = base.iter().zip(&smooth).map(|(b, s)| b - s).collect();
    let Some((at, depth)) =
        dip.iter().enumerate().filter(|(_, d)| d.is_finite()).max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, &d)| (i, d))
    else {
        return (0.0, 0.0);
    };
    if depth <= 0.0 {
        return (0.0, 0.0);
    }
    let half = 0.5 * depth;
    let deep = |d: &f32| d.is_finite() && *d > half;
    let before = dip[..at].iter().rev().take_while(|d| deep(d)).count();
    let after = dip[at..].iter().take_while(|d| deep(d)).count();
    (depth, (before + after) as f32 / xs.len() as f32)
}

/// Largest rise of the smoothed series above its running median (0 when none).
fn peak_rise(xs: &[f32], long: usize, short: usize) -> f32 {
    let base = running_median(xs, long);
    let smooth = moving_average(xs, short);
    smooth.iter().zip(&base).map(|(s, b)| s - b).filter(|v| v.is_finite()).fold(0.0f32, f32::max)
}

fn finite_or_zero(v: f32) -> f32 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dip_depth_and_length() {
        let mut xs = vec![0.0f32; 600];
        for x in &mut xs[300..330] {
            *x = -2.0;
        }
        let (d, l) = deepest_dip(&xs, 101, 3);
        assert!((d - 2.0).abs() < 1e-4, "{d}");
        assert!((l - 30.0 / 600.0).abs() < 0.005, "{l}");
        assert_eq!(deepest_dip(&[1.0; 50], 11, 3), (0.0, 0.0));
    }
}
