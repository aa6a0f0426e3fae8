//! The one full pass over a surface: per-cell height/intensity statistics and thin-line counts.
//!
//! Each profile is converted once into a reused buffer and reduced to [`BINS`] column bins (valid count,
//! mean, variance, mean intensity). Inside the tread core the same pass counts thin dark intensity lines
//! (across and along the profile) and narrow height grooves. Loops run over row slices with several
//! independent accumulators so that they vectorise.

use std::ops::Range;

use crate::Surface;

/// Column bins per profile (the grid's width, whatever the capture's width).
pub(crate) const BINS: usize = 64;
/// Distance, in points, at which a thin line's neighbours are compared.
pub(crate) const LINE_K: usize = 5;

/// Column edges of the [`BINS`] bins: bin `b` covers columns `edges[b]..edges[b + 1]`.
#[derive(Debug, Clone)]
pub(crate) struct Bins {
    pub edges: Vec<usize>,
}

impl Bins {
    /// Equal bins over `width` columns.
    pub fn new(width: usize) -> Bins {
        Bins {
            edges: (0..=BINS).map(|b| b * width / BINS).collect(),
        }
    }

    /// Columns of bin `b`.
    pub fn cols(&self, b: usize) -> Range<usize> {
        self.edges[b]..self.edges[b + 1]
    }

    /// Centre column of bin `b` (fractional).
    pub fn centre(&self, b: usize) -> f32 {
        (self.edges[b] + self.edges[b + 1]) as f32 * 0.5 - 0.5
    }

    /// Columns in bin `b`.
    pub fn len(&self, b: usize) -> usize {
        self.edges[b + 1] - self.edges[b]
    }
}

/// Statistics of one cell (one profile x one bin).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell {
    /// Valid (non-missing) points.
    pub n: u32,
    /// Mean height of the valid points (NaN when none).
    pub mean: f32,
    /// Variance of the valid points' heights (NaN when none).
    pub var: f32,
    /// Mean intensity of the valid points (NaN when none or no intensity).
    pub imean: f32,
}

/// Per-cell statistics of the whole surface, row-major (`rows` x [`BINS`]).
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    pub rows: usize,
    pub cells: Vec<Cell>,
}

impl Grid {
    /// Cell at (`r`, `b`).
    #[inline]
    pub fn at(&self, r: usize, b: usize) -> &Cell {
        &self.cells[r * BINS + b]
    }
}

/// Point counts from the thin-line tests in the tread core.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LineCounts {
    /// Points tested (tread-core columns x profiles).
    pub points: u64,
    /// Missing points among them.
    pub missing: u64,
    /// Thin dark intensity lines.
    pub crack: u64,
    /// Narrow height grooves and isolated missing points.
    pub groove: u64,
}

/// Reduces one converted profile (heights, optional intensities) into `out`, one cell per bin.
pub(crate) fn reduce_row(bins: &Bins, heights: &[f32], intensity: Option<&[u8]>, out: &mut [Cell]) {
    for (b, cell) in out.iter_mut().enumerate().take(BINS) {
        let cols = bins.cols(b);
        let h = &heights[cols.clone()];
        *cell = match intensity {
            Some(i) => cell_stats(h, &i[cols]),
            None => {
                let mut c = cell_stats(h, &[]);
                c.imean = f32::NAN;
                c
            }
        };
    }
}

/// Count, mean, variance and mean intensity of the valid points of one cell (`i` empty = no intensity).
#[inline]
fn cell_stats(h: &[f32], i: &[u8]) -> Cell {
    const L: usize = 8;
    let (mut n, mut s, mut si) = ([0u32; L], [0f32; L], [0f32; L]);
    let with_i = i.len() == h.len();
    let hc = h.chunks_exact(L);
    let tail = hc.remainder();
    if with_i {
        for (hh, ii) in hc.zip(i.chunks_exact(L)) {
            for k in 0..L {
                let ok = !hh[k].is_nan();
                n[k] += u32::from(ok);
                s[k] += if ok { hh[k] } else { 0.0 };
                si[k] += if ok { f32::from(ii[k]) } else { 0.0 };
            }
        }
    } else {
        for hh in hc {
            for k in 0..L {
                let ok = !hh[k].is_nan();
                n[k] += u32::from(ok);
                s[k] += if ok { hh[k] } else { 0.0 };
            }
        }
    }
    let base = h.len() - tail.len();
    for (k, &v) in tail.iter().enumerate() {
        if !v.is_nan() {
            n[0] += 1;
            s[0] += v;
            if with_i {
                si[0] += f32::from(i[base + k]);
            }
        }
    }
    let count: u32 = n.iter().sum();
    if count == 0 {
        return Cell {
            n: 0,
            mean: f32::NAN,
            var: f32::NAN,
            imean: f32::NAN,
        };
    }
    let inv = 1.0 / count as f32;
    let mean = s.iter().sum::<f32>() * inv;
    let mut ss = [0f32; L];
    for hh in h.chunks_exact(L) {
        for k in 0..L {
            let d = if !hh[k].is_nan() { hh[k] - mean } else { 0.0 };
            ss[k] += d * d;
        }
    }
    for &v in tail {
        if !v.is_nan() {
            ss[0] += (v - mean) * (v - mean);
        }
    }
    Cell {
        n: count,
        mean,
        var: ss.iter().sum::<f32>() * inv,
        imean: if with_i {
            si.iter().sum::<f32>() * inv
        } else {
            f32::NAN
        },
    }
}

