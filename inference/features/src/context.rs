//! What every feature is computed against: column profiles, per-profile levels and the height scale.

use crate::layout::TreadLayout;
use crate::scan::{Grid, BINS};
use crate::stats::{mean, median};

/// Most profiles the column medians are taken over.
const PROFILE_ROWS: usize = 256;

/// The capture's own references, computed once from the cell grid.
#[derive(Debug)]
pub(crate) struct Context<'g> {
    /// The cell grid.
    pub grid: &'g Grid,
    /// Tread and hub positions.
    pub lay: &'g TreadLayout,
    /// Multiplies a height (in height units) into percent of the tread width.
    pub norm: f32,
    /// Fewest valid points for a cell to count, per bin (a quarter of the bin).
    pub min_n: [u32; BINS],
    /// Median height per bin over the profiles (the capture's median profile).
    pub profile: Vec<f32>,
    /// Median intensity per bin over the profiles.
    pub iprofile: Vec<f32>,
    /// Per profile: median over core bins of (cell mean - profile).
    pub row_level: Vec<f32>,
    /// Per profile: mean over hub bins of (cell mean - profile); 0 without hub bins.
    pub hub_level: Vec<f32>,
    /// Per profile: median over core bins of (cell intensity / intensity profile) - 1.
    pub row_intensity: Vec<f32>,
}

impl<'g> Context<'g> {
    /// Builds the references; `norm` converts height units to percent of the tread width.
    pub fn new(grid: &'g Grid, lay: &'g TreadLayout, norm: f32) -> Context<'g> {
        let mut min_n = [1u32; BINS];
        for (b, m) in min_n.iter_mut().enumerate() {
            *m = (lay.bins.len(b) as u32 / 4).max(1);
        }
        let rows = grid.rows;
        let mut scratch = Vec::with_capacity(rows);
        let valid = |r: usize, b: usize| grid.at(r, b).n >= min_n[b];
        // Column medians over at most PROFILE_ROWS evenly spaced profiles: as robust, and cheaper.
        let step = rows.div_ceil(PROFILE_ROWS).max(1);
        let profile: Vec<f32> = (0..BINS)
            .map(|b| {
                let it = (0..rows).step_by(step).filter(|&r| valid(r, b)).map(|r| grid.at(r, b).mean);
                median(it, &mut scratch)
            })
            .collect();
        let iprofile: Vec<f32> = (0..BINS)
            .map(|b| {
                let it = (0..rows).step_by(step).filter(|&r| valid(r, b)).map(|r| grid.at(r, b).imean);
                median(it, &mut scratch)
            })
            .collect();
        let core = lay.core_bins.clone();
        let hubs: Vec<usize> = lay.hub_left.iter().chain(&lay.hub_right).copied().collect();
        let mut row_level = Vec::with_capacity(rows);
        let mut hub_level = Vec::with_capacity(rows);
        let mut row_intensity = Vec::with_capacity(rows);
        for r in 0..rows {
            let level = core.clone().filter(|&b| valid(r, b)).map(|b| grid.at(r, b).mean - profile[b]);
            row_level.push(median(level, &mut scratch));
            let hub = hubs.iter().filter(|&&b| valid(r, b)).map(|&b| grid.at(r, b).mean - profile[b]);
            let h = mean(hub);
            hub_level.push(if hubs.is_empty() { 0.0 } else { h });
            let ratio = core
                .clone()
                .filter(|&b| valid(r, b) && iprofile[b] > 0.0)
                .map(|b| grid.at(r, b).imean / iprofile[b] - 1.0);
            row_intensity.push(median(ratio, &mut scratch));
        }
        Context { grid, lay, norm, min_n, profile, iprofile, row_level, hub_level, row_intensity }
    }

    /// True when cell (`r`, `b`) has enough valid points to use.
    #[inline]
    pub fn valid(&self, r: usize, b: usize) -> bool {
        self.grid.at(r, b).n >= self.min_n[b]
    }

    /// Position across the tread (-1 left edge, +1 right edge) of bin `b`'s centre.
    pub fn u(&self, b: usize) -> f32 {
        self.lay.u(self.lay.bins.centre(b))
    }

    /// Cell residual: cell mean minus its column profile and its profile's level (height units); NaN
    /// when the cell or the level is unusable.
    #[inline]
    pub fn residual(&self, r: usize, b: usize) -> f32 {
        if self.valid(r, b) {
            self.grid.at(r, b).mean - self.profile[b] - self.row_level[r]
        } else {
            f32::NAN
        }
    }
}
