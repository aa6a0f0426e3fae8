//! SICK iCon captures (`NAME.xml` + `NAME.dat`): a zero-copy validating reader and an atomic writer.
//!
//! The format is described in `shared/spec/icon-format.md`. [`Capture::open`] memory-maps the `.dat`,
//! [`Capture::from_bytes`] takes it in memory; both validate the header against the data and hand out typed,
//! borrowed plane views. [`encode`] and [`write_pair`] produce captures (the simulator's training data).
//!
//! ```
//! use prognos_formats::icon::{encode, Capture, CaptureData, HeightUnits, Layout, RangeTraits, RangeValues};
//!
//! let data = CaptureData {
//!     layout: Layout::Subcomponent,
//!     width: 3,
//!     profiles: 1,
//!     component_name: "Ranger3Range".into(),
//!     range: RangeValues::Word(vec![0, 1, 65535]),
//!     intensity: None,
//!     scatter: None,
//!     mark: None,
//!     range_traits: Some(RangeTraits::World { lower_x: 0.0, upper_x: 2.0, lower_r: 10.0, upper_r: 20.0 }),
//!     genistream: None,
//! };
//! let (xml, dat) = encode(&data)?;
//! let cap = Capture::from_bytes(&xml, dat)?;
//! let conv = cap.height_conversion();
//! assert_eq!(conv.units, HeightUnits::Millimetres);
//! let heights: Vec<Option<f32>> = cap.range().row_raw(0).unwrap().iter().map(|v| conv.to_height(v)).collect();
//! assert_eq!(heights[0], None); // 0 = no laser peak
//! assert!((heights[2].unwrap() - 20.0).abs() < 1e-4);
//! assert_eq!(cap.column_x_mm(1), Some(1.0));
//! # Ok::<(), prognos_formats::icon::IconError>(())
//! ```

mod conversion;
mod error;
mod header;
mod plane;
mod reader;
mod types;
mod views;
mod writer;
mod xml;

pub use conversion::{HeightConversion, HeightUnits};
pub use error::IconError;
pub use header::{
    Component, Header, Subcomponent, SubcomponentKind, MAX_COMPONENT_HEIGHT, MAX_LINE_SIZE, MAX_SUBCOMPONENTS,
    MAX_WIDTH, MAX_XML_LEN,
};
pub use plane::{LeValue, Plane, Row, RowIter, Rows};
pub use reader::Capture;
pub use types::{
    CaptureData, GeniStreamTraits, IntensityName, Layout, MarkValues, RangeTraits, RangeValues, ValueType,
};
pub use views::{AnyPlane, MarkKind, MarkPlane, RangePlane, RawRow, RawRowIter};
pub use writer::{encode, write_pair};
