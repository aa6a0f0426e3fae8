//! [`Surface`]: a borrowed height + intensity scan (from an iCon capture or from arrays) read row by row.

use ndarray::{ArrayView2, CowArray, Ix2};
use prognos_formats::icon::{Capture, HeightConversion, HeightUnits, Plane, RangePlane, RangeTraits};

use crate::kernels::WordConv;
use crate::FeatureError;

/// Fewest profiles a surface may have.
pub const MIN_ROWS: usize = 16;
/// Fewest columns a surface may have.
pub const MIN_WIDTH: usize = 128;

/// Where heights come from.
#[derive(Debug, Clone)]
enum Heights<'a> {
    /// Raw Range plane of a capture plus the spec's conversion (converted row by row, never copied).
    Capture { plane: RangePlane<'a>, conversion: HeightConversion },
    /// Heights already in height units, NaN where missing.
    Dense(CowArray<'a, f32, Ix2>),
}

/// Where intensities come from.
#[derive(Debug, Clone)]
enum Intensity<'a> {
    /// The capture's Intensity/Reflectance plane.
    Capture(Plane<'a, u8>),
    /// A row-major array.
    Dense(CowArray<'a, u8, Ix2>),
}

/// A height map plus intensity, rows along the circumference (rotation), columns across the tread.
///
/// Heights are read lazily row by row: a surface over a [`Capture`] converts each raw row into a reused
/// buffer, so featurizing never materialises a full height array.
///
/// Larger heights must mean more material (farther from the wheel axis). A camera whose converted range
/// runs the other way (a reversed sensor axis left uncorrected by its traits) is not supported yet.
#[derive(Debug, Clone)]
pub struct Surface<'a> {
    heights: Heights<'a>,
    intensity: Option<Intensity<'a>>,
    rows: usize,
    width: usize,
    units: HeightUnits,
    x_pitch: f32,
    height_aspect: f32,
}

impl<'a> Surface<'a> {
    /// A surface over a capture's Range and Intensity/Reflectance planes, converted per the capture's traits.
    ///
    /// The column pitch comes from the calibration (mm per column) or, for uncalibrated captures, from the
    /// sensor traits' `scale x` (sensor columns per column, 1 when absent).
    pub fn from_capture(capture: &'a Capture) -> Result<Surface<'a>, FeatureError> {
        let conversion = capture.height_conversion();
        let width = capture.width();
        let x_pitch = match conversion.units {
            HeightUnits::Millimetres => match (capture.column_x_mm(0), capture.column_x_mm(width.saturating_sub(1))) {
                (Some(a), Some(b)) if width > 1 => ((b - a) / (width - 1) as f64).abs() as f32,
                _ => 1.0,
            },
            HeightUnits::SensorUnits => match capture.range_traits() {
                Some(RangeTraits::Sensor { scale_x, .. }) if *scale_x != 0.0 => scale_x.abs() as f32,
                _ => 1.0,
            },
        };
        let surface = Surface {
            heights: Heights::Capture { plane: capture.range(), conversion },
            intensity: capture.intensity().map(|(_, p)| Intensity::Capture(p)),
            rows: capture.profiles(),
            width,
            units: conversion.units,
            x_pitch,
            height_aspect: 1.0,
        };
        surface.validate()
    }

    /// A surface over arrays: heights in `units` (NaN where missing), optional intensity of the same shape,
    /// and the column pitch in x units per column (mm, or sensor columns for sensor units).
    pub fn from_arrays(
        heights: ArrayView2<'a, f32>,
        intensity: Option<ArrayView2<'a, u8>>,
        units: HeightUnits,
        x_pitch: f32,
    ) -> Result<Surface<'a>, FeatureError> {
        let (rows, width) = heights.dim();
        if let Some(i) = &intensity {
            if i.dim() != (rows, width) {
                return Err(FeatureError::ShapeMismatch { heights: (rows, width), intensity: i.dim() });
            }
        }
        let surface = Surface {
            heights: Heights::Dense(standard(heights)),
            intensity: intensity.map(|i| Intensity::Dense(standard(i))),
            rows,
            width,
            units,
            x_pitch,
            height_aspect: 1.0,
        };
        surface.validate()
    }

    /// Sets how many x units one height unit spans (default 1: mm/mm, or square sensor pixels). Set it for
    /// an uncalibrated camera whose sensor rows and columns cover different lengths on the wheel.
    pub fn with_height_aspect(mut self, aspect: f32) -> Result<Surface<'a>, FeatureError> {
        if !(aspect.is_finite() && aspect > 0.0) {
            return Err(FeatureError::Geometry(format!("height aspect must be positive and finite, got {aspect}")));
        }
        self.height_aspect = aspect;
        Ok(self)
    }

    fn validate(self) -> Result<Surface<'a>, FeatureError> {
        if self.rows < MIN_ROWS || self.width < MIN_WIDTH {
            return Err(FeatureError::TooSmall { rows: self.rows, width: self.width });
        }
        if !(self.x_pitch.is_finite() && self.x_pitch > 0.0) {
            return Err(FeatureError::Geometry(format!(
                "column pitch must be positive and finite, got {}",
                self.x_pitch
            )));
        }
        Ok(self)
    }

    /// Number of profiles (rows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns per profile.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Units heights are in.
    pub fn units(&self) -> HeightUnits {
        self.units
    }

    /// x units (mm or sensor columns) per column.
    pub fn x_pitch(&self) -> f32 {
        self.x_pitch
    }

    /// x units spanned by one height unit (see [`Surface::with_height_aspect`]).
    pub fn height_aspect(&self) -> f32 {
        self.height_aspect
    }

    /// True when the surface has an intensity plane.
    pub fn has_intensity(&self) -> bool {
        self.intensity.is_some()
    }

    /// Writes row `r`'s heights into `out` (length [`Surface::width`]), NaN where missing.
    /// Rows out of range fill `out` with NaN.
    pub fn fill_heights(&self, r: usize, out: &mut [f32]) {
        match &self.heights {
            Heights::Capture { plane, conversion } => fill_from_capture(plane, conversion, r, out),
            Heights::Dense(a) => match a.row(r).to_slice() {
                Some(src) if r < self.rows => {
                    for (o, &v) in out.iter_mut().zip(src) {
                        *o = if v.is_finite() { v } else { f32::NAN };
                    }
                }
                _ => out.fill(f32::NAN),
            },
        }
    }

    /// The raw-value conversion when heights come straight from a WORD capture plane.
    pub(crate) fn word_conversion(&self) -> Option<WordConv> {
        match &self.heights {
            Heights::Capture { plane: RangePlane::Word(_), conversion } => {
                let m = conversion.missing_raw;
                let missing =
                    if m >= 0.0 && m <= f32::from(u16::MAX) && m.fract() == 0.0 { m as u32 } else { u32::MAX };
                Some(WordConv { scale: conversion.scale, offset: conversion.offset, missing })
            }
            _ => None,
        }
    }

    /// Writes row `r`'s raw WORD values into `out` (zeros when not a WORD capture or out of range).
    pub(crate) fn fill_words(&self, r: usize, out: &mut [u16]) {
        let row = match &self.heights {
            Heights::Capture { plane: RangePlane::Word(p), .. } => p.row(r),
            _ => None,
        };
        match row {
            Some(row) => {
                for (o, c) in out.iter_mut().zip(row.as_bytes().chunks_exact(2)) {
                    *o = u16::from_le_bytes([c[0], c[1]]);
                }
            }
            None => out.fill(0),
        }
    }

    /// Row `r` of the intensity plane, when there is one and `r` is in range.
    pub fn intensity_row(&self, r: usize) -> Option<&[u8]> {
        if r >= self.rows {
            return None;
        }
        match self.intensity.as_ref()? {
            Intensity::Capture(p) => p.row(r).map(|row| row.as_bytes()),
            Intensity::Dense(a) => {
                let s = a.as_slice()?;
                s.get(r * self.width..(r + 1) * self.width)
            }
        }
    }
}

