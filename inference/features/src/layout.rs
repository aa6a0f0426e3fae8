//! Where the tread and the hub rim are across the profile, found on a sample of profiles.
//!
//! The median of the sampled profiles, per column bin, separates two levels: the tread (high) and the
//! hub rim beside it (low). The threshold half-way between them is then located at full resolution on
//! every sampled profile to measure the tread edges and width, which normalise every other feature.

use std::ops::Range;

use crate::kernels::{Cell, FloatRow};
use crate::scan::{reduce_float_row, Bins, BINS};
use crate::stats::{median, percentile};
use crate::{FeatureError, Surface};

/// Share of the tread width left out at each edge to form the tread core.
pub(crate) const CORE_MARGIN: f32 = 0.06;
/// Profiles sampled to find the tread.
const SAMPLES: usize = 64;

/// The tread and hub positions of one capture.
#[derive(Debug, Clone)]
pub(crate) struct TreadLayout {
    /// The column bins.
    pub bins: Bins,
    /// Median left and right tread edge columns (fractional).
    pub left: f32,
    /// See `left`.
    pub right: f32,
    /// Tread core columns.
    pub core_cols: Range<usize>,
    /// Bins lying wholly inside the core.
    pub core_bins: Range<usize>,
    /// Hub-rim bins left of the tread.
    pub hub_left: Vec<usize>,
    /// Hub-rim bins right of the tread.
    pub hub_right: Vec<usize>,
}

impl TreadLayout {
    /// Tread width in columns.
    pub fn width_cols(&self) -> f32 {
        self.right - self.left + 1.0
    }

    /// Position of column `c` across the tread: -1 at the left edge, +1 at the right edge.
    pub fn u(&self, c: f32) -> f32 {
        let mid = 0.5 * (self.left + self.right);
        (c - mid) / (0.5 * self.width_cols())
    }
}

/// Finds the tread on a sample of profiles.
pub(crate) fn find_tread(surface: &Surface<'_>) -> Result<TreadLayout, FeatureError> {
    let (rows, width) = (surface.rows(), surface.width());
    let bins = Bins::new(width);
    let step = (rows / SAMPLES).max(1);
    let sampled: Vec<usize> = (0..rows).step_by(step).collect();

    // Per-bin means of the sampled profiles, bin-major for the medians.
    let mut heights = vec![f32::NAN; width];
    let mut cells = vec![Cell::EMPTY; BINS];
    let mut row = FloatRow::default();
    let mut means = vec![f32::NAN; BINS * sampled.len()];
    for (k, &r) in sampled.iter().enumerate() {
        surface.fill_heights(r, &mut heights);
        row.load(&heights, None);
        reduce_float_row(&bins, &row, &mut cells);
        for (b, c) in cells.iter().enumerate() {
            if c.n as usize * 2 >= bins.len(b) {
                means[b * sampled.len() + k] = c.mean;
            }
        }
    }
    let mut scratch = Vec::with_capacity(sampled.len());
    let profile: Vec<f32> =
        means.chunks_exact(sampled.len()).map(|m| median(m.iter().copied(), &mut scratch)).collect();
    let valid = profile.iter().filter(|v| v.is_finite()).count();
    if valid < 8 {
        return Err(FeatureError::NoTread(format!("only {valid} of {BINS} column bins have enough valid points")));
    }

    // Two levels: tread (high) and hub rim (low). Without a clear step, every valid bin is tread.
    let hi = percentile(profile.iter().copied(), 0.9, &mut scratch);
    let lo = percentile(profile.iter().copied(), 0.1, &mut scratch);
    let valid_span = valid as f32 * (width as f32 / BINS as f32) * surface.x_pitch();
    let stepped = (hi - lo) * surface.height_aspect() > 0.02 * valid_span;
    let threshold = if stepped { 0.5 * (hi + lo) } else { f32::NEG_INFINITY };
    let run = longest_run(&profile, threshold)
        .ok_or_else(|| FeatureError::NoTread("no column bin rises above the hub level".into()))?;

    // Edges at full resolution on every sampled profile.
    let search = bins.edges[run.start.saturating_sub(1)]..bins.edges[(run.end + 1).min(BINS)];
    let (mut lefts, mut rights) = (Vec::new(), Vec::new());
    for &r in &sampled {
        surface.fill_heights(r, &mut heights);
        let row = &heights[search.clone()];
        let first = row.iter().position(|&v| v > threshold);
        let last = row.iter().rposition(|&v| v > threshold);
        if let (Some(a), Some(b)) = (first, last) {
            lefts.push((search.start + a) as f32);
            rights.push((search.start + b) as f32);
        }
    }
    let left = median(lefts.iter().copied(), &mut scratch);
    let right = median(rights.iter().copied(), &mut scratch);
    if !(left.is_finite() && right.is_finite()) || right - left < 16.0 {
        return Err(FeatureError::NoTread(format!("tread edges not found (left {left}, right {right})")));
    }

    let margin = CORE_MARGIN * (right - left + 1.0);
    let core_cols = (left + margin).ceil() as usize..((right - margin).floor() as usize + 1);
    let core_bins = bins_within(&bins, &core_cols);
    if core_bins.len() < 4 {
        return Err(FeatureError::NoTread(format!("tread core spans only {} column bins", core_bins.len())));
    }
    let is_hub = |b: &usize| profile[*b].is_finite() && profile[*b] < threshold;
    let hub_left = (0..BINS).filter(|&b| (bins.edges[b + 1] as f32) <= left - margin).filter(is_hub).collect();
    let hub_right = (0..BINS).filter(|&b| (bins.edges[b] as f32) >= right + margin).filter(is_hub).collect();
    Ok(TreadLayout { bins, left, right, core_cols, core_bins, hub_left, hub_right })
}

/// The longest run of consecutive bins above `threshold`.
fn longest_run(profile: &[f32], threshold: f32) -> Option<Range<usize>> {
    let mut best: Option<Range<usize>> = None;
    let mut start = None;
    for (b, &v) in profile.iter().chain(std::iter::once(&f32::NAN)).enumerate() {
        match (v > threshold, start) {
            (true, None) => start = Some(b),
            (false, Some(s)) => {
                if best.as_ref().is_none_or(|r| b - s > r.len()) {
                    best = Some(s..b);
                }
                start = None;
            }
            _ => {}
        }
    }
    best
}

/// Bins lying wholly inside `cols`.
fn bins_within(bins: &Bins, cols: &Range<usize>) -> Range<usize> {
    let first = (0..BINS).find(|&b| bins.edges[b] >= cols.start).unwrap_or(BINS);
    let end = (0..BINS).rev().find(|&b| bins.edges[b + 1] <= cols.end).map_or(0, |b| b + 1);
    first..end.max(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_run_picks_the_widest() {
        let p = [0.0, 5.0, 5.0, 0.0, 5.0, 5.0, 5.0, f32::NAN, 5.0];
        assert_eq!(longest_run(&p, 1.0), Some(4..7));
        assert_eq!(longest_run(&[0.0, 0.0], 1.0), None);
    }

    #[test]
    fn bins_within_core() {
        let bins = Bins::new(640);
        assert_eq!(bins_within(&bins, &(25..105)), 3..10);
    }
}
