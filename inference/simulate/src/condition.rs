//! The wheel's condition: every failure mode as height and intensity changes whose size grows smoothly
//! from nothing at severity 0 to "replace now" at severity 1 (the table is on [`FailureMode`]).

use rand::Rng;

use crate::scene::{Scene, TREAD_WIDTH, WHEEL_RADIUS};
use crate::spec::FailureMode;

/// An elliptical pit (chunking) or bump (blowout) centred at (`row`, `col`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spot {
    /// Centre row (fractional).
    pub row: f32,
    /// Centre column (fractional).
    pub col: f32,
    /// Half-extent along the rows, in rows.
    pub rows: f32,
    /// Half-extent across, in columns.
    pub cols: f32,
    /// Depth (pit, positive) or height (bump, positive), in mm.
    pub size: f32,
    /// Intensity factor at the centre.
    pub shade: f32,
}

/// Crack points, sorted by (row, column), and how a crack changes them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cracks {
    pub points: Vec<(u32, u32)>,
    /// Groove depth (mm).
    pub depth: f32,
    /// Probability that a crack point is missing.
    pub missing: f32,
    /// Intensity factor on a crack point.
    pub shade: f32,
}

/// Everything a failure mode changes, resolved to columns, rows and local spots.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    /// Uniform tread wear (mm).
    pub wear: f32,
    /// Compression-set trough depth (mm) and band darkening (fraction).
    pub trough: (f32, f32),
    /// Conical wear: depth at the worn edge (mm), direction (+1 right edge worn), intensity gradient.
    pub conical: (f32, f32, f32),
    /// Extra tread height noise (mm) and dullness (fraction).
    pub abrasion: (f32, f32),
    /// Flat spot: centre angle, depth (mm), glaze (fraction).
    pub flat: Option<(f32, f32, f32)>,
    /// Debonding: centre angle, half-width (rad), tread lift (mm), seam bulge (mm), right side.
    pub debond: Option<(f32, f32, f32, f32, bool)>,
    /// Chunking pits.
    pub pits: Vec<Spot>,
    /// Blowout bumps.
    pub bumps: Vec<Spot>,
    /// Cracks.
    pub cracks: Cracks,
}

impl Condition {
    /// The changes `failure` makes at its severity on this scene.
    pub fn draw(failure: Option<(FailureMode, f32)>, scene: &Scene, rng: &mut impl Rng) -> Condition {
        let mut c = Condition::default();
        let Some((mode, s)) = failure else {
            return c;
        };
        let tau = std::f32::consts::TAU;
        match mode {
            FailureMode::EvenWear => c.wear = 4.5 * s,
            FailureMode::CompressionSet => c.trough = (3.0 * s, 0.3 * s),
            FailureMode::ConicalWear => {
                let dir = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                c.conical = (3.0 * s, dir, 0.3 * s);
            }
            FailureMode::Abrasion => c.abrasion = (0.15 * s, 0.3 * s),
            FailureMode::FlatSpot => c.flat = Some((rng.random_range(0.0..tau), 2.5 * s, 0.35 * s)),
            FailureMode::Debonding => {
                let half = std::f32::consts::PI * (0.12 + 0.18 * s);
                c.debond = Some((rng.random_range(0.0..tau), half, 0.5 * s, 2.0 * s, rng.random_bool(0.5)));
            }
            FailureMode::Chunking => {
                let u = rng_u(rng, 0.6);
                c.pits.push(spot(scene, rng, 10.0 * s, 6.0 * s, 0.5, u));
                for _ in 0..2 {
                    let k = rng.random_range(0.25..0.5);
                    let u = rng_u(rng, 0.65);
                    c.pits.push(spot(scene, rng, 10.0 * s * k, 6.0 * s * k, 0.5, u));
                }
            }
            FailureMode::Blowout => {
                let u = if rng.random_bool(0.6) {
                    let edge = 1.0 - 2.0 / (0.5 * TREAD_WIDTH);
                    if rng.random_bool(0.5) {
                        edge
                    } else {
                        -edge
                    }
                } else {
                    rng_u(rng, 0.6)
                };
                c.bumps.push(spot(scene, rng, 4.0 + 6.0 * s, 4.0 * s, 1.0 - 0.45 * s, u));
            }
            FailureMode::Cracks => c.cracks = cracks(scene, rng, s),
        }
        c
    }

    /// Height change of the tread at position `u` from wear, trough and conical wear (mm, negative =
    /// lower), and the intensity factor that goes with it.
    pub fn column_effect(&self, u: f32) -> (f32, f32) {
        let band = trough_shape(u);
        let (cd, dir, grad) = self.conical;
        let dh = -self.wear - self.trough.0 * band - cd * 0.5 * (1.0 + dir * u);
        let di = (1.0 - self.trough.1 * band) * (1.0 + grad * 0.5 * dir * u) * (1.0 - self.abrasion.1);
        (dh, di)
    }

