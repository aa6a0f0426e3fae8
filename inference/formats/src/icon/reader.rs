//! [`Capture`]: a validated iCon capture over a memory-mapped (or owned) `.dat`, with typed accessors.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::conversion::{self, HeightConversion};
use super::header::{Header, SubcomponentKind, MAX_XML_LEN};
use super::plane::{LeValue, Plane};
use super::types::{
    CaptureData, GeniStreamTraits, IntensityName, Layout, MarkValues, RangeTraits, RangeValues, ValueType,
};
use super::views::{AnyPlane, MarkPlane, RangePlane};
use super::IconError;

/// The `.dat` bytes: mapped from a file or owned.
#[derive(Debug)]
enum Backing {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// Where one subcomponent's rows sit in the `.dat`.
#[derive(Debug, Clone, Copy)]
struct Loc {
    offset: usize,
    stride: usize,
    width: usize,
    value_type: ValueType,
}

/// A validated iCon capture: the parsed header plus the `.dat`, read without copying.
#[derive(Debug)]
pub struct Capture {
    header: Header,
    dat: Backing,
    profiles: usize,
    /// Index of the component holding the Range subcomponent used by the accessors.
    component: usize,
    /// One location per subcomponent, in `Header::subcomponents()` order.
    locs: Vec<Loc>,
    range: usize,
    intensity: Option<(IntensityName, usize)>,
    scatter: Option<usize>,
    mark: Option<usize>,
}

impl Capture {
    /// Opens a capture: parses `xml_path`, memory-maps `dat_path` and validates both.
    pub fn open(xml_path: impl AsRef<Path>, dat_path: impl AsRef<Path>) -> Result<Capture, IconError> {
        let (xml_path, dat_path) = (xml_path.as_ref(), dat_path.as_ref());
        let xml = read_xml(xml_path)?;
        let header = Header::parse(&xml)?;
        let file = File::open(dat_path).map_err(|e| IconError::io(dat_path, e))?;
        let len = file.metadata().map_err(|e| IconError::io(dat_path, e))?.len();
        if len == 0 {
            return Err(IconError::EmptyDat);
        }
        // Pre-fault the pages: every byte is read anyway, and one populate beats ~2,000 page faults.
        #[allow(unsafe_code)]
        // SAFETY: the map is read-only and only ever viewed as `&[u8]`. Mapping is undefined behaviour only
        // if another process truncates or rewrites the file while it is mapped; captures are written once
        // and published by rename (see `write_pair`), and the ingest side hands over only complete, settled
        // files, so the mapped bytes do not change for the lifetime of this `Capture`.
        let map =
            unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(|e| IconError::io(dat_path, e))?;
        Capture::build(header, Backing::Mapped(map))
    }

    /// Builds a capture from an in-memory header and `.dat`; same validation as [`Capture::open`].
    pub fn from_bytes(xml: &str, dat: Vec<u8>) -> Result<Capture, IconError> {
        let header = Header::parse(xml)?;
        Capture::build(header, Backing::Owned(dat))
    }

