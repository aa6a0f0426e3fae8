//! Owned value types shared by the iCon reader and writer: layouts, value types, traits, capture data.

use std::fmt;

/// How the `.dat` interleaves subcomponents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Whole planes one after another in XML order (all Range rows, then all Intensity rows, ...).
    Subcomponent,
    /// Line-interleaved: line 0 of every subcomponent, then line 1, and so on.
    Scan,
}

impl Layout {
    /// The spelling used in the `.xml` (`SUBCOMPONENT` or `SCAN`).
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Subcomponent => "SUBCOMPONENT",
            Layout::Scan => "SCAN",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Value type of a subcomponent; every value is little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `BYTE`: u8.
    Byte,
    /// `WORD`: u16.
    Word,
    /// `INT`: i32 (mark data).
    Int,
    /// `FLOAT`: f32.
    Float,
}

impl ValueType {
    /// Bytes one value occupies in the `.dat`.
    pub fn bytes_per_value(self) -> usize {
        match self {
            ValueType::Byte => 1,
            ValueType::Word => 2,
            ValueType::Int | ValueType::Float => 4,
        }
    }

    /// The spelling used in the `.xml` (`BYTE`, `WORD`, `INT`, `FLOAT`).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Byte => "BYTE",
            ValueType::Word => "WORD",
            ValueType::Int => "INT",
            ValueType::Float => "FLOAT",
        }
    }

    /// Parses an `.xml` value type, case-insensitively; `None` for anything else.
    pub fn parse(s: &str) -> Option<ValueType> {
        let s = s.trim();
        [ValueType::Byte, ValueType::Word, ValueType::Int, ValueType::Float]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Range traits of a 3D component: calibrated world bounds or uncalibrated sensor geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeTraits {
    /// `<worldrangetraits>`: calibrated, millimetres.
    World {
        /// `lower bound x`: x (mm) of the first column.
        lower_x: f64,
        /// `upper bound x`: x (mm) of the last column.
        upper_x: f64,
        /// `lower bound r`: height (mm) of raw WORD value 1.
        lower_r: f64,
        /// `upper bound r`: height (mm) of raw WORD value 65535.
        upper_r: f64,
    },
    /// `<sensorrangetraits>`: uncalibrated, sensor units.
    Sensor {
        /// `origin x`.
        origin_x: f64,
        /// `scale x`.
        scale_x: f64,
        /// `origin z`: sensor row = value x `scale z` + `origin z`.
        origin_z: f64,
        /// `scale z` (typically 0.0625 for Hi3D, negative with a reversed range axis).
        scale_z: f64,
        /// `fov x0` .. `fov x3`.
        fov_x: [f64; 4],
        /// `fov z0` .. `fov z3`.
        fov_z: [f64; 4],
    },
}

/// `<genistreamtraits>` (Ranger3 firmware 3.0 and later); wins over world/sensor traits for conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct GeniStreamTraits {
    /// `c axis range scale`: height mm = value x scale + offset.
    pub c_scale: f64,
    /// `c axis range offset`.
    pub c_offset: f64,
    /// `a axis range scale`: across the scan, mm per column.
    pub a_scale: f64,
    /// `a axis range offset`: x (mm) of column 0.
    pub a_offset: f64,
    /// `b axis range scale`: along the scan, mm per profile.
    pub b_scale: Option<f64>,
    /// `c axis range missing`: whether a missing-data value is defined.
    pub missing: Option<bool>,
    /// `c axis range missing value`: the raw value that means "no peak".
    pub missing_value: Option<f64>,
    /// `unit`, as written by the camera.
    pub unit: Option<String>,
}

/// Which name the intensity subcomponent carries (both mean the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntensityName {
    /// `Intensity` (Ranger E, older Ranger3 firmware).
    Intensity,
    /// `Reflectance` (Ranger3).
    Reflectance,
}

impl IntensityName {
    /// The subcomponent name in the `.xml`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntensityName::Intensity => "Intensity",
            IntensityName::Reflectance => "Reflectance",
        }
    }
}

/// Raw range values, row-major (`profiles` x `width`).
#[derive(Debug, Clone, PartialEq)]
pub enum RangeValues {
    /// `WORD` range (0 = missing).
    Word(Vec<u16>),
    /// `FLOAT` range, already millimetres when calibrated (0 = missing).
    Float(Vec<f32>),
}

impl RangeValues {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            RangeValues::Word(v) => v.len(),
            RangeValues::Float(v) => v.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value type these values are stored as.
    pub fn value_type(&self) -> ValueType {
        match self {
            RangeValues::Word(_) => ValueType::Word,
            RangeValues::Float(_) => ValueType::Float,
        }
    }
}

/// Per-profile mark data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkValues {
    /// Five i32 words per profile: encoder, status, sample timestamp, encoder-pulse timestamp, scan id.
    Extended(Vec<[i32; 5]>),
    /// Two i32 words per profile: encoder, status.
    Standard(Vec<[i32; 2]>),
}

impl MarkValues {
    /// Number of profiles this mark data covers.
    pub fn len(&self) -> usize {
        match self {
            MarkValues::Extended(v) => v.len(),
            MarkValues::Standard(v) => v.len(),
        }
    }

    /// True when there are no profiles.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// i32 words per profile (5 or 2).
    pub fn words(&self) -> usize {
        match self {
            MarkValues::Extended(_) => 5,
            MarkValues::Standard(_) => 2,
        }
    }
}

/// One complete capture, owned: what the writer takes and what [`crate::icon::Capture::to_data`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureData {
    /// How the `.dat` is laid out.
    pub layout: Layout,
    /// Columns per profile.
    pub width: usize,
    /// Number of profiles (rows).
    pub profiles: usize,
    /// Component name, e.g. `Ranger3Range` or `Hi3D 1`.
    pub component_name: String,
    /// Range plane, `profiles` x `width`.
    pub range: RangeValues,
    /// Optional BYTE intensity plane, `profiles` x `width`, and the name it is stored under.
    pub intensity: Option<(IntensityName, Vec<u8>)>,
    /// Optional BYTE scatter plane, `profiles` x `width`.
    pub scatter: Option<Vec<u8>>,
    /// Optional mark data, one entry per profile.
    pub mark: Option<MarkValues>,
    /// World (calibrated) or sensor (uncalibrated) traits; `None` writes neither.
    pub range_traits: Option<RangeTraits>,
    /// Optional GenIStream traits.
    pub genistream: Option<GeniStreamTraits>,
}
