//! ONNX Runtime scoring: model cards, the model contract, the registry on disk, and the scoring workers.
//!
//! A model is `models/<name>/<version>/model.onnx` plus its `card.toml`. [`Model::load`] checks the graph
//! against the card, warms it up, and [`ModelHandle::spawn`] hands it to a worker thread that owns the session.

pub mod card;
pub mod contract;
pub mod distribution;
pub mod drift;
pub mod error;
pub mod explain;
pub mod model;
pub mod registry;
pub mod runtime;
pub mod set;
pub mod shadow;
pub mod worker;

pub use card::{InputDtype, ModelCard, OutputKind};
pub use distribution::{FeatureDistribution, TrainingDistribution};
pub use drift::{DriftOptions, DriftReport, DriftWindow, FeatureDrift};
pub use error::{Result, ScoringError};
pub use explain::Driver;
pub use model::{Model, SessionOptions, CARD_FILE, MODEL_FILE};
pub use registry::{scan, serve, serve_staged, version_order, RegistryEntry};
pub use runtime::{RuntimeLocator, DYLIB_NAME};
pub use set::{Activation, ModelSet, ServedVersion};
pub use shadow::{Shadow, ShadowReport, WouldAlert};
pub use worker::{FeatureBatch, ModelHandle, Scores, WorkerOptions};