    fn build(header: Header, dat: Backing) -> Result<Capture, IconError> {
        let len = dat.bytes().len();
        if len == 0 {
            return Err(IconError::EmptyDat);
        }
        let line = header.line_size;
        if !len.is_multiple_of(line) {
            return Err(IconError::Truncated { len: len as u64, line_size: line, remainder: len % line });
        }
        let profiles = len / line;
        let component = header.range_component().ok_or(IconError::MissingRange)?;

        // Locations: SUBCOMPONENT = planes back to back; SCAN = one line of each, interleaved.
        let mut locs = Vec::new();
        let mut before = 0usize;
        for (_, s) in header.subcomponents() {
            let (offset, stride) = match header.layout {
                Layout::Subcomponent => (before * profiles, s.size),
                Layout::Scan => (before, line),
            };
            locs.push(Loc { offset, stride, width: s.width, value_type: s.value_type });
            before += s.size;
        }

        let mut range = None;
        let mut intensity = None;
        let mut scatter = None;
        let mut mark = None;
        let mut mark_elsewhere = None;
        for (i, (ci, s)) in header.subcomponents().enumerate() {
            if ci != component {
                if s.kind == SubcomponentKind::Mark && mark_elsewhere.is_none() {
                    mark_elsewhere = Some(i);
                }
                continue;
            }
            let slot = match s.kind {
                SubcomponentKind::Range => &mut range,
                SubcomponentKind::Intensity | SubcomponentKind::Reflectance => &mut intensity,
                SubcomponentKind::Scatter => &mut scatter,
                SubcomponentKind::Mark => &mut mark,
                SubcomponentKind::Image | SubcomponentKind::Other => continue,
            };
            if slot.is_none() {
                *slot = Some(i);
            }
        }
        let range = range.ok_or(IconError::MissingRange)?;
        let mark = mark.or(mark_elsewhere);
        let subs: Vec<_> = header.subcomponents().map(|(_, s)| s.clone()).collect();
        let range_sub = &subs[range];
        if !matches!(range_sub.value_type, ValueType::Word | ValueType::Float) {
            return Err(unsupported(&range_sub.name, range_sub.value_type, "WORD or FLOAT"));
        }
        let intensity = match intensity {
            None => None,
            Some(i) => {
                let s = &subs[i];
                check_byte_plane(s, range_sub.width)?;
                let name = if s.kind == SubcomponentKind::Reflectance {
                    IntensityName::Reflectance
                } else {
                    IntensityName::Intensity
                };
                Some((name, i))
            }
        };
        if let Some(i) = scatter {
            check_byte_plane(&subs[i], range_sub.width)?;
        }
        if let Some(i) = mark {
            let s = &subs[i];
            if s.value_type != ValueType::Int {
                return Err(unsupported(&s.name, s.value_type, "INT"));
            }
            if s.width != 5 && s.width != 2 {
                return Err(IconError::InvalidParameter {
                    name: "width".to_string(),
                    context: format!("subcomponent \"{}\" (mark data has 5 or 2 words)", s.name),
                    value: s.width.to_string(),
                });
            }
        }

        let capture = Capture { header, dat, profiles, component, locs, range, intensity, scatter, mark };
        if let RangePlane::Float(p) = capture.range() {
            check_finite(&p)?;
        }
        Ok(capture)
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The whole `.dat`, as mapped or owned.
    pub fn dat_bytes(&self) -> &[u8] {
        self.dat.bytes()
    }

    /// Columns per profile of the Range subcomponent.
    pub fn width(&self) -> usize {
        self.locs[self.range].width
    }

    /// Number of profiles (rows).
    pub fn profiles(&self) -> usize {
        self.profiles
    }

    /// The `.dat` layout.
    pub fn layout(&self) -> Layout {
        self.header.layout
    }

    /// The Range value type (WORD or FLOAT).
    pub fn range_value_type(&self) -> ValueType {
        self.locs[self.range].value_type
    }

    /// Name of the component the accessors read from.
    pub fn component_name(&self) -> &str {
        &self.header.components[self.component].name
    }

    /// World or sensor range traits of that component.
    pub fn range_traits(&self) -> Option<&RangeTraits> {
        self.header.components[self.component].range_traits.as_ref()
    }

    /// GenIStream traits of that component.
    pub fn genistream(&self) -> Option<&GeniStreamTraits> {
        self.header.components[self.component].genistream.as_ref()
    }

    fn plane<T: LeValue>(&self, i: usize) -> Plane<'_, T> {
        let l = self.locs[i];
        // `build` placed every plane inside the `.dat`; `Plane` bounds-checks every access regardless.
        Plane::from_parts(self.dat.bytes(), l.offset, l.stride, l.width, self.profiles)
    }

    /// The Range plane.
    pub fn range(&self) -> RangePlane<'_> {
        match self.locs[self.range].value_type {
            ValueType::Float => RangePlane::Float(self.plane(self.range)),
            _ => RangePlane::Word(self.plane(self.range)),
        }
    }

