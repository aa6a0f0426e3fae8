//! Ingestion sources. Each source runs as a task under the root cancellation token and feeds one path:
//! parse -> features -> score -> store.

pub mod files;
pub mod inverters;
pub mod wheels;
