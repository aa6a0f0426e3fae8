//! The parsed `.xml` header: components, subcomponents, traits, and the limits a sane header respects.

use super::types::{GeniStreamTraits, Layout, RangeTraits, ValueType};

/// Widest profile accepted, in columns.
pub const MAX_WIDTH: usize = 65_536;
/// Largest profile line accepted, in bytes (all subcomponents summed).
pub const MAX_LINE_SIZE: usize = 16 * 1024 * 1024;
/// Most subcomponents accepted in one header.
pub const MAX_SUBCOMPONENTS: usize = 256;
/// Largest component `height` accepted (sensor rows of an image component).
pub const MAX_COMPONENT_HEIGHT: usize = 65_536;
/// Largest `.xml` accepted, in bytes.
pub const MAX_XML_LEN: usize = 16 * 1024 * 1024;

/// What a subcomponent holds, from its (case-insensitive) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubcomponentKind {
    /// `Range`: heights (WORD or FLOAT).
    Range,
    /// `Intensity`: laser-line intensity (BYTE).
    Intensity,
    /// `Reflectance`: same meaning as Intensity (Ranger3).
    Reflectance,
    /// `Scatter`: scatter (BYTE).
    Scatter,
    /// `Mark`: per-profile encoder/status words (INT).
    Mark,
    /// `Image`: 2D sensor image rows.
    Image,
    /// Any other name; kept for offsets, otherwise ignored.
    Other,
}

impl SubcomponentKind {
    /// Classifies a subcomponent name.
    pub fn from_name(name: &str) -> SubcomponentKind {
        let n = name.trim();
        let is = |s: &str| n.eq_ignore_ascii_case(s);
        if is("range") {
            SubcomponentKind::Range
        } else if is("intensity") {
            SubcomponentKind::Intensity
        } else if is("reflectance") {
            SubcomponentKind::Reflectance
        } else if is("scatter") {
            SubcomponentKind::Scatter
        } else if is("mark") {
            SubcomponentKind::Mark
        } else if is("image") {
            SubcomponentKind::Image
        } else {
            SubcomponentKind::Other
        }
    }
}

/// One `<subcomponent>`: a plane of `width` values per profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Subcomponent {
    /// Name as written (`Range`, `Intensity`, ...).
    pub name: String,
    /// Classified name.
    pub kind: SubcomponentKind,
    /// Value type.
    pub value_type: ValueType,
    /// Bytes per profile line (= `width` x bytes per value, validated).
    pub size: usize,
    /// Values per profile line.
    pub width: usize,
}

/// One `<component>` (e.g. `Ranger3Range`, `Hi3D 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// `name` attribute.
    pub name: String,
    /// `valuetype` attribute (`Hi3D`, `image`, ...).
    pub kind: String,
    /// Bytes per profile line of this component (validated against its subcomponents).
    pub size: usize,
    /// `height` parameter (1 for 3D data; 1 when absent).
    pub height: usize,
    /// World or sensor range traits, when present.
    pub range_traits: Option<RangeTraits>,
    /// GenIStream traits, when present.
    pub genistream: Option<GeniStreamTraits>,
    /// Subcomponents in XML (and `.dat`) order.
    pub subcomponents: Vec<Subcomponent>,
}

/// A parsed and structurally validated iCon `.xml` header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Root `size`: bytes per profile line, all subcomponents summed.
    pub line_size: usize,
    /// Root `version`, when present.
    pub version: Option<String>,
    /// Root `layout`.
    pub layout: Layout,
    /// Components in XML order.
    pub components: Vec<Component>,
}

impl Header {
    /// Parses and validates an iCon `.xml` header.
    pub fn parse(xml: &str) -> Result<Header, super::IconError> {
        super::xml::parse_header(xml)
    }

    /// All subcomponents of all components, in `.dat` order, with their component index.
    pub fn subcomponents(&self) -> impl Iterator<Item = (usize, &Subcomponent)> + '_ {
        self.components.iter().enumerate().flat_map(|(ci, c)| c.subcomponents.iter().map(move |s| (ci, s)))
    }

    /// Index of the first component holding a Range subcomponent.
    pub fn range_component(&self) -> Option<usize> {
        self.components.iter().position(|c| c.subcomponents.iter().any(|s| s.kind == SubcomponentKind::Range))
    }
}
