//! The CLI commands other than `serve`.

pub mod ingest;
pub mod models;
pub mod score_csv;
pub mod simulate;
pub mod token;
