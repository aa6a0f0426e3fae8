//! Domain types and the configuration schema shared by every Prognos crate.

pub mod config;

pub use config::{
    AuthSettings, ConfigError, LogFormat, LogSettings, ModelSettings, Role, ServerSettings, Settings, TokenEntry,
};
