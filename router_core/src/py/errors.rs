//! One Python exception class per core error, all under `RouterError`; mapped once, here.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::error::CoreError;

create_exception!(_core, RouterError, PyException, "Base class of every llm-router core error.");
create_exception!(
    _core,
    InvalidConfigError,
    RouterError,
    "A config failed parsing or validation; the live one is unchanged."
);
create_exception!(_core, InvalidRequestError, RouterError, "A request field is invalid.");
create_exception!(_core, ModelError, RouterError, "A model file is missing or malformed.");
create_exception!(_core, InferenceError, RouterError, "Tokenisation or ONNX Runtime failed.");
create_exception!(
    _core,
    RateLimitedError,
    RouterError,
    "A tenant or Tier-3 limit refused the request: args = (message, rule, retry_after_s)."
);
create_exception!(_core, NoProviderError, RouterError, "No provider can serve the required tier.");
create_exception!(_core, SnapshotError, RouterError, "A cache snapshot could not be written or read.");
create_exception!(_core, NotConfiguredError, RouterError, "decide() before apply_config().");

pub fn to_py(err: CoreError) -> PyErr {
    let message = err.to_string();
    match err {
        CoreError::InvalidConfig { path, .. } => InvalidConfigError::new_err((message, path)),
        CoreError::InvalidRequest { field, .. } => InvalidRequestError::new_err((message, field)),
        CoreError::Model { .. } => ModelError::new_err(message),
        CoreError::Inference { .. } => InferenceError::new_err(message),
        CoreError::RateLimited { rule, retry_after } => {
            RateLimitedError::new_err((message, rule, retry_after.as_secs_f64()))
        }
        CoreError::NoProvider { .. } => NoProviderError::new_err(message),
        CoreError::Snapshot { .. } => SnapshotError::new_err(message),
        CoreError::NotConfigured => NotConfiguredError::new_err(message),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RouterError", py.get_type::<RouterError>())?;
    m.add("InvalidConfigError", py.get_type::<InvalidConfigError>())?;
    m.add("InvalidRequestError", py.get_type::<InvalidRequestError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("InferenceError", py.get_type::<InferenceError>())?;
    m.add("RateLimitedError", py.get_type::<RateLimitedError>())?;
    m.add("NoProviderError", py.get_type::<NoProviderError>())?;
    m.add("SnapshotError", py.get_type::<SnapshotError>())?;
    m.add("NotConfiguredError", py.get_type::<NotConfiguredError>())?;
    Ok(())
}
