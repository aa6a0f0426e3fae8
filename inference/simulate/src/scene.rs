//! The simulated scene: wheel geometry, camera geometry and the per-capture camera effects.
//!
//! Units are millimetres. x runs across the tread (0 at the centre of the field of view), heights are
//! radii measured from an arbitrary reference, rows follow the rotation and cover exactly one turn.
//! Across the view: background (no laser peak, range 0) | hub rim | tread (crowned, rounded corners) |
//! hub rim (partly in the laser's shadow) | background.

use rand::Rng;

use crate::spec::{CameraModel, WheelSpec};

/// Wheel radius at the tread surface (mm); one capture covers one turn of this circumference.
pub(crate) const WHEEL_RADIUS: f32 = 125.0;
/// Tread width (mm).
pub(crate) const TREAD_WIDTH: f32 = 76.0;
/// Radius of the tread's rounded corners (mm).
pub(crate) const CORNER: f32 = 3.0;
/// Width of the hub rim visible beside the tread on each side (mm).
pub(crate) const HUB_RIM: f32 = 10.0;
/// Nominal height of the hub rim (mm).
pub(crate) const HUB_HEIGHT: f32 = 22.0;
/// Nominal new tread thickness above the hub rim (mm).
pub(crate) const TREAD_THICKNESS: f32 = 12.0;
/// Lower and upper bounds of the calibrated range window (mm).
pub(crate) const RANGE_MM: (f32, f32) = (5.0, 55.0);
/// Nominal intensity of polyurethane and of the aluminium hub (0..255 before reflectance effects).
pub(crate) const PU_INTENSITY: f32 = 150.0;
/// See [`PU_INTENSITY`].
pub(crate) const HUB_INTENSITY: f32 = 205.0;
/// Standard deviation of the sensor's height noise (mm).
pub(crate) const SENSOR_NOISE: f32 = 0.02;
/// Slope (height over x) beyond which the camera finds no laser peak.
pub(crate) const STEEP: f32 = 2.5;
/// Probability of a random dropout at any point.
pub(crate) const DROPOUT: f64 = 3e-4;

/// What a column of the view sees, before defects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    /// No surface in the range window.
    Background,
    /// Hub rim; `true` when in the laser's shadow (missing).
    Hub(bool),
    /// Polyurethane tread.
    Tread,
}

/// Camera and wheel parameters of one capture, drawn from its seed.
#[derive(Debug, Clone)]
pub(crate) struct Scene {
    pub model: CameraModel,
    pub width: usize,
    pub rows: usize,
    /// Column pitch (mm per column).
    pub pitch: f32,
    /// x of column 0 (mm).
    pub lower_x: f32,
    /// Arc length per profile along the circumference (mm).
    pub row_pitch: f32,
    /// Wheel centre offset across the view (misalignment, mm).
    pub centre: f32,
    /// Height offset of the whole wheel (mm).
    pub lift: f32,
    /// Tilt of the wheel across the view (height per mm of x).
    pub tilt: f32,
    /// Eccentric mounting: amplitude (mm) and phase of the once-per-turn wobble of the whole wheel.
    pub wobble: (f32, f32),
    /// Manufacturing runout of the tread alone: amplitude (mm) and phase.
    pub runout: (f32, f32),
    /// Tread thickness above the hub rim (mm), before wear.
    pub thickness: f32,
    /// Crown: centre height above the tread edges (mm).
    pub crown: f32,
    /// Laser shadow on the right (true) or left hub rim.
    pub shadow_right: bool,
    /// Overall intensity gain.
    pub gain: f32,
    /// Slow reflectance variation along the rows: amplitude, cycles per capture, phase.
    pub refl_rows: (f32, f32, f32),
    /// Slow reflectance variation across the columns: amplitude, cycles per view, phase.
    pub refl_cols: (f32, f32, f32),
}

impl Scene {
    /// Draws the camera effects of one capture.
    pub fn draw(spec: &WheelSpec, rng: &mut impl Rng) -> Scene {
        let model = spec.model();
        let fov = model.field_of_view_mm();
        let pitch = fov / (spec.width - 1) as f32;
        let tau = std::f32::consts::TAU;
        Scene {
            model,
            width: spec.width,
            rows: spec.profiles,
            pitch,
            lower_x: -0.5 * fov,
            row_pitch: tau * WHEEL_RADIUS / spec.profiles as f32,
            centre: rng.random_range(-4.0..4.0),
            lift: rng.random_range(-2.0..2.0),
            tilt: rng.random_range(-0.012..0.012),
            wobble: (rng.random_range(0.0..0.1), rng.random_range(0.0..tau)),
            runout: (rng.random_range(0.0..0.02), rng.random_range(0.0..tau)),
            thickness: TREAD_THICKNESS + rng.random_range(-0.2..0.2),
            crown: rng.random_range(0.2..0.4),
            shadow_right: rng.random_bool(0.5),
            gain: rng.random_range(0.85..1.15),
            refl_rows: (rng.random_range(0.0..0.12), rng.random_range(0.3..1.2), rng.random_range(0.0..tau)),
            refl_cols: (rng.random_range(0.0..0.12), rng.random_range(0.3..1.2), rng.random_range(0.0..tau)),
        }
    }

