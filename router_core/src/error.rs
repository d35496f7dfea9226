//! The one error type of the core; the binding maps each variant to its own Python exception.

use std::path::PathBuf;
use std::time::Duration;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A config that failed parsing or validation; `path` locates the offending field.
    #[error("invalid config at {path}: {message}")]
    InvalidConfig { path: String, message: String },

    /// A request the router cannot decide on (empty text, bad hint...).
    #[error("invalid request field {field}: {message}")]
    InvalidRequest { field: String, message: String },

    /// A model file or asset is missing or malformed.
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },

    /// ONNX Runtime or the tokenizer failed while running a model.
    #[error("inference failed in {stage}: {message}")]
    Inference { stage: &'static str, message: String },

    /// A tenant or Tier-3 limit refused the request.
    #[error("rate limited by rule {rule}; retry after {retry_after:?}")]
    RateLimited { rule: String, retry_after: Duration },

    /// Every provider that could serve the required tier is unavailable (breakers open or
    /// excluded by residency rules).
    #[error("no provider available: {message}")]
    NoProvider { message: String },

    /// Cache snapshot or restore failed.
    #[error("cache snapshot {path}: {message}")]
    Snapshot { path: PathBuf, message: String },

    #[error("not configured: call apply_config first")]
    NotConfigured,
}

impl CoreError {
    pub fn invalid_config(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig { path: path.into(), message: message.into() }
    }

    pub fn inference(stage: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Inference { stage, message: err.to_string() }
    }

    pub fn model(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Self::Model { path: path.into(), message: err.to_string() }
    }
}