    /// Tread-wide height change at rotation angle `angle` (flat spot, debonding lift), the seam bulge
    /// amplitude there, and the intensity factor (glaze).
    pub fn row_effect(&self, angle: f32) -> (f32, f32, f32) {
        let (mut dh, mut bulge, mut di) = (0.0, 0.0, 1.0);
        if let Some((at, depth, glaze)) = self.flat {
            let phi = wrap(angle - at);
            let r = WHEEL_RADIUS;
            // A chord cut `depth` deep: the surface lies on the chord where that is inside the circle.
            let half = ((r - depth) / r).clamp(-1.0, 1.0).acos();
            if phi.abs() < half {
                let cut = r - (r - depth) / phi.cos();
                dh -= cut.max(0.0);
                di += glaze;
            }
        }
        if let Some((at, half, lift, amp, _)) = self.debond {
            let phi = wrap(angle - at);
            if phi.abs() < half {
                let w = (0.5 * std::f32::consts::PI * phi / half).cos().powi(2);
                dh += lift * w;
                bulge = amp * w;
            }
        }
        (dh, bulge, di)
    }

    /// Debonding bulge shape at tread position `u` (1 at the debonded seam, decaying over 5 mm).
    pub fn bulge_shape(&self, u: f32) -> f32 {
        match self.debond {
            Some((.., right)) => {
                let from_edge = (1.0 - if right { u } else { -u }) * 0.5 * TREAD_WIDTH;
                (-from_edge.max(0.0) / 5.0).exp()
            }
            None => 0.0,
        }
    }
}

/// Compression-set band: cos² over the central 55 % of the tread.
fn trough_shape(u: f32) -> f32 {
    const BAND: f32 = 0.55;
    if u.abs() < BAND {
        (0.5 * std::f32::consts::PI * u / BAND).cos().powi(2)
    } else {
        0.0
    }
}

/// Angle wrapped into (-pi, pi].
fn wrap(a: f32) -> f32 {
    let tau = std::f32::consts::TAU;
    let a = a.rem_euclid(tau);
    if a > std::f32::consts::PI {
        a - tau
    } else {
        a
    }
}

fn rng_u(rng: &mut impl Rng, limit: f32) -> f32 {
    rng.random_range(-limit..limit)
}

/// A spot of radius `radius_mm` (across; 0.7-1.4 x along), `size` mm, at tread position `u`.
fn spot(scene: &Scene, rng: &mut impl Rng, radius_mm: f32, size: f32, shade: f32, u: f32) -> Spot {
    let along = radius_mm * rng.random_range(0.7..1.4);
    Spot {
        row: rng.random_range(0.0..scene.rows as f32),
        col: scene.col_of_u(u),
        rows: along / scene.row_pitch,
        cols: radius_mm / scene.pitch,
        size,
        shade,
    }
}

/// Seven straight cracks on the tread, rasterised as (row, column) points.
fn cracks(scene: &Scene, rng: &mut impl Rng, s: f32) -> Cracks {
    let width = 0.12 + 0.25 * s;
    let mut points = Vec::new();
    for _ in 0..7 {
        let len = s * rng.random_range(10.0..30.0);
        let theta = rng.random_range(0.0..std::f32::consts::PI);
        let u = rng_u(rng, 0.7);
        let (cx, cy) =
            (scene.centre + u * 0.5 * TREAD_WIDTH, rng.random_range(0.0..scene.rows as f32) * scene.row_pitch);
        let (dx, dy) = (theta.cos(), theta.sin());
        let step = 0.5 * scene.pitch.min(scene.row_pitch);
        let n = (len / step).floor() as i64;
        if n == 0 {
            continue;
        }
        let half_cols = ((0.5 * width / scene.pitch).round() as i64).max(0);
        for k in -n / 2..=n / 2 {
            let t = k as f32 * step;
            let (x, y) = (cx + t * dx, cy + t * dy);
            let row = (y / scene.row_pitch).round().rem_euclid(scene.rows as f32) as u32;
            let col = ((x - scene.lower_x) / scene.pitch).round() as i64;
            for c in col - half_cols..=col + half_cols {
                if (0..scene.width as i64).contains(&c) {
                    points.push((row, c as u32));
                }
            }
        }
    }
    points.sort_unstable();
    points.dedup();
    Cracks { points, depth: 1.5 * s, missing: 0.15 + 0.5 * s, shade: 1.0 - 0.7 * (5.0 * s).min(1.0) }
}