    /// x (mm) of column `c`.
    #[inline]
    pub fn x(&self, c: usize) -> f32 {
        self.lower_x + c as f32 * self.pitch
    }

    /// Position across the tread of column `c`: -1 at the left edge, +1 at the right edge.
    #[inline]
    pub fn u(&self, c: usize) -> f32 {
        (self.x(c) - self.centre) / (0.5 * TREAD_WIDTH)
    }

    /// Column of tread position `u` (fractional, may lie outside the view).
    pub fn col_of_u(&self, u: f32) -> f32 {
        (self.centre + u * 0.5 * TREAD_WIDTH - self.lower_x) / self.pitch
    }

    /// Rotation angle (radians) of row `r`.
    #[inline]
    pub fn angle(&self, r: usize) -> f32 {
        std::f32::consts::TAU * r as f32 / self.rows as f32
    }

    /// What column `c` sees.
    pub fn region(&self, c: usize) -> Region {
        let d = self.x(c) - self.centre;
        let half = 0.5 * TREAD_WIDTH;
        if d.abs() <= half {
            Region::Tread
        } else if d.abs() <= half + HUB_RIM {
            // The step casts a shadow about a third of its height wide on one side.
            let shadow = 0.35 * self.thickness;
            let shadowed = (d > 0.0) == self.shadow_right && d.abs() - half < shadow;
            Region::Hub(shadowed)
        } else {
            Region::Background
        }
    }

    /// Healthy height of column `c` (mm) without row effects; NaN for background and shadow.
    pub fn base_height(&self, c: usize) -> f32 {
        let x = self.x(c);
        let tilt = self.lift + self.tilt * x;
        match self.region(c) {
            Region::Background | Region::Hub(true) => f32::NAN,
            Region::Hub(false) => HUB_HEIGHT + tilt,
            Region::Tread => {
                let u = self.u(c);
                let d = (x - self.centre).abs() - (0.5 * TREAD_WIDTH - CORNER);
                let corner = if d > 0.0 { CORNER - (CORNER * CORNER - d * d).max(0.0).sqrt() } else { 0.0 };
                HUB_HEIGHT + self.thickness + self.crown * (1.0 - u * u) - corner + tilt
            }
        }
    }

    /// Healthy intensity of column `c` before the reflectance field.
    pub fn base_intensity(&self, c: usize) -> f32 {
        match self.region(c) {
            Region::Background => 2.0,
            Region::Hub(true) => 4.0,
            Region::Hub(false) => HUB_INTENSITY,
            Region::Tread => PU_INTENSITY,
        }
    }

    /// Reflectance factor of column `c` (slow variation across the view, times the gain).
    pub fn reflectance_col(&self, c: usize) -> f32 {
        let (a, f, p) = self.refl_cols;
        let t = c as f32 / self.width as f32;
        self.gain * (1.0 + a * (std::f32::consts::TAU * f * t + p).sin())
    }

    /// Reflectance factor of row `r` (slow variation along the capture).
    pub fn reflectance_row(&self, r: usize) -> f32 {
        let (a, f, p) = self.refl_rows;
        let t = r as f32 / self.rows as f32;
        1.0 + a * (std::f32::consts::TAU * f * t + p).sin()
    }

    /// Once-per-turn wobble of the whole wheel at row `r` (mm).
    pub fn wobble_at(&self, r: usize) -> f32 {
        self.wobble.0 * (self.angle(r) + self.wobble.1).cos()
    }

    /// Runout of the tread alone at row `r` (mm).
    pub fn runout_at(&self, r: usize) -> f32 {
        self.runout.0 * (self.angle(r) + self.runout.1).cos()
    }
}

/// Shortest distance between rows `a` and `b` on a capture of `rows` rows covering one turn.
#[inline]
pub(crate) fn row_distance(a: f32, b: f32, rows: usize) -> f32 {
    let n = rows as f32;
    let d = (a - b).abs() % n;
    d.min(n - d)
}
