//! SICK iCon captures (`NAME.xml` + `NAME.dat`): a zero-copy validating reader and an atomic writer.
//!
//! The format is described in `shared/spec/icon-format.md`. [`Capture::open`] memory-maps the `.dat`,
//! [`Capture::from_bytes`] takes it in memory; both validate the header against the data and hand out typed,
//! borrowed plane views. [`encode`] and [`write_pair`] produce captures (the simulator's training data).

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
