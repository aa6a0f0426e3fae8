//! Features of single tread cells: pits, protrusions, roughness and dark areas.

use crate::context::Context;
use crate::stats::median_in_place;

/// Height (in percent of the tread width) a cell must lie below or above its surroundings to count as
/// a pit or a protrusion.
pub(crate) const CELL_THRESHOLD: f32 = 0.4;
/// Intensity share of the column median below which a cell counts as dark.
const DARK: f32 = 0.7;

/// Cell-level features.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Local {
    pub pit_depth: f32,
    pub pit_area: f32,
    pub protrusion_height: f32,
    pub protrusion_area: f32,
    pub roughness: f32,
    pub dark_area: f32,
}

pub(crate) fn local(ctx: &Context<'_>) -> Local {
    let core = ctx.lay.core_bins.clone();
    let p = &ctx.profile;
    // Variance a straight ramp along the profile's own slope adds inside one bin.
    let ramp: Vec<f32> = core
        .clone()
        .map(|b| {
            let lo = p.get(b.wrapping_sub(1)).copied().unwrap_or(p[b]);
            let hi = p.get(b + 1).copied().unwrap_or(p[b]);
            let d = 0.5 * (hi - lo);
            if d.is_finite() {
                d * d / 12.0
            } else {
                0.0
            }
        })
        .collect();

    let (mut cells, mut pits, mut bumps, mut dark) = (0u64, 0u64, 0u64, 0u64);
    let (mut deepest, mut highest) = (0.0f32, 0.0f32);
    let mut vars = Vec::with_capacity(ctx.grid.rows * core.len());
    for r in 0..ctx.grid.rows {
        for (k, b) in core.clone().enumerate() {
            cells += 1;
            let cell = ctx.grid.at(r, b);
            if cell.n * 2 < ctx.lay.bins.len(b) as u32 {
                pits += 1; // mostly missing: a hole the camera cannot see into
            }
            if !ctx.valid(r, b) {
                continue;
            }
            let e = ctx.residual(r, b) * ctx.norm;
            if e.is_finite() {
                deepest = deepest.max(-e);
                highest = highest.max(e);
                pits += u64::from(e < -CELL_THRESHOLD && cell.n * 2 >= ctx.lay.bins.len(b) as u32);
                bumps += u64::from(e > CELL_THRESHOLD);
            }
            vars.push((cell.var - ramp[k]).max(0.0));
            let q = ctx.iprofile[b];
            dark += u64::from(q > 0.0 && cell.imean < DARK * q);
        }
    }
    let share = |k: u64| {
        if cells == 0 {
            0.0
        } else {
            k as f32 / cells as f32
        }
    };
    let var = median_in_place(&mut vars);
    Local {
        pit_depth: deepest,
        pit_area: share(pits),
        protrusion_height: highest,
        protrusion_area: share(bumps),
        roughness: if var.is_finite() { var.sqrt() * ctx.norm } else { 0.0 },
        dark_area: share(dark),
    }
}
