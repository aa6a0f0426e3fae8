//! The Prognos service: CLI commands, the HTTP API, access control, wiring and shutdown.

pub mod alerting;
pub mod api_error;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod dashboard;
pub mod drift;
pub mod ingest;
pub mod model_ops;
pub mod retention;
pub mod routes;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use startup::Application;
