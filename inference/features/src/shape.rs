//! Features of the median profile across the tread: height over the hub, curvature, trough, conicity,
//! and the intensity profile's band contrast and gradient.

use crate::context::Context;
use crate::stats::{fit_line, fit_quadratic, mean, median};

/// Across-the-tread shape features, heights in percent of the tread width.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shape {
    pub tread_height: f32,
    pub concavity: f32,
    pub trough_depth: f32,
    pub deviation: f32,
    pub conicity: f32,
    pub intensity_mean: f32,
    pub band_contrast: f32,
    pub intensity_gradient: f32,
}

/// Inner and outer limits of the contact band and the shoulders, in tread position `u`.
const BAND: f32 = 0.4;
const SHOULDER: f32 = 0.6;

pub(crate) fn shape(ctx: &Context<'_>) -> Shape {
    let lay = ctx.lay;
    let core = lay.core_bins.clone();
    let p = &ctx.profile;
    let q = &ctx.iprofile;
    let mut scratch = Vec::new();

    // Hub sides: mean column and level of each; a wheel tilted in the view tilts the hub too, so the
    // reference under the tread is the line through both sides, evaluated at the tread's centre.
    let side = |bins: &[usize]| {
        let h = mean(bins.iter().map(|&b| p[b]));
        let c = mean(bins.iter().map(|&b| lay.bins.centre(b)));
        (c, h)
    };
    let ((cl, hl), (cr, hr)) = (side(&lay.hub_left), side(&lay.hub_right));
    let both = hl.is_finite() && hr.is_finite() && cr > cl;
    let hub_slope = if both { (hr - hl) / (cr - cl) } else { 0.0 };
    let mid = 0.5 * (lay.left + lay.right);
    let hub = match (hl.is_finite(), hr.is_finite()) {
        _ if both => hl + hub_slope * (mid - cl),
        (true, _) => hl,
        (_, true) => hr,
        _ => f32::NAN,
    };
    let tread = median(core.clone().map(|b| p[b]), &mut scratch);
    let tread_height = if hub.is_finite() { (tread - hub) * ctx.norm } else { 0.0 };

    let quad = fit_quadratic(core.clone().map(|b| (ctx.u(b), p[b])));
    let (concavity, deviation) = match quad {
        Some([c0, c1, c2]) => {
            let resid = core.clone().map(|b| {
                let u = ctx.u(b);
                let d = p[b] - (c0 + c1 * u + c2 * u * u);
                d * d
            });
            (c2 * ctx.norm, mean(resid).sqrt() * ctx.norm)
        }
        None => (0.0, 0.0),
    };
    let band =
        |lo: f32, hi: f32, v: &[f32]| mean(core.clone().filter(|&b| (lo..hi).contains(&ctx.u(b).abs())).map(|b| v[b]));
    let trough_depth = (band(SHOULDER, 2.0, p) - band(0.0, BAND, p)) * ctx.norm;

    // Conicity: tread slope (per column) against the hub's, over one tread width.
    let width = lay.width_cols();
    let tread_slope = fit_line(core.clone().map(|b| (lay.bins.centre(b), p[b]))).map_or(0.0, |l| l[1]);
    let conicity = ((tread_slope - hub_slope) * width * ctx.norm).abs();

    let imean = mean(core.clone().map(|b| q[b]));
    let band_contrast = band(0.0, BAND, q) / band(SHOULDER, 2.0, q) - 1.0;
    let igrad = fit_line(core.clone().map(|b| (ctx.u(b), q[b]))).map_or(0.0, |l| l[1]);
    Shape {
        tread_height,
        concavity,
        trough_depth,
        deviation,
        conicity,
        intensity_mean: imean / 255.0,
        band_contrast,
        intensity_gradient: (2.0 * igrad / imean).abs(),
    }
}