    /// The Intensity or Reflectance plane (BYTE), with the name it is stored under.
    pub fn intensity(&self) -> Option<(IntensityName, Plane<'_, u8>)> {
        self.intensity.map(|(n, i)| (n, self.plane(i)))
    }

    /// The Scatter plane (BYTE).
    pub fn scatter(&self) -> Option<Plane<'_, u8>> {
        self.scatter.map(|i| self.plane(i))
    }

    /// Mark data (extended or standard).
    pub fn mark(&self) -> Option<MarkPlane<'_>> {
        self.mark.map(|i| MarkPlane::new(self.plane(i)))
    }

    /// Any subcomponent by its index in [`Header::subcomponents`] order (e.g. `Image` planes).
    pub fn subcomponent_plane(&self, index: usize) -> Option<AnyPlane<'_>> {
        let l = self.locs.get(index)?;
        Some(match l.value_type {
            ValueType::Byte => AnyPlane::Byte(self.plane(index)),
            ValueType::Word => AnyPlane::Word(self.plane(index)),
            ValueType::Int => AnyPlane::Int(self.plane(index)),
            ValueType::Float => AnyPlane::Float(self.plane(index)),
        })
    }

    /// How to turn raw range values into heights (GenIStream traits win over world/sensor traits).
    pub fn height_conversion(&self) -> HeightConversion {
        HeightConversion::for_range(self.range_value_type(), self.range_traits(), self.genistream())
    }

    /// x in millimetres of column `col`, when the traits allow it (GenIStream a-axis, else world bounds).
    pub fn column_x_mm(&self, col: usize) -> Option<f64> {
        conversion::column_x_mm(col, self.width(), self.range_traits(), self.genistream())
    }

    /// Copies everything the writer needs into an owned [`CaptureData`].
    pub fn to_data(&self) -> CaptureData {
        CaptureData {
            layout: self.layout(),
            width: self.width(),
            profiles: self.profiles,
            component_name: self.component_name().to_string(),
            range: match self.range() {
                RangePlane::Word(p) => RangeValues::Word(p.to_vec()),
                RangePlane::Float(p) => RangeValues::Float(p.to_vec()),
            },
            intensity: self.intensity().map(|(n, p)| (n, p.to_vec())),
            scatter: self.scatter().map(|p| p.to_vec()),
            mark: self.mark().map(|m| {
                let n = m.len();
                if m.plane().width() == 5 {
                    MarkValues::Extended((0..n).filter_map(|i| m.extended(i)).collect())
                } else {
                    MarkValues::Standard((0..n).filter_map(|i| m.standard(i)).collect())
                }
            }),
            range_traits: self.range_traits().copied(),
            genistream: self.genistream().cloned(),
        }
    }
}

fn unsupported(name: &str, vt: ValueType, expected: &'static str) -> IconError {
    IconError::UnsupportedValueType { subcomponent: name.to_string(), value_type: vt.to_string(), expected }
}

fn check_byte_plane(s: &super::header::Subcomponent, range_width: usize) -> Result<(), IconError> {
    if s.value_type != ValueType::Byte {
        return Err(unsupported(&s.name, s.value_type, "BYTE"));
    }
    if s.width != range_width {
        return Err(IconError::WidthMismatch { subcomponent: s.name.clone(), width: s.width, range_width });
    }
    Ok(())
}

fn check_finite(p: &Plane<'_, f32>) -> Result<(), IconError> {
    for (row, r) in p.iter_rows().enumerate() {
        if r.iter().all(f32::is_finite) {
            continue;
        }
        if let Some((col, value)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(IconError::NonFiniteRange { row, col, value });
        }
    }
    Ok(())
}

fn read_xml(path: &Path) -> Result<String, IconError> {
    let file = File::open(path).map_err(|e| IconError::io(path, e))?;
    let len = file.metadata().map_err(|e| IconError::io(path, e))?.len();
    if len > MAX_XML_LEN as u64 {
        return Err(IconError::Dimension {
            what: ".xml length in bytes".to_string(),
            value: len,
            min: 1,
            max: MAX_XML_LEN as u64,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| IconError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| IconError::Xml(format!("not UTF-8: {e}")))
}
