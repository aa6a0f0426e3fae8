//! Domain types and the configuration schema shared by every Prognos crate.

pub mod config;
pub mod pipeline;
pub mod reading;

pub use config::{
    AuthSettings, ConfigError, LogFormat, LogSettings, ModelSettings, PipelineSettings, Role, ServerSettings, Settings,
    StoreSettings, TokenEntry,
};
pub use pipeline::{AfterProcessing, CameraSource, PipelineError, PipelineFile, PipelineKind, RfidLog};
pub use reading::{Metric, Reading, UnknownMetric};
