//! Python view of the config contract: its JSON Schema (what `scripts/gen_config.py` generates
//! the Python models from) and the rules Python must apply exactly as the core does.

use pyo3::prelude::*;

use crate::config::{self, KeyRef};
use crate::error::CoreError;
use crate::policy::Price;

use super::errors::to_py;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(config_json_schema, m)?)?;
    m.add_function(wrap_pyfunction!(parse_key_ref, m)?)?;
    m.add_function(wrap_pyfunction!(provider_timeout_ms, m)?)?;
    m.add_function(wrap_pyfunction!(cost_usd, m)?)?;
    m.add_class::<PyKeyRef>()?;
    Ok(())
}

/// JSON Schema of the router config, generated from the Rust types.
#[pyfunction]
fn config_json_schema() -> String {
    config::json_schema().to_string()
}

/// A parsed `apiKeyRef`: `scheme` "env" (`name` is the variable, `key` None) or "secret"
/// (`name` is the Secret, `key` its key).
#[pyclass(name = "KeyRef", frozen, get_all, module = "router_py._core")]
struct PyKeyRef {
    scheme: &'static str,
    name: String,
    key: Option<String>,
}

/// The one parser of `apiKeyRef` (`config::KeyRef`); InvalidConfigError says what is wrong.
#[pyfunction]
fn parse_key_ref(text: &str) -> PyResult<PyKeyRef> {
    match KeyRef::parse(text) {
        Ok(KeyRef::Env(var)) => Ok(PyKeyRef { scheme: "env", name: var.to_owned(), key: None }),
        Ok(KeyRef::Secret { name, key }) => {
            Ok(PyKeyRef { scheme: "secret", name: name.to_owned(), key: Some(key.to_owned()) })
        }
        Err(why) => Err(to_py(CoreError::invalid_config("apiKeyRef", why))),
    }
}

/// Milliseconds a call to a provider may take: its own `timeoutMs`, else its tier's.
#[pyfunction]
#[pyo3(signature = (provider_timeout_ms, tier_timeout_ms))]
fn provider_timeout_ms(provider_timeout_ms: Option<u32>, tier_timeout_ms: u32) -> u32 {
    config::provider_timeout_ms(provider_timeout_ms, tier_timeout_ms)
}

/// USD for these tokens at these prices (USD per million tokens).
#[pyfunction]
fn cost_usd(input_tokens: u64, output_tokens: u64, input_per_mtok: f64, output_per_mtok: f64) -> f64 {
    Price { input_per_mtok, output_per_mtok }.cost(input_tokens, output_tokens)
}
