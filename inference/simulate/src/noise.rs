//! Fast, reproducible Gaussian noise: a table of normal quantiles indexed by random bits.
//!
//! One `u64` from the seeded generator yields four standard-normal samples (10 bits each select one of
//! 1024 equally likely quantiles), which is plenty for sensor noise and several times faster than
//! sampling a normal distribution per point.

use std::sync::OnceLock;

use rand::RngCore;

const BITS: u32 = 10;
const SIZE: usize = 1 << BITS;

fn table() -> &'static [f32; SIZE] {
    static TABLE: OnceLock<[f32; SIZE]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0f32; SIZE];
        for (i, v) in t.iter_mut().enumerate() {
            *v = inverse_normal_cdf((i as f64 + 0.5) / SIZE as f64) as f32;
        }
        t
    })
}

/// Draws standard-normal samples four at a time from one `u64`.
#[derive(Debug, Default)]
pub(crate) struct Gauss {
    bits: u64,
    left: u32,
}

impl Gauss {
    /// Next standard-normal sample.
    #[inline]
    pub fn next(&mut self, rng: &mut impl RngCore) -> f32 {
        if self.left == 0 {
            self.bits = rng.next_u64();
            self.left = 4;
        }
        let i = (self.bits & (SIZE as u64 - 1)) as usize;
        self.bits >>= 16;
        self.left -= 1;
        table()[i]
    }
}

/// Draws the gap to the next event of a Bernoulli(`p`) process (geometric), so that rare per-point
/// events cost one random number each rather than one per point.
pub(crate) fn geometric_gap(rng: &mut impl RngCore, p: f64) -> u64 {
    if p <= 0.0 {
        return u64::MAX;
    }
    if p >= 1.0 {
        return 0;
    }
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u = u.max(f64::MIN_POSITIVE);
    (u.ln() / (1.0 - p).ln()).floor().min(u64::MAX as f64 / 2.0) as u64
}

/// Acklam's rational approximation of the standard normal quantile (relative error below 1.2e-9).
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn quantiles_are_standard_normal() {
        assert!((inverse_normal_cdf(0.975) - 1.959_964).abs() < 1e-5);
        assert!((inverse_normal_cdf(0.01) + 2.326_348).abs() < 1e-5);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut g = Gauss::default();
        let xs: Vec<f32> = (0..100_000).map(|_| g.next(&mut rng)).collect();
        let m = xs.iter().sum::<f32>() / xs.len() as f32;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / xs.len() as f32;
        assert!(m.abs() < 0.02 && (v - 1.0).abs() < 0.03, "mean {m} var {v}");
    }

    #[test]
    fn geometric_gap_mean() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 20_000;
        let mean = (0..n).map(|_| geometric_gap(&mut rng, 0.01) as f64).sum::<f64>() / n as f64;
        assert!((mean - 99.0).abs() < 5.0, "{mean}");
        assert_eq!(geometric_gap(&mut rng, 0.0), u64::MAX);
    }
}
