//! Zero-copy typed views of one subcomponent plane in the `.dat` bytes (contiguous or strided rows).

use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::slice::ChunksExact;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for i32 {}
    impl Sealed for f32 {}
}

/// A value type stored little-endian in the `.dat` (u8, u16, i32, f32).
pub trait LeValue: Copy + sealed::Sealed + 'static {
    /// Bytes per value.
    const SIZE: usize;
    /// Decodes one value from exactly `SIZE` bytes (shorter input decodes as zero; never happens
    /// through this crate's iterators).
    fn from_le_chunk(bytes: &[u8]) -> Self;
}

macro_rules! le_value {
    ($t:ty, $n:expr) => {
        impl LeValue for $t {
            const SIZE: usize = $n;
            #[inline(always)]
            fn from_le_chunk(bytes: &[u8]) -> Self {
                match <[u8; $n]>::try_from(bytes) {
                    Ok(a) => <$t>::from_le_bytes(a),
                    Err(_) => <$t>::default(),
                }
            }
        }
    };
}
le_value!(u8, 1);
le_value!(u16, 2);
le_value!(i32, 4);
le_value!(f32, 4);

/// A typed view of one plane: `rows` rows of `width` values of type `T`.
///
/// With the SUBCOMPONENT layout rows are contiguous (`stride == width * T::SIZE`); with SCAN they are
/// `line size` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a, T: LeValue> {
    bytes: &'a [u8],
    offset: usize,
    stride: usize,
    width: usize,
    rows: usize,
    _t: PhantomData<T>,
}

impl<'a, T: LeValue> Plane<'a, T> {
    /// A plane over `bytes`: row `r` starts at `offset + r * stride`; `None` when that would not fit.
    pub fn new(bytes: &'a [u8], offset: usize, stride: usize, width: usize, rows: usize) -> Option<Plane<'a, T>> {
        let row_bytes = width.checked_mul(T::SIZE)?;
        if rows > 0 {
            let end = (rows - 1).checked_mul(stride)?.checked_add(offset)?.checked_add(row_bytes)?;
            if end > bytes.len() || stride < row_bytes {
                return None;
            }
        }
        Some(Plane { bytes, offset, stride, width, rows, _t: PhantomData })
    }

    /// A plane without the fit check; every access is still bounds-checked.
    pub(crate) fn from_parts(bytes: &'a [u8], offset: usize, stride: usize, width: usize, rows: usize) -> Plane<'a, T> {
        Plane { bytes, offset, stride, width, rows, _t: PhantomData }
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of rows (profiles).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// True when rows are back to back, i.e. the whole plane is one byte run.
    pub fn is_contiguous(&self) -> bool {
        Some(self.stride) == self.width.checked_mul(T::SIZE) || self.rows <= 1
    }

    /// Row `r`, or `None` when out of range.
    #[inline]
    pub fn row(&self, r: usize) -> Option<Row<'a, T>> {
        if r >= self.rows {
            return None;
        }
        let start = r.checked_mul(self.stride)?.checked_add(self.offset)?;
        let end = self.width.checked_mul(T::SIZE)?.checked_add(start)?;
        let bytes = self.bytes.get(start..end)?;
        Some(Row { bytes, _t: PhantomData })
    }

    /// Value at (`row`, `col`), or `None` when out of range.
    #[inline]
    pub fn get(&self, row: usize, col: usize) -> Option<T> {
        if col >= self.width {
            return None;
        }
        self.row(row).map(|r| r.value(col))
    }

    /// Iterates over rows in order.
    pub fn iter_rows(&self) -> Rows<'a, T> {
        Rows { plane: *self, next: 0 }
    }

    /// The raw little-endian bytes of the whole plane when contiguous (SUBCOMPONENT layout).
    pub fn contiguous_bytes(&self) -> Option<&'a [u8]> {
        if !self.is_contiguous() {
            return None;
        }
        let len = self.rows.checked_mul(self.width)?.checked_mul(T::SIZE)?;
        self.bytes.get(self.offset..self.offset.checked_add(len)?)
    }

    /// Copies the plane into a row-major `Vec` (one allocation).
    pub fn to_vec(&self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.rows * self.width);
        for row in self.iter_rows() {
            out.extend(row.iter());
        }
        out
    }
}

/// One row of a [`Plane`]: `width` little-endian values, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a, T: LeValue> {
    bytes: &'a [u8],
    _t: PhantomData<T>,
}

impl<'a, T: LeValue> Row<'a, T> {
    /// Number of values.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes.len() / T::SIZE
    }

    /// True when the row has no values.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Value at `col`, or `None` when out of range.
    #[inline]
    pub fn get(&self, col: usize) -> Option<T> {
        let start = col.checked_mul(T::SIZE)?;
        self.bytes.get(start..start + T::SIZE).map(T::from_le_chunk)
    }

    /// Value at `col`; callers guarantee `col < len()` (out of range yields the default value).
    #[inline]
    fn value(&self, col: usize) -> T {
        self.get(col).unwrap_or_else(|| T::from_le_chunk(&[]))
    }

    /// Iterates over the values, decoding little-endian (vectorises well).
    #[inline]
    pub fn iter(&self) -> RowIter<'a, T> {
        RowIter { chunks: self.bytes.chunks_exact(T::SIZE), _t: PhantomData }
    }

    /// The row's raw little-endian bytes.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Copies the row into a `Vec`.
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }
}

impl<'a, T: LeValue> IntoIterator for Row<'a, T> {
    type Item = T;
    type IntoIter = RowIter<'a, T>;
    fn into_iter(self) -> RowIter<'a, T> {
        self.iter()
    }
}

/// Iterator over the values of a [`Row`].
#[derive(Debug, Clone)]
pub struct RowIter<'a, T: LeValue> {
    chunks: ChunksExact<'a, u8>,
    _t: PhantomData<T>,
}

impl<T: LeValue> Iterator for RowIter<'_, T> {
    type Item = T;
    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        self.chunks.next().map(T::from_le_chunk)
    }
    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
    #[inline]
    fn fold<B, F: FnMut(B, T) -> B>(self, init: B, mut f: F) -> B {
        self.chunks.fold(init, move |acc, c| f(acc, T::from_le_chunk(c)))
    }
}

impl<T: LeValue> ExactSizeIterator for RowIter<'_, T> {}
impl<T: LeValue> FusedIterator for RowIter<'_, T> {}
impl<T: LeValue> DoubleEndedIterator for RowIter<'_, T> {
    #[inline]
    fn next_back(&mut self) -> Option<T> {
        self.chunks.next_back().map(T::from_le_chunk)
    }
}

/// Iterator over the rows of a [`Plane`].
#[derive(Debug, Clone)]
pub struct Rows<'a, T: LeValue> {
    plane: Plane<'a, T>,
    next: usize,
}

impl<'a, T: LeValue> Iterator for Rows<'a, T> {
    type Item = Row<'a, T>;
    #[inline]
    fn next(&mut self) -> Option<Row<'a, T>> {
        let row = self.plane.row(self.next)?;
        self.next += 1;
        Some(row)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.plane.rows.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl<T: LeValue> ExactSizeIterator for Rows<'_, T> {}
impl<T: LeValue> FusedIterator for Rows<'_, T> {}
