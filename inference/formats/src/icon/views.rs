//! Typed views a [`super::Capture`] hands out: the range plane (WORD or FLOAT), mark data, any plane.

use super::plane::{Plane, Row, RowIter};
use super::types::ValueType;

/// The Range plane, typed by its value type.
#[derive(Debug, Clone, Copy)]
pub enum RangePlane<'a> {
    /// `WORD` range.
    Word(Plane<'a, u16>),
    /// `FLOAT` range.
    Float(Plane<'a, f32>),
}

impl<'a> RangePlane<'a> {
    /// Values per row.
    pub fn width(&self) -> usize {
        match self {
            RangePlane::Word(p) => p.width(),
            RangePlane::Float(p) => p.width(),
        }
    }

    /// Number of rows (profiles).
    pub fn rows(&self) -> usize {
        match self {
            RangePlane::Word(p) => p.rows(),
            RangePlane::Float(p) => p.rows(),
        }
    }

    /// The stored value type (WORD or FLOAT).
    pub fn value_type(&self) -> ValueType {
        match self {
            RangePlane::Word(_) => ValueType::Word,
            RangePlane::Float(_) => ValueType::Float,
        }
    }

    /// Row `r` as raw values widened to f32, or `None` when out of range.
    pub fn row_raw(&self, r: usize) -> Option<RawRow<'a>> {
        match self {
            RangePlane::Word(p) => p.row(r).map(RawRow::Word),
            RangePlane::Float(p) => p.row(r).map(RawRow::Float),
        }
    }

    /// Raw value at (`row`, `col`) widened to f32, or `None` when out of range.
    pub fn get_raw(&self, row: usize, col: usize) -> Option<f32> {
        match self {
            RangePlane::Word(p) => p.get(row, col).map(f32::from),
            RangePlane::Float(p) => p.get(row, col),
        }
    }
}

/// One Range row, typed by value type.
#[derive(Debug, Clone, Copy)]
pub enum RawRow<'a> {
    /// `WORD` row.
    Word(Row<'a, u16>),
    /// `FLOAT` row.
    Float(Row<'a, f32>),
}

impl<'a> RawRow<'a> {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            RawRow::Word(r) => r.len(),
            RawRow::Float(r) => r.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates the raw values widened to f32.
    pub fn iter(&self) -> RawRowIter<'a> {
        match self {
            RawRow::Word(r) => RawRowIter::Word(r.iter()),
            RawRow::Float(r) => RawRowIter::Float(r.iter()),
        }
    }
}

/// Iterator over a [`RawRow`] as f32.
#[derive(Debug, Clone)]
pub enum RawRowIter<'a> {
    /// Over WORD values.
    Word(RowIter<'a, u16>),
    /// Over FLOAT values.
    Float(RowIter<'a, f32>),
}

impl Iterator for RawRowIter<'_> {
    type Item = f32;
    #[inline]
    fn next(&mut self) -> Option<f32> {
        match self {
            RawRowIter::Word(i) => i.next().map(f32::from),
            RawRowIter::Float(i) => i.next(),
        }
    }
    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            RawRowIter::Word(i) => i.size_hint(),
            RawRowIter::Float(i) => i.size_hint(),
        }
    }
    #[inline]
    fn fold<B, F: FnMut(B, f32) -> B>(self, init: B, mut f: F) -> B {
        match self {
            RawRowIter::Word(i) => i.fold(init, move |a, v| f(a, f32::from(v))),
            RawRowIter::Float(i) => i.fold(init, f),
        }
    }
}

impl ExactSizeIterator for RawRowIter<'_> {}

/// Which mark-data flavour a capture carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkKind {
    /// Five words per profile.
    Extended,
    /// Two words per profile.
    Standard,
}

/// Per-profile mark data (INT, 5 or 2 words per profile).
#[derive(Debug, Clone, Copy)]
pub struct MarkPlane<'a> {
    plane: Plane<'a, i32>,
}

impl<'a> MarkPlane<'a> {
    /// Wraps an INT plane of width 5 or 2.
    pub(crate) fn new(plane: Plane<'a, i32>) -> MarkPlane<'a> {
        MarkPlane { plane }
    }

    /// Extended (5 words) or standard (2 words).
    pub fn kind(&self) -> MarkKind {
        if self.plane.width() >= 5 {
            MarkKind::Extended
        } else {
            MarkKind::Standard
        }
    }

    /// Number of profiles.
    pub fn len(&self) -> usize {
        self.plane.rows()
    }

    /// True when there are no profiles.
    pub fn is_empty(&self) -> bool {
        self.plane.rows() == 0
    }

    /// The underlying INT plane.
    pub fn plane(&self) -> Plane<'a, i32> {
        self.plane
    }

    /// All five words of profile `i`; `None` for standard mark data or out of range.
    pub fn extended(&self, i: usize) -> Option<[i32; 5]> {
        if self.kind() != MarkKind::Extended {
            return None;
        }
        let row = self.plane.row(i)?;
        let mut out = [0; 5];
        for (o, v) in out.iter_mut().zip(row.iter()) {
            *o = v;
        }
        Some(out)
    }

    /// The first two words (encoder, status) of profile `i`.
    pub fn standard(&self, i: usize) -> Option<[i32; 2]> {
        Some([self.plane.get(i, 0)?, self.plane.get(i, 1)?])
    }

    /// Encoder value of profile `i`.
    pub fn encoder(&self, i: usize) -> Option<i32> {
        self.plane.get(i, 0)
    }

    /// Status word of profile `i`.
    pub fn status(&self, i: usize) -> Option<i32> {
        self.plane.get(i, 1)
    }

    /// Overtrigger count (status bits 16-23) of profile `i`: non-zero means profiles were dropped.
    pub fn overtrigger(&self, i: usize) -> Option<u8> {
        self.status(i).map(|s| ((s >> 16) & 0xff) as u8)
    }
}

/// Any subcomponent plane, typed by its value type.
#[derive(Debug, Clone, Copy)]
pub enum AnyPlane<'a> {
    /// `BYTE`.
    Byte(Plane<'a, u8>),
    /// `WORD`.
    Word(Plane<'a, u16>),
    /// `INT`.
    Int(Plane<'a, i32>),
    /// `FLOAT`.
    Float(Plane<'a, f32>),
}