/// Borrows a row-major view as is; copies any other layout into row-major order once.
fn standard<T: Clone>(v: ArrayView2<'_, T>) -> CowArray<'_, T, Ix2> {
    if v.is_standard_layout() {
        CowArray::from(v)
    } else {
        CowArray::from(v.as_standard_layout().into_owned())
    }
}

/// Converts one raw row into heights (NaN for missing) with the capture's linear conversion.
fn fill_from_capture(plane: &RangePlane<'_>, conv: &HeightConversion, r: usize, out: &mut [f32]) {
    let (scale, offset, missing) = (conv.scale, conv.offset, conv.missing_raw);
    match plane {
        RangePlane::Word(p) => match p.row(r) {
            Some(row) => {
                for (o, c) in out.iter_mut().zip(row.as_bytes().chunks_exact(2)) {
                    let v = f32::from(u16::from_le_bytes([c[0], c[1]]));
                    *o = if v == missing { f32::NAN } else { v * scale + offset };
                }
            }
            None => out.fill(f32::NAN),
        },
        RangePlane::Float(p) => match p.row(r) {
            Some(row) => {
                for (o, c) in out.iter_mut().zip(row.as_bytes().chunks_exact(4)) {
                    let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    *o = if v == missing || !v.is_finite() { f32::NAN } else { v * scale + offset };
                }
            }
            None => out.fill(f32::NAN),
        },
    }
}
