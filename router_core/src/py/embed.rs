//! Python view of `embed`: the sentence embedder on its own, for training, evaluation and benches.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::errors::to_py;
use super::route::parse_variant;
use crate::embed::{Embedder, EmbedderOptions};

#[pyclass(name = "Embedder", module = "router_py._core", frozen)]
pub struct PyEmbedder {
    inner: Embedder,
}

#[pymethods]
impl PyEmbedder {
    /// `dir` is the `embedder/` model folder.
    #[new]
    #[pyo3(signature = (dir, *, ort_library=None, variant="default", sessions=1, intra_threads=1))]
    fn new(
        py: Python<'_>,
        dir: PathBuf,
        ort_library: Option<PathBuf>,
        variant: &str,
        sessions: usize,
        intra_threads: usize,
    ) -> PyResult<Self> {
        let opts = EmbedderOptions { variant: parse_variant(variant)?, sessions, intra_threads };
        let inner = py
            .detach(|| crate::onnx::init_runtime(ort_library.as_deref()).and_then(|()| Embedder::load(&dir, &opts)))
            .map_err(to_py)?;
        Ok(Self { inner })
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    #[getter]
    fn variant(&self) -> &str {
        self.inner.variant()
    }

    /// Token ids as the router would embed them (head and tail kept past `max_tokens`).
    fn encode(&self, py: Python<'_>, text: &str, max_tokens: usize) -> PyResult<Vec<i64>> {
        py.detach(|| self.inner.encode(text, max_tokens)).map(|(ids, _)| ids).map_err(to_py)
    }

    /// The bare forward pass on token ids: the floor under every decision.
    fn forward(&self, py: Python<'_>, ids: Vec<i64>) -> PyResult<Vec<f32>> {
        py.detach(|| self.inner.forward(&ids)).map_err(to_py)
    }

    fn embed(&self, py: Python<'_>, text: &str, max_tokens: usize) -> PyResult<Vec<f32>> {
        py.detach(|| self.inner.embed(text, max_tokens)).map(|e| e.vector).map_err(to_py)
    }

    /// Embeddings of many texts as little-endian f32 bytes, row-major (n x dim), for numpy.
    #[pyo3(signature = (texts, max_tokens=128, batch_size=32))]
    fn embed_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        max_tokens: usize,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let rows = py
            .detach(|| {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                self.inner.embed_batch(&refs, max_tokens, batch_size)
            })
            .map_err(to_py)?;
        let bytes: Vec<u8> = rows.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
        Ok(PyBytes::new(py, &bytes))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEmbedder>()
}
