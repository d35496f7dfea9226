//! Python view of `route.rs`: `Router`, `Decision` and the small value types they carry.

use std::path::PathBuf;

use pyo3::prelude::*;

use super::errors::to_py;
use crate::breaker::{BreakerStatus, Transition};
use crate::cache::semantic::SemanticOptions;
use crate::cache::CachedAnswer;
use crate::embed::{EmbedderOptions, Variant};
use crate::route::{CacheStats, Candidate, Decision, RouteRequest, Router, RouterOptions, StageTimings};

#[pyclass(name = "CachedAnswer", module = "router_py._core", frozen, get_all)]
#[derive(Clone)]
pub struct PyCachedAnswer {
    tier: u8,
    provider: String,
    model: String,
    payload: String,
}

#[pymethods]
impl PyCachedAnswer {
    #[new]
    fn new(tier: u8, provider: String, model: String, payload: String) -> Self {
        Self { tier, provider, model, payload }
    }
}

impl From<CachedAnswer> for PyCachedAnswer {
    fn from(a: CachedAnswer) -> Self {
        Self { tier: a.tier, provider: a.provider, model: a.model, payload: a.payload }
    }
}

impl From<&PyCachedAnswer> for CachedAnswer {
    fn from(a: &PyCachedAnswer) -> Self {
        Self { tier: a.tier, provider: a.provider.clone(), model: a.model.clone(), payload: a.payload.clone() }
    }
}

#[pyclass(name = "Candidate", module = "router_py._core", frozen, get_all)]
pub struct PyCandidate {
    tier: u8,
    provider: String,
    model: String,
    region: String,
}

impl From<&Candidate> for PyCandidate {
    fn from(c: &Candidate) -> Self {
        Self { tier: c.tier, provider: c.provider.clone(), model: c.model.clone(), region: c.region.clone() }
    }
}

#[pyclass(name = "StageTimings", module = "router_py._core", frozen, get_all)]
pub struct PyStageTimings {
    limits_us: u32,
    exact_cache_us: u32,
    embed_us: u32,
    semantic_cache_us: u32,
    classify_us: u32,
    policy_us: u32,
    total_us: u32,
}

impl From<StageTimings> for PyStageTimings {
    fn from(s: StageTimings) -> Self {
        Self {
            limits_us: s.limits_us,
            exact_cache_us: s.exact_cache_us,
            embed_us: s.embed_us,
            semantic_cache_us: s.semantic_cache_us,
            classify_us: s.classify_us,
            policy_us: s.policy_us,
            total_us: s.total_us,
        }
    }
}

/// A routing decision. The Rust value (with the request's embedding) stays inside so
/// `Router.cache_put(decision, ...)` needs no second embedding pass.
#[pyclass(name = "Decision", module = "router_py._core", frozen)]
pub struct PyDecision {
    inner: Decision,
}

#[pymethods]
impl PyDecision {
    #[getter]
    fn tier(&self) -> u8 {
        self.inner.tier
    }
    #[getter]
    fn provider(&self) -> &str {
        &self.inner.provider
    }
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }
    #[getter]
    fn reason(&self) -> String {
        self.inner.reason.to_string()
    }
    #[getter]
    fn confidence(&self) -> f32 {
        self.inner.confidence
    }
    #[getter]
    fn scores(&self) -> [f32; 3] {
        self.inner.scores
    }
    #[getter]
    fn domain(&self) -> &str {
        &self.inner.domain
    }
    #[getter]
    fn policy_name(&self) -> &str {
        &self.inner.policy_name
    }
    #[getter]
    fn policy_version(&self) -> u64 {
        self.inner.policy_version
    }
    #[getter]
    fn estimated_cost_usd(&self) -> f64 {
        self.inner.estimated_cost_usd
    }
    #[getter]
    fn tier3_cost_usd(&self) -> f64 {
        self.inner.tier3_cost_usd
    }
    #[getter]
    fn saved_usd(&self) -> f64 {
        self.inner.saved_usd()
    }
    #[getter]
    fn input_tokens(&self) -> u32 {
        self.inner.input_tokens
    }
    #[getter]
    fn embedded_tokens(&self) -> u32 {
        self.inner.embedded_tokens
    }
    #[getter]
    fn candidates(&self) -> Vec<PyCandidate> {
        self.inner.candidates.iter().map(PyCandidate::from).collect()
    }
    #[getter]
    fn max_escalation_tier(&self) -> u8 {
        self.inner.max_escalation_tier
    }
    #[getter]
    fn cached(&self) -> Option<PyCachedAnswer> {
        self.inner.cached.clone().map(PyCachedAnswer::from)
    }
    #[getter]
    fn similarity(&self) -> Option<f32> {
        self.inner.similarity
    }
    #[getter]
    fn trail(&self) -> Vec<String> {
        self.inner.trail.clone()
    }
    #[getter]
    fn stages(&self) -> PyStageTimings {
        self.inner.stages.into()
    }
    fn __repr__(&self) -> String {
        format!(
            "Decision(tier={}, provider={:?}, reason={:?}, confidence={:.3})",
            self.inner.tier,
            self.inner.provider,
            self.inner.reason.to_string(),
            self.inner.confidence
        )
    }
}

