//! Raw range value to height (mm or sensor units) and column to x, following the spec's rules.

use super::plane::LeValue;
use super::types::{GeniStreamTraits, RangeTraits, ValueType};
use super::views::RawRow;

/// Units a converted height is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeightUnits {
    /// Calibrated millimetres (world or GenIStream traits, or FLOAT range with world traits).
    Millimetres,
    /// Uncalibrated sensor rows (sensor traits), or raw values when there are no traits at all.
    SensorUnits,
}

/// Linear raw-to-height conversion: `height = raw x scale + offset`, unless `raw == missing_raw`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeightConversion {
    /// Units of the result.
    pub units: HeightUnits,
    /// Multiplier applied to the raw value.
    pub scale: f32,
    /// Added after scaling.
    pub offset: f32,
    /// The raw value meaning "no laser peak" (0 unless GenIStream traits say otherwise).
    pub missing_raw: f32,
}

impl HeightConversion {
    /// Converts one raw range value; `None` when it is the missing-data value.
    #[inline(always)]
    pub fn to_height(&self, raw: f32) -> Option<f32> {
        if raw == self.missing_raw {
            None
        } else {
            Some(raw * self.scale + self.offset)
        }
    }

    /// Converts one raw range value, giving NaN for missing data (handy for dense buffers).
    #[inline(always)]
    pub fn to_height_or_nan(&self, raw: f32) -> f32 {
        self.to_height(raw).unwrap_or(f32::NAN)
    }

    /// Converts a whole row into `out` (cleared first), NaN for missing points.
    ///
    /// A branch-free loop over the little-endian bytes that the compiler vectorises; reuse `out` across
    /// rows to avoid any allocation after the first.
    pub fn heights_into(&self, row: RawRow<'_>, out: &mut Vec<f32>) {
        out.clear();
        out.resize(row.len(), 0.0);
        match row {
            RawRow::Word(r) => self.convert(r.as_bytes(), out, |v: u16| f32::from(v)),
            RawRow::Float(r) => self.convert(r.as_bytes(), out, |v: f32| v),
        }
    }

    #[inline(always)]
    fn convert<T: LeValue>(&self, bytes: &[u8], out: &mut [f32], to_f32: impl Fn(T) -> f32) {
        let (scale, offset, missing) = (self.scale, self.offset, self.missing_raw);
        for (o, c) in out.iter_mut().zip(bytes.chunks_exact(T::SIZE)) {
            let raw = to_f32(T::from_le_chunk(c));
            let h = raw * scale + offset;
            *o = if raw == missing { f32::NAN } else { h };
        }
    }

    /// The conversion the spec prescribes for a range of `value_type` with these traits.
    ///
    /// GenIStream traits win; then world traits (WORD: `(v-1)/65534 x (upper r - lower r) + lower r`;
    /// FLOAT: already mm); then sensor traits (`v x scale z + origin z`, sensor units); with no traits the
    /// raw value itself, in sensor units.
    pub fn for_range(
        value_type: ValueType,
        traits: Option<&RangeTraits>,
        genistream: Option<&GeniStreamTraits>,
    ) -> HeightConversion {
        if let Some(g) = genistream {
            let missing_raw = match (g.missing, g.missing_value) {
                (Some(true), Some(v)) => v as f32,
                _ => 0.0,
            };
            return HeightConversion {
                units: HeightUnits::Millimetres,
                scale: g.c_scale as f32,
                offset: g.c_offset as f32,
                missing_raw,
            };
        }
        match (traits, value_type) {
            (Some(RangeTraits::World { lower_r, upper_r, .. }), ValueType::Word) => {
                let scale = (upper_r - lower_r) / 65534.0;
                HeightConversion {
                    units: HeightUnits::Millimetres,
                    scale: scale as f32,
                    offset: (lower_r - scale) as f32,
                    missing_raw: 0.0,
                }
            }
            (Some(RangeTraits::World { .. }), _) => {
                HeightConversion { units: HeightUnits::Millimetres, scale: 1.0, offset: 0.0, missing_raw: 0.0 }
            }
            (Some(RangeTraits::Sensor { origin_z, scale_z, .. }), _) => HeightConversion {
                units: HeightUnits::SensorUnits,
                scale: *scale_z as f32,
                offset: *origin_z as f32,
                missing_raw: 0.0,
            },
            (None, _) => {
                HeightConversion { units: HeightUnits::SensorUnits, scale: 1.0, offset: 0.0, missing_raw: 0.0 }
            }
        }
    }
}

/// Column index to x in millimetres, where the traits allow it (GenIStream wins, then world bounds).
pub fn column_x_mm(
    col: usize,
    width: usize,
    traits: Option<&RangeTraits>,
    genistream: Option<&GeniStreamTraits>,
) -> Option<f64> {
    if col >= width {
        return None;
    }
    if let Some(g) = genistream {
        return Some(g.a_offset + col as f64 * g.a_scale);
    }
    match traits {
        Some(RangeTraits::World { lower_x, upper_x, .. }) => {
            if width < 2 {
                Some(*lower_x)
            } else {
                Some(lower_x + col as f64 * (upper_x - lower_x) / (width - 1) as f64)
            }
        }
        _ => None,
    }
}
