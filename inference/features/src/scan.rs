//! The one full pass over a surface: per-cell height/intensity statistics and thin-line counts.
//!
//! Each profile is converted once into a reused buffer and reduced to [`BINS`] column bins (valid count,
//! mean, variance, mean intensity). Inside the tread core the same pass counts thin dark intensity lines
//! (across and along the profile) and narrow height grooves. Loops run over row slices with several
//! independent accumulators so that they vectorise.

use std::ops::Range;

pub(crate) use crate::kernels::Cell;
use crate::kernels::{float_lines, word_lines, FloatRow, WordRow};
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
        Bins { edges: (0..=BINS).map(|b| b * width / BINS).collect() }
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

/// Reduces one f32 profile (loaded into `row`) into `out`, one cell per bin.
pub(crate) fn reduce_float_row(bins: &Bins, row: &FloatRow, out: &mut [Cell]) {
    for (b, cell) in out.iter_mut().enumerate().take(BINS) {
        *cell = row.cell(bins.cols(b));
    }
}

/// The full pass: every profile reduced to cells, and thin-line counts over `core` columns.
///
/// `groove_threshold` is the depth, in height units, a point must lie below both neighbours
/// [`LINE_K`] points away to count as a groove. WORD captures are reduced from the raw values with
/// integer sums; other surfaces from f32 heights.
pub(crate) fn scan(
    surface: &Surface<'_>,
    bins: &Bins,
    core: Range<usize>,
    groove_threshold: f32,
) -> (Grid, LineCounts) {
    let (rows, width) = (surface.rows(), surface.width());
    let core = core.start.max(LINE_K)..core.end.min(width.saturating_sub(LINE_K));
    let mut cells = vec![Cell::EMPTY; rows * BINS];
    let mut counts = LineCounts::default();
    let word = surface.word_conversion();
    let mut raw = vec![0u16; if word.is_some() { width } else { 0 }];
    let mut heights = vec![f32::NAN; if word.is_some() { 0 } else { width }];
    let mut float_row = FloatRow::default();
    let mut word_row = WordRow::default();
    for (r, out) in cells.chunks_exact_mut(BINS).enumerate() {
        let irow = surface.intensity_row(r);
        let (missing, groove) = match word {
            Some(conv) => {
                surface.fill_words(r, &mut raw);
                word_row.load(&raw, irow, conv);
                for (b, cell) in out.iter_mut().enumerate() {
                    *cell = word_row.cell(bins.cols(b));
                }
                if core.is_empty() {
                    continue;
                }
                let t = (groove_threshold / conv.scale.abs()).ceil().min(1e9) as i32;
                word_lines(&raw, core.clone(), conv.missing, t, conv.scale > 0.0)
            }
            None => {
                surface.fill_heights(r, &mut heights);
                float_row.load(&heights, irow);
                reduce_float_row(bins, &float_row, out);
                if core.is_empty() {
                    continue;
                }
                float_lines(&heights, core.clone(), groove_threshold)
            }
        };
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

/// Thin dark lines: points at most 3/4 as bright as both neighbours `LINE_K` away, across the profile
/// or along the circumference (`above`/`below` rows), with neighbours bright enough to mean something.
#[inline]
fn intensity_lines(i: &[u8], above: Option<&[u8]>, below: Option<&[u8]>, core: Range<usize>) -> u64 {
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
