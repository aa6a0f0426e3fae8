//! [`featurize`]: one surface in, the `wheel-v1` feature values out.

use std::ops::Index;

use crate::context::Context;
use crate::layout::find_tread;
use crate::local::local;
use crate::rotation::rotation;
use crate::scan::scan;
use crate::schema::{Feature, FEATURE_COUNT};
use crate::shape::shape;
use crate::{FeatureError, Surface};

/// Depth, in percent of the tread width, a point must lie below both neighbours to count as a groove.
const GROOVE_THRESHOLD: f32 = 0.15;

/// The `wheel-v1` values of one capture, in [`crate::FEATURE_NAMES`] order; never NaN or infinite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureValues(pub [f32; FEATURE_COUNT]);

impl FeatureValues {
    /// The value of one feature.
    pub fn get(&self, feature: Feature) -> f32 {
        self.0[feature.index()]
    }

    /// The values as a slice, in schema order.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// The values as a `Vec`, in schema order (what [`crate::FeatureRow::values`] holds).
    pub fn to_vec(&self) -> Vec<f32> {
        self.0.to_vec()
    }
}

impl Index<Feature> for FeatureValues {
    type Output = f32;
    fn index(&self, feature: Feature) -> &f32 {
        &self.0[feature.index()]
    }
}

/// Facts about the capture found while featurizing (for logs and checks, not model inputs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreadGeometry {
    /// Left tread edge, in columns.
    pub left_col: f32,
    /// Right tread edge, in columns.
    pub right_col: f32,
    /// Tread width in x units (mm, or sensor columns).
    pub width_x: f32,
    /// Column bins on the hub rim, left and right of the tread.
    pub hub_bins: (usize, usize),
}

/// Computes the `wheel-v1` features of a surface (one pass over the data plus a 1/64 sample).
pub fn featurize(surface: &Surface<'_>) -> Result<FeatureValues, FeatureError> {
    featurize_with_geometry(surface).map(|(v, _)| v)
}

/// [`featurize`], also returning where the tread was found.
pub fn featurize_with_geometry(surface: &Surface<'_>) -> Result<(FeatureValues, TreadGeometry), FeatureError> {
    if !surface.has_intensity() {
        return Err(FeatureError::NoIntensity);
    }
    let lay = find_tread(surface)?;
    let width_x = lay.width_cols() * surface.x_pitch();
    let aspect = surface.height_aspect();
    let norm = 100.0 * aspect / width_x;
    let groove = GROOVE_THRESHOLD / norm;
    let (grid, lines) = scan(surface, &lay.bins, lay.core_cols.clone(), groove);
    let ctx = Context::new(&grid, &lay, norm);
    let s = shape(&ctx);
    let r = rotation(&ctx);
    let l = local(&ctx);
    let share = |k: u64| {
        if lines.points == 0 {
            0.0
        } else {
            k as f32 / lines.points as f32
        }
    };
    let mut v = [0.0f32; FEATURE_COUNT];
    let mut set = |f: Feature, x: f32| v[f.index()] = if x.is_finite() { x } else { 0.0 };
    set(Feature::TreadHeight, s.tread_height);
    set(Feature::ProfileConcavity, s.concavity);
    set(Feature::TroughDepth, s.trough_depth);
    set(Feature::ProfileDeviation, s.deviation);
    set(Feature::Conicity, s.conicity);
    set(Feature::RunoutSpread, r.runout_spread);
    set(Feature::RunoutOncePerTurn, r.runout_once_per_turn);
    set(Feature::FlatSpotDepth, r.flat_depth);
    set(Feature::FlatSpotLength, r.flat_length);
    set(Feature::FlatSpotBrightening, r.flat_brightening);
    set(Feature::PitDepth, l.pit_depth);
    set(Feature::PitArea, l.pit_area);
    set(Feature::ProtrusionHeight, l.protrusion_height);
    set(Feature::ProtrusionArea, l.protrusion_area);
    set(Feature::SeamBulge, r.seam_bulge);
    set(Feature::Roughness, l.roughness);
    set(Feature::MissingFraction, share(lines.missing));
    set(Feature::CrackLineDensity, share(lines.crack));
    set(Feature::GrooveDensity, share(lines.groove));
    set(Feature::DarkArea, l.dark_area);
    set(Feature::IntensityMean, s.intensity_mean);
    set(Feature::IntensityBandContrast, s.band_contrast);
    set(Feature::IntensityGradient, s.intensity_gradient);
    let geometry = TreadGeometry {
        left_col: lay.left,
        right_col: lay.right,
        width_x,
        hub_bins: (lay.hub_left.len(), lay.hub_right.len()),
    };
    Ok((FeatureValues(v), geometry))
}