#[pyclass(name = "BreakerStatus", module = "router_py._core", frozen, get_all)]
pub struct PyBreakerStatus {
    provider: String,
    state: String,
    since_unix_ms: u64,
    consecutive_failures: u32,
}

impl From<BreakerStatus> for PyBreakerStatus {
    fn from(s: BreakerStatus) -> Self {
        Self {
            provider: s.provider,
            state: s.state.to_string(),
            since_unix_ms: crate::route::unix_ms_of(s.since),
            consecutive_failures: s.consecutive_failures,
        }
    }
}

#[pyclass(name = "Transition", module = "router_py._core", frozen, get_all)]
pub struct PyTransition {
    provider: String,
    from_state: String,
    to_state: String,
}

impl From<Transition> for PyTransition {
    fn from(t: Transition) -> Self {
        Self { provider: t.provider, from_state: t.from.to_string(), to_state: t.to.to_string() }
    }
}

#[pyclass(name = "PolicyInfo", module = "router_py._core", frozen, get_all)]
pub struct PyPolicyInfo {
    name: String,
    version: u64,
}

#[pyclass(name = "CacheStats", module = "router_py._core", frozen, get_all)]
pub struct PyCacheStats {
    semantic_tenants: usize,
    semantic_entries: usize,
    semantic_bytes: usize,
    semantic_evicted_tenants: u64,
    exact_entries: u64,
    exact_bytes: u64,
    limiter_buckets: usize,
}

impl From<CacheStats> for PyCacheStats {
    fn from(s: CacheStats) -> Self {
        Self {
            semantic_tenants: s.semantic.tenants,
            semantic_entries: s.semantic.entries,
            semantic_bytes: s.semantic.bytes,
            semantic_evicted_tenants: s.semantic.evicted_tenants,
            exact_entries: s.exact_entries,
            exact_bytes: s.exact_bytes,
            limiter_buckets: s.limiter_buckets,
        }
    }
}

#[pyclass(name = "Router", module = "router_py._core", frozen)]
pub struct PyRouter {
    inner: Router,
}

