//! Python view of the semantic-hit checks: the guard and the verifier on a pair of questions,
//! for `calibrate`, evaluation and the verifier's trainer.

use pyo3::prelude::*;

use crate::cache::{guard, verify};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(guard_refusal, m)?)?;
    m.add_function(wrap_pyfunction!(verifier_score, m)?)?;
    m.add_function(wrap_pyfunction!(pair_features, m)?)?;
    m.add("VERIFIER_DENSE", verify::DENSE.to_vec())?;
    Ok(())
}

/// The guard rule that refuses serving `cached_query`'s answer for `query`, or None.
#[pyfunction]
fn guard_refusal(query: &str, cached_query: &str) -> Option<&'static str> {
    guard::refusal(query, cached_query).map(guard::Refusal::as_str)
}

/// The shipped verifier's probability that `cached_query`'s answer fits `query`.
#[pyfunction]
fn verifier_score(query: &str, cached_query: &str, similarity: f32) -> f32 {
    verify::Verifier::shipped().score_texts(query, cached_query, similarity)
}

/// The verifier's inputs, in `VERIFIER_DENSE` order.
#[pyfunction]
fn pair_features(query: &str, cached_query: &str, similarity: f32) -> Vec<f32> {
    verify::features(&verify::Words::of(query), &verify::Words::of(cached_query), similarity)
}
