//! Small robust statistics on f32 slices (NaN = missing): medians, percentiles, running medians, fits.

/// Median of the finite values in `xs`, using `scratch` (cleared); NaN when there are none.
pub(crate) fn median(xs: impl IntoIterator<Item = f32>, scratch: &mut Vec<f32>) -> f32 {
    percentile(xs, 0.5, scratch)
}

/// The `q` quantile (0..=1, nearest rank) of the finite values in `xs`; NaN when there are none.
pub(crate) fn percentile(xs: impl IntoIterator<Item = f32>, q: f32, scratch: &mut Vec<f32>) -> f32 {
    scratch.clear();
    scratch.extend(xs.into_iter().filter(|v| v.is_finite()));
    if scratch.is_empty() {
        return f32::NAN;
    }
    let k = ((scratch.len() - 1) as f32 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, v, _) = scratch.select_nth_unstable_by(k, f32::total_cmp);
    *v
}

/// Median of `xs` (all finite), reordering it; NaN when empty.
pub(crate) fn median_in_place(xs: &mut [f32]) -> f32 {
    if xs.is_empty() {
        return f32::NAN;
    }
    let k = (xs.len() - 1) / 2;
    *xs.select_nth_unstable_by(k, f32::total_cmp).1
}

/// Mean of the finite values; NaN when there are none.
pub(crate) fn mean(xs: impl IntoIterator<Item = f32>) -> f32 {
    let (mut s, mut n) = (0.0f64, 0usize);
    for v in xs.into_iter().filter(|v| v.is_finite()) {
        s += f64::from(v);
        n += 1;
    }
    if n == 0 {
        f32::NAN
    } else {
        (s / n as f64) as f32
    }
}

/// Running median with an odd `window`, evaluated every `window / 8` samples and linearly interpolated
/// in between (exact enough for a slowly varying baseline, and O(n log w) overall). Windows shrink at
/// the ends; NaN samples are skipped; the result is NaN only where a whole window is NaN.
pub(crate) fn running_median(xs: &[f32], window: usize) -> Vec<f32> {
    let n = xs.len();
    if n == 0 {
        return Vec::new();
    }
    let half = window.max(1) / 2;
    let step = (window / 8).max(1);
    let mut scratch = Vec::with_capacity(window + 1);
    let mut knots: Vec<(usize, f32)> = Vec::with_capacity(n / step + 2);
    let mut c = 0usize;
    loop {
        let lo = c.saturating_sub(half);
        let hi = (c + half + 1).min(n);
        knots.push((c, median(xs[lo..hi].iter().copied(), &mut scratch)));
        if c == n - 1 {
            break;
        }
        c = (c + step).min(n - 1);
    }
    let mut out = vec![f32::NAN; n];
    for pair in knots.windows(2) {
        let ((a, va), (b, vb)) = (pair[0], pair[1]);
        for (i, o) in out.iter_mut().enumerate().take(b + 1).skip(a) {
            let t = (i - a) as f32 / (b - a).max(1) as f32;
            *o = va + (vb - va) * t;
        }
    }
    if knots.len() == 1 {
        out[0] = knots[0].1;
    }
    out
}

/// Centred moving average over `window` samples (odd), skipping NaN; NaN where a window has none.
pub(crate) fn moving_average(xs: &[f32], window: usize) -> Vec<f32> {
    let n = xs.len();
    let half = window.max(1) / 2;
    // Prefix sums of values and counts make every window O(1).
    let mut sum = Vec::with_capacity(n + 1);
    let mut cnt = Vec::with_capacity(n + 1);
    sum.push(0.0f64);
    cnt.push(0u32);
    for &v in xs {
        let ok = v.is_finite();
        sum.push(sum[sum.len() - 1] + if ok { f64::from(v) } else { 0.0 });
        cnt.push(cnt[cnt.len() - 1] + u32::from(ok));
    }
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(n);
            let k = cnt[hi] - cnt[lo];
            if k == 0 {
                f32::NAN
            } else {
                ((sum[hi] - sum[lo]) / f64::from(k)) as f32
            }
        })
        .collect()
}

