//! The PyO3 binding, `router_py._core`: mirrors the core one file per concept; nothing else imports pyo3.

mod config;
mod embed;
mod errors;
mod pair;
mod route;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    route::register(m)?;
    embed::register(m)?;
    pair::register(m)?;
    config::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