#[pymethods]
impl PyRouter {
    #[new]
    #[pyo3(signature = (model_dir, *, ort_library=None, variant="default", sessions=2, intra_threads=1,
        exact_max_entries=100_000, exact_max_bytes=268_435_456, semantic_max_entries_per_tenant=100_000,
        snapshot_dir=None, semantic_max_tenants=10_000, semantic_max_bytes=536_870_912, limiter_max_buckets=100_000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model_dir: PathBuf,
        ort_library: Option<PathBuf>,
        variant: &str,
        sessions: usize,
        intra_threads: usize,
        exact_max_entries: u64,
        exact_max_bytes: u64,
        semantic_max_entries_per_tenant: usize,
        snapshot_dir: Option<PathBuf>,
        semantic_max_tenants: usize,
        semantic_max_bytes: usize,
        limiter_max_buckets: usize,
    ) -> PyResult<Self> {
        let variant = parse_variant(variant)?;
        let opts = RouterOptions {
            model_dir,
            ort_library,
            embedder: EmbedderOptions { variant, sessions, intra_threads },
            exact_max_entries,
            exact_max_bytes,
            semantic: SemanticOptions {
                max_entries_per_tenant: semantic_max_entries_per_tenant,
                max_tenants: semantic_max_tenants,
                max_bytes: semantic_max_bytes,
                ..SemanticOptions::default()
            },
            snapshot_dir,
            limiter_max_buckets,
        };
        let inner = py.detach(|| Router::new(&opts)).map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Validate and swap in a config (JSON of the RouterConfig schema); the old one stays on error.
    fn apply_config(&self, py: Python<'_>, config_json: &str) -> PyResult<PyPolicyInfo> {
        let compiled = py.detach(|| self.inner.apply_config(config_json)).map_err(to_py)?;
        Ok(PyPolicyInfo { name: compiled.name().to_string(), version: compiled.version() })
    }

    fn policy(&self) -> Option<PyPolicyInfo> {
        self.inner.policy().map(|p| PyPolicyInfo { name: p.name().to_string(), version: p.version() })
    }

    /// The whole decision runs with the GIL released, so asyncio servers call it from a thread.
    /// `text` is the question; `context` everything else that changes the answer.
    #[pyo3(signature = (tenant, text, *, context="", user=None, region=None, min_tier=None, max_tier=None,
        pinned_model=None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments, one per request field
    fn decide(
        &self,
        py: Python<'_>,
        tenant: String,
        text: String,
        context: &str,
        user: Option<String>,
        region: Option<String>,
        min_tier: Option<u8>,
        max_tier: Option<u8>,
        pinned_model: Option<String>,
    ) -> PyResult<PyDecision> {
        let context = context.to_owned();
        let request = RouteRequest { tenant, user, text, context, region, min_tier, max_tier, pinned_model };
        let inner = py.detach(|| self.inner.decide(&request)).map_err(to_py)?;
        Ok(PyDecision { inner })
    }

    fn cache_put(&self, py: Python<'_>, decision: &PyDecision, answer: &PyCachedAnswer) -> PyResult<()> {
        let answer = CachedAnswer::from(answer);
        py.detach(|| self.inner.cache_put(&decision.inner, answer)).map_err(to_py)
    }

    /// Preload answers under precomputed embeddings (`embeddings`: n x dim little-endian f32).
    fn warm(
        &self,
        py: Python<'_>,
        tenant: &str,
        queries: Vec<String>,
        embeddings: &[u8],
        answers: Vec<PyRef<'_, PyCachedAnswer>>,
    ) -> PyResult<usize> {
        let dim = self.inner.embedder().dim();
        if queries.len() != answers.len() || embeddings.len() != queries.len() * dim * 4 {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "warm: {} queries, {} answers and {} embedding bytes do not line up (dim {dim})",
                queries.len(),
                answers.len(),
                embeddings.len()
            )));
        }
        let entries: Vec<(String, Vec<f32>, CachedAnswer)> = queries
            .into_iter()
            .zip(embeddings.chunks_exact(dim * 4))
            .zip(answers.iter())
            .map(|((query, raw), answer)| (query, f32s(raw), CachedAnswer::from(&**answer)))
            .collect();
        py.detach(|| self.inner.warm(tenant, &entries)).map_err(to_py)
    }

    fn record_outcome(&self, provider: &str, success: bool) -> Option<PyTransition> {
        self.inner.record_outcome(provider, success).map(PyTransition::from)
    }

    /// `(allowed, transition)`: call before each provider attempt; a refusal means skip it.
    fn admit(&self, provider: &str) -> (bool, Option<PyTransition>) {
        let admission = self.inner.admit(provider);
        (admission.allowed, admission.transition.map(PyTransition::from))
    }

    #[pyo3(signature = (tier, tenant, *, region=None))]
    fn tier_candidates(&self, tier: u8, tenant: &str, region: Option<&str>) -> PyResult<Vec<PyCandidate>> {
        let found = self.inner.tier_candidates(tier, tenant, region).map_err(to_py)?;
        Ok(found.iter().map(PyCandidate::from).collect())
    }

    fn breaker_states(&self) -> Vec<PyBreakerStatus> {
        self.inner.breaker_states().into_iter().map(PyBreakerStatus::from).collect()
    }

    fn breaker_transitions(&self) -> u64 {
        self.inner.breaker_transitions()
    }

    fn snapshot(&self, py: Python<'_>, dir: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.snapshot(&dir)).map_err(to_py)
    }

    fn expire_caches(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.expire_caches())
    }

    /// Set the time the caches read (Unix ms), or the system clock again with None: tests move
    /// time past a TTL instead of sleeping through it.
    #[pyo3(signature = (now_ms))]
    fn set_clock_ms(&self, now_ms: Option<u64>) {
        self.inner.set_clock_ms(now_ms);
    }

    fn cache_stats(&self, py: Python<'_>) -> PyCacheStats {
        py.detach(|| self.inner.cache_stats()).into()
    }

    fn domains(&self) -> Vec<String> {
        self.inner.classifier().metadata().domains.clone()
    }

    /// Tokens the router counts for `text` (what decisions price).
    fn count_tokens(&self, py: Python<'_>, text: &str) -> PyResult<usize> {
        py.detach(|| self.inner.embedder().encode(text, 128)).map(|(_, total)| total).map_err(to_py)
    }

    fn embedder_variant(&self) -> String {
        self.inner.embedder().variant().to_string()
    }
}

fn f32s(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

pub(super) fn parse_variant(name: &str) -> PyResult<Variant> {
    match name {
        "default" => Ok(Variant::Default),
        "fp32" => Ok(Variant::Fp32),
        "int8" => Ok(Variant::Int8),
        "int8_vnni" => Ok(Variant::Int8Vnni),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "variant must be default, fp32, int8 or int8_vnni, not {other:?}"
        ))),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRouter>()?;
    m.add_class::<PyDecision>()?;
    m.add_class::<PyCachedAnswer>()?;
    m.add_class::<PyCandidate>()?;
    m.add_class::<PyStageTimings>()?;
    m.add_class::<PyBreakerStatus>()?;
    m.add_class::<PyTransition>()?;
    m.add_class::<PyPolicyInfo>()?;
    m.add_class::<PyCacheStats>()?;
    Ok(())
}