/// Least-squares fit of `y = c0 + c1 x + c2 x^2` over finite points; `None` when under-determined.
pub(crate) fn fit_quadratic(points: impl IntoIterator<Item = (f32, f32)>) -> Option<[f32; 3]> {
    // Normal equations in f64: sums of x^0..x^4 and x^k y.
    let mut s = [0.0f64; 5];
    let mut t = [0.0f64; 3];
    for (x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let (x, y) = (f64::from(x), f64::from(y));
        let mut p = 1.0;
        for (k, sk) in s.iter_mut().enumerate() {
            *sk += p;
            if k < 3 {
                t[k] += p * y;
            }
            p *= x;
        }
    }
    if s[0] < 3.0 {
        return None;
    }
    let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    solve3(m, t).map(|c| c.map(|v| v as f32))
}

/// Least-squares line `y = c0 + c1 x` over finite points; `None` when under-determined.
pub(crate) fn fit_line(points: impl IntoIterator<Item = (f32, f32)>) -> Option<[f32; 2]> {
    let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    for (x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let (x, y) = (f64::from(x), f64::from(y));
        n += 1.0;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let det = n * sxx - sx * sx;
    if n < 2.0 || det.abs() < 1e-12 {
        return None;
    }
    let c1 = (n * sxy - sx * sy) / det;
    Some([((sy - c1 * sx) / n) as f32, c1 as f32])
}

/// Solves a 3x3 system by Cramer's rule; `None` when singular.
fn solve3(m: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |a: [[f64; 3]; 3]| {
        a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
    };
    let d = det(m);
    if d.abs() < 1e-12 {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut a = m;
        for (row, bv) in a.iter_mut().zip(b) {
            row[k] = bv;
        }
        *o = det(a) / d;
    }
    Some(out)
}

/// Amplitude of the first harmonic (one period over the whole series) of the finite samples, after
/// removing their mean; 0 when fewer than 4 samples are finite.
pub(crate) fn first_harmonic(xs: &[f32]) -> f32 {
    let m = mean(xs.iter().copied());
    let n = xs.len();
    let (mut re, mut im, mut k) = (0.0f64, 0.0f64, 0usize);
    for (i, &v) in xs.iter().enumerate() {
        if !v.is_finite() {
            continue;
        }
        let phase = std::f64::consts::TAU * i as f64 / n as f64;
        re += f64::from(v - m) * phase.cos();
        im += f64::from(v - m) * phase.sin();
        k += 1;
    }
    if k < 4 {
        return 0.0;
    }
    (2.0 * (re * re + im * im).sqrt() / k as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentiles_skip_nan() {
        let mut s = Vec::new();
        let xs = [3.0, f32::NAN, 1.0, 2.0, 5.0, 4.0];
        assert_eq!(median(xs, &mut s), 3.0);
        assert_eq!(percentile(xs, 0.0, &mut s), 1.0);
        assert_eq!(percentile(xs, 1.0, &mut s), 5.0);
        assert!(median([f32::NAN], &mut s).is_nan());
    }

    #[test]
    fn running_median_ignores_a_short_dip() {
        let mut xs = vec![1.0f32; 200];
        for x in &mut xs[100..105] {
            *x = -10.0;
        }
        let m = running_median(&xs, 41);
        assert!(m.iter().all(|&v| (v - 1.0).abs() < 1e-6));
    }

    #[test]
    fn fits_recover_coefficients() {
        let q = fit_quadratic((0..20).map(|i| {
            let x = i as f32 / 10.0 - 1.0;
            (x, 2.0 - 0.5 * x + 3.0 * x * x)
        }))
        .unwrap();
        assert!((q[0] - 2.0).abs() < 1e-4 && (q[1] + 0.5).abs() < 1e-4 && (q[2] - 3.0).abs() < 1e-4);
        let l = fit_line((0..10).map(|i| (i as f32, 1.0 + 2.0 * i as f32))).unwrap();
        assert!((l[0] - 1.0).abs() < 1e-4 && (l[1] - 2.0).abs() < 1e-4);
        assert!(fit_line([(1.0, 1.0)]).is_none());
    }

    #[test]
    fn first_harmonic_amplitude() {
        let xs: Vec<f32> =
            (0..360).map(|i| 5.0 + 2.0 * (std::f32::consts::TAU * i as f32 / 360.0 + 0.3).sin()).collect();
        assert!((first_harmonic(&xs) - 2.0).abs() < 1e-3);
    }

    #[test]
    fn moving_average_smooths() {
        let xs = [0.0, 3.0, 0.0, f32::NAN, 6.0];
        let m = moving_average(&xs, 3);
        assert_eq!(m[1], 1.0);
        assert_eq!(m[3], 3.0);
    }
}