/// The full pass: every profile reduced to cells, and thin-line counts over `core` columns.
///
/// `groove_threshold` is the depth, in height units, a point must lie below both neighbours
/// [`LINE_K`] points away to count as a groove.
pub(crate) fn scan(
    surface: &Surface<'_>,
    bins: &Bins,
    core: Range<usize>,
    groove_threshold: f32,
) -> (Grid, LineCounts) {
    let (rows, width) = (surface.rows(), surface.width());
    let core = core.start.max(LINE_K)..core.end.min(width.saturating_sub(LINE_K));
    let mut cells = vec![
        Cell {
            n: 0,
            mean: f32::NAN,
            var: f32::NAN,
            imean: f32::NAN
        };
        rows * BINS
    ];
    let mut heights = vec![f32::NAN; width];
    let mut counts = LineCounts::default();
    for (r, out) in cells.chunks_exact_mut(BINS).enumerate() {
        surface.fill_heights(r, &mut heights);
        let irow = surface.intensity_row(r);
        reduce_row(bins, &heights, irow, out);
        if core.is_empty() {
            continue;
        }
        let (missing, groove) = height_lines(&heights, core.clone(), groove_threshold);
        counts.points += core.len() as u64;
        counts.missing += missing;
        counts.groove += groove;
        if let Some(i) = irow {
            let above = r.checked_sub(LINE_K).and_then(|a| surface.intensity_row(a));
            let below = surface.intensity_row(r + LINE_K);
            counts.crack += intensity_lines(i, above, below, core.clone());
        }
    }
    (Grid { rows, cells }, counts)
}

/// Missing points, and grooves (points `threshold` below both neighbours `LINE_K` away, or missing
/// points whose neighbours are both valid), over `core` (which leaves `LINE_K` columns each side).
#[inline]
fn height_lines(h: &[f32], core: Range<usize>, threshold: f32) -> (u64, u64) {
    let (c0, c1) = (core.start, core.end);
    let mid = &h[c0..c1];
    let left = &h[c0 - LINE_K..c1 - LINE_K];
    let right = &h[c0 + LINE_K..c1 + LINE_K];
    let (mut missing, mut groove) = (0u32, 0u32);
    for ((&v, &l), &r) in mid.iter().zip(left).zip(right) {
        let valid = !v.is_nan();
        let neighbours = !l.is_nan() & !r.is_nan();
        missing += u32::from(!valid);
        let dip = (v < l - threshold) & (v < r - threshold);
        groove += u32::from(dip | (!valid & neighbours));
    }
    (u64::from(missing), u64::from(groove))
}

/// Thin dark lines: points at most 3/4 as bright as both neighbours `LINE_K` away, across the profile
/// or along the circumference (`above`/`below` rows), with neighbours bright enough to mean something.
#[inline]
fn intensity_lines(
    i: &[u8],
    above: Option<&[u8]>,
    below: Option<&[u8]>,
    core: Range<usize>,
) -> u64 {
    const FLOOR: u16 = 24;
    let (c0, c1) = (core.start, core.end);
    let mid = &i[c0..c1];
    let left = &i[c0 - LINE_K..c1 - LINE_K];
    let right = &i[c0 + LINE_K..c1 + LINE_K];
    let dark = |v: u8, a: u8, b: u8| {
        let m = u16::from(a.min(b));
        (u16::from(v) * 4 < m * 3) & (m >= FLOOR)
    };
    let mut count = 0u32;
    match (above, below) {
        (Some(up), Some(down)) => {
            let (up, down) = (&up[c0..c1], &down[c0..c1]);
            for k in 0..mid.len() {
                let v = mid[k];
                count += u32::from(dark(v, left[k], right[k]) | dark(v, up[k], down[k]));
            }
        }
        _ => {
            for k in 0..mid.len() {
                count += u32::from(dark(mid[k], left[k], right[k]));
            }
        }
    }
    u64::from(count)
}
