//! Per-row kernels that vectorise: cell statistics and narrow-groove tests, on raw WORD values
//! (exact integer sums, no conversion) and on f32 heights (NaN = missing).

use std::ops::Range;

use crate::scan::LINE_K;

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

impl Cell {
    /// A cell without valid points.
    pub const EMPTY: Cell = Cell { n: 0, mean: f32::NAN, var: f32::NAN, imean: f32::NAN };
}

/// The linear conversion of raw WORD values: `height = raw x scale + offset` unless `raw == missing`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WordConv {
    pub scale: f32,
    pub offset: f32,
    /// The missing raw value, or a value above `u16::MAX` when no raw value means missing.
    pub missing: u32,
}

/// A profile of raw WORD values split, in one elementwise pass, into masked values, masked intensities
/// and a 0/1 validity count, so that every per-cell sum is a plain vectorised reduction.
#[derive(Debug, Default)]
pub(crate) struct WordRow {
    raw: Vec<u16>,
    intensity: Vec<u16>,
    valid: Vec<u16>,
    has_intensity: bool,
    conv: Option<WordConv>,
}

impl WordRow {
    /// Loads raw values (and optional intensities) with the conversion `conv`.
    pub fn load(&mut self, raw: &[u16], i: Option<&[u8]>, conv: WordConv) {
        let miss = u16::try_from(conv.missing).ok();
        self.conv = Some(conv);
        self.raw.clear();
        self.valid.clear();
        self.intensity.clear();
        // mask = 0xffff where valid, 0 where missing.
        let mask = |v: u16| match miss {
            Some(m) => 0u16.wrapping_sub(u16::from(v != m)),
            None => u16::MAX,
        };
        self.raw.extend(raw.iter().map(|&v| v & mask(v)));
        self.valid.extend(raw.iter().map(|&v| mask(v) & 1));
        self.has_intensity = i.is_some();
        if let Some(i) = i {
            self.intensity.extend(raw.iter().zip(i).map(|(&v, &x)| u16::from(x) & mask(v)));
        }
    }

    /// Cell statistics of columns `cols`.
    ///
    /// Integer count and sums, then squared deviations from the integer mean in eight f32 lanes; both
    /// vectorise, and neither loses precision.
    pub fn cell(&self, cols: Range<usize>) -> Cell {
        let Some(conv) = self.conv else {
            return Cell::EMPTY;
        };
        let valid = &self.valid[cols.clone()];
        let raw = &self.raw[cols.clone()];
        let n: u32 = valid.iter().map(|&v| u32::from(v)).sum();
        if n == 0 {
            return Cell::EMPTY;
        }
        let s1: u32 = raw.iter().map(|&v| u32::from(v)).sum();
        let m = (s1 / n) as i32;
        let mut a = [0f32; 8];
        let (rc, vc) = (raw.chunks_exact(8), valid.chunks_exact(8));
        for (&r, &v) in rc.remainder().iter().zip(vc.remainder()) {
            let d = (i32::from(r) - m) as f32 * f32::from(v);
            a[0] += d * d;
        }
        for (r, v) in rc.zip(vc) {
            for k in 0..8 {
                let d = (i32::from(r[k]) - m) as f32 * f32::from(v[k]);
                a[k] += d * d;
            }
        }
        let nf = f64::from(n);
        // Deviations were taken from the integer mean m; shift to the exact mean.
        let mean_raw = f64::from(s1) / nf;
        let shift = mean_raw - f64::from(m);
        let var_raw = (f64::from(a.iter().sum::<f32>()) / nf - shift * shift).max(0.0);
        let scale = f64::from(conv.scale);
        let imean = if self.has_intensity {
            let si: u32 = self.intensity[cols].iter().map(|&v| u32::from(v)).sum();
            (f64::from(si) / nf) as f32
        } else {
            f32::NAN
        };
        Cell {
            n,
            mean: (mean_raw * scale + f64::from(conv.offset)) as f32,
            var: (var_raw * scale * scale) as f32,
            imean,
        }
    }
}

/// Sum of a slice with eight independent lanes (so that it vectorises).
#[inline]
fn sum8(x: &[f32]) -> f32 {
    let mut a = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for k in 0..8 {
            a[k] += c[k];
        }
    }
    a.iter().sum::<f32>() + tail
}

/// A profile of f32 heights split into `clean` (missing = 0) and `valid` (1 or 0) for branch-free sums.
#[derive(Debug, Default)]
pub(crate) struct FloatRow {
    pub clean: Vec<f32>,
    pub valid: Vec<f32>,
    pub intensity: Vec<f32>,
}

impl FloatRow {
    /// Loads heights (NaN = missing) and optional intensities.
    pub fn load(&mut self, h: &[f32], i: Option<&[u8]>) {
        self.clean.clear();
        self.valid.clear();
        self.clean.extend(h.iter().map(|&v| if v.is_nan() { 0.0 } else { v }));
        self.valid.extend(h.iter().map(|&v| if v.is_nan() { 0.0 } else { 1.0 }));
        self.intensity.clear();
        if let Some(i) = i {
            self.intensity.extend(i.iter().map(|&v| f32::from(v)));
        }
    }

