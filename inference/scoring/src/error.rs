//! Typed errors of the scoring layer.

use std::path::PathBuf;

/// Everything that can go wrong between a model folder on disk and a health score.
#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error(
        "ONNX Runtime could not be loaded: {reason}. Looked in: {tried}. \
         Install it with `scripts/setup-python.sh` (it puts onnxruntime==1.31.1 into .venv), \
         or point `models.ort_dylib_path` / ORT_DYLIB_PATH at libonnxruntime.so.1.31.1"
    )]
    RuntimeMissing {
        /// Why the last candidate failed.
        reason: String,
        /// Every location that was tried, in order.
        tried: String,
    },
    /// The model card is missing, unreadable or inconsistent.
    #[error("model card {path}: {reason}")]
    Card {
        /// The card's path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The ONNX graph does not match its card or the pipeline's feature schema.
    #[error("model {model} refused: {detail}")]
    Mismatch {
        /// `name@version`.
        model: String,
        /// The exact mismatch.
        detail: String,
    },
    /// ONNX Runtime could not load the graph.
    #[error("model {model}: ONNX Runtime could not load {path}: {reason}")]
    Load {
        /// `name@version`.
        model: String,
        /// The `.onnx` file.
        path: PathBuf,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// ONNX Runtime failed while running the graph.
    #[error("model {model}: inference failed: {reason}")]
    Inference {
        /// `name@version`.
        model: String,
        /// ONNX Runtime's message, or what was wrong with its output.
        reason: String,
    },
    /// The input batch does not fit the model.
    #[error("{0}")]
    Input(String),
    /// No model by that name (and version) is served.
    #[error("no model named {0}")]
    UnknownModel(String),
    /// The model's queue is full: the caller should back off.
    #[error("model {0} is overloaded; retry later")]
    Overloaded(String),
    /// The worker that owns the session has stopped.
    #[error("model {0} is shutting down")]
    WorkerGone(String),
    /// Reading the model registry failed.
    #[error("model registry {path}: {reason}")]
    Registry {
        /// The folder.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// Result alias for the scoring layer.
pub type Result<T, E = ScoringError> = std::result::Result<T, E>;