    /// Cell statistics of columns `cols`.
    pub fn cell(&self, cols: Range<usize>) -> Cell {
        let valid = &self.valid[cols.clone()];
        let clean = &self.clean[cols.clone()];
        let n = sum8(valid);
        if n < 0.5 {
            return Cell::EMPTY;
        }
        let mean = sum8(clean) / n;
        let mut a = [0f32; 8];
        let (cc, vc) = (clean.chunks_exact(8), valid.chunks_exact(8));
        for (&c, &v) in cc.remainder().iter().zip(vc.remainder()) {
            let d = (c - mean) * v;
            a[0] += d * d;
        }
        for (c, v) in cc.zip(vc) {
            for k in 0..8 {
                let d = (c[k] - mean) * v[k];
                a[k] += d * d;
            }
        }
        let imean = match self.intensity.get(cols) {
            Some(i) if !i.is_empty() => {
                let mut b = [0f32; 8];
                let (ic, vc) = (i.chunks_exact(8), valid.chunks_exact(8));
                for (&x, &v) in ic.remainder().iter().zip(vc.remainder()) {
                    b[0] += x * v;
                }
                for (ii, v) in ic.zip(vc) {
                    for k in 0..8 {
                        b[k] += ii[k] * v[k];
                    }
                }
                b.iter().sum::<f32>() / n
            }
            _ => f32::NAN,
        };
        Cell { n: n as u32, mean, var: a.iter().sum::<f32>() / n, imean }
    }
}

/// Missing points and grooves over `core` of a f32 profile: points `threshold` below both neighbours
/// [`LINE_K`] away, or missing points whose neighbours are both valid.
#[inline]
pub(crate) fn float_lines(h: &[f32], core: Range<usize>, threshold: f32) -> (u64, u64) {
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

/// [`float_lines`] on raw WORD values; `threshold` is in raw units and `rising` tells whether larger
/// raw values mean higher surfaces (positive scale).
#[inline]
pub(crate) fn word_lines(raw: &[u16], core: Range<usize>, miss: u32, threshold: i32, rising: bool) -> (u64, u64) {
    let (c0, c1) = (core.start, core.end);
    let mid = &raw[c0..c1];
    let left = &raw[c0 - LINE_K..c1 - LINE_K];
    let right = &raw[c0 + LINE_K..c1 + LINE_K];
    let sign = if rising { 1 } else { -1 };
    let (mut missing, mut groove) = (0u32, 0u32);
    for ((&v, &l), &r) in mid.iter().zip(left).zip(right) {
        let valid = u32::from(v) != miss;
        let neighbours = (u32::from(l) != miss) & (u32::from(r) != miss);
        missing += u32::from(!valid);
        let (v, l, r) = (i32::from(v), i32::from(l), i32::from(r));
        let dip = ((l - v) * sign > threshold) & ((r - v) * sign > threshold);
        groove += u32::from((dip & valid & neighbours) | (!valid & neighbours));
    }
    (u64::from(missing), u64::from(groove))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_and_float_cells_agree() {
        let raw: Vec<u16> = (0..40).map(|k| if k % 7 == 0 { 0 } else { 1000 + (k * 37 % 11) as u16 }).collect();
        let int: Vec<u8> = (0..40).map(|k| (k * 5) as u8).collect();
        let conv = WordConv { scale: 0.01, offset: 3.0, missing: 0 };
        let mut wr = WordRow::default();
        wr.load(&raw, Some(&int), conv);
        let w = wr.cell(0..40);
        let h: Vec<f32> = raw.iter().map(|&v| if v == 0 { f32::NAN } else { f32::from(v) * 0.01 + 3.0 }).collect();
        let mut row = FloatRow::default();
        row.load(&h, Some(&int));
        let f = row.cell(0..40);
        assert_eq!(w.n, f.n);
        assert!((w.mean - f.mean).abs() < 1e-4, "{} {}", w.mean, f.mean);
        assert!((w.var - f.var).abs() < 1e-5, "{} {}", w.var, f.var);
        assert!((w.imean - f.imean).abs() < 1e-3);
        wr.load(&[0, 0], None, conv);
        assert_eq!(wr.cell(0..2).n, 0);
    }

    #[test]
    fn word_and_float_lines_agree() {
        let mut raw = vec![5000u16; 64];
        raw[20] = 4000; // groove
        raw[30] = 0; // isolated gap
        let h: Vec<f32> = raw.iter().map(|&v| if v == 0 { f32::NAN } else { f32::from(v) * 0.001 }).collect();
        let core = LINE_K..64 - LINE_K;
        assert_eq!(float_lines(&h, core.clone(), 0.5), (1, 2));
        assert_eq!(word_lines(&raw, core, 0, 500, true), (1, 2));
    }
}
