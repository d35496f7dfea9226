//! The request path, top to bottom: limits -> exact cache -> embed -> semantic cache -> classify -> policy -> providers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;

use crate::breaker::{Admission, BreakerBoard, BreakerStatus, Outcome, Transition};
use crate::cache::exact::{normalize, ExactCache};
use crate::cache::semantic::{SemanticCache, SemanticOptions};
use crate::cache::CachedAnswer;
use crate::classify::{Classification, Classifier};
use crate::config::CacheSpec;
use crate::embed::{Embedder, EmbedderOptions, Variant};
use crate::error::{CoreError, Result};
use crate::policy::{
    allowed_regions, candidates, choose_tier, compile, parse_config, select_providers, tier_cap, validate_hints,
    CompiledPolicy, CompiledProvider, Limiter, PolicyInput, Reason,
};

/// One routing question. The text is what the classifier and caches see (the service joins the
/// conversation's messages into it).
#[derive(Debug, Clone, Default)]
pub struct RouteRequest {
    pub tenant: String,
    pub user: Option<String>,
    pub text: String,
    pub region: Option<String>,
    pub min_tier: Option<u8>,
    pub max_tier: Option<u8>,
}

/// Microseconds spent in each stage; zero for stages a cache hit skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    pub limits_us: u32,
    pub exact_cache_us: u32,
    pub embed_us: u32,
    pub semantic_cache_us: u32,
    pub classify_us: u32,
    pub policy_us: u32,
    pub total_us: u32,
}

/// A provider the service may call, in failover order.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub tier: u8,
    pub provider: String,
    pub model: String,
    pub region: String,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub tier: u8,
    pub provider: String,
    pub model: String,
    pub reason: Reason,
    pub confidence: f32,
    pub scores: [f32; 3],
    pub domain: String,
    pub policy_name: String,
    pub policy_version: u64,
    pub estimated_cost_usd: f64,
    /// What the same tokens would cost on tier 3, the baseline the saving is counted against.
    pub tier3_cost_usd: f64,
    pub input_tokens: u32,
    pub embedded_tokens: u32,
    /// Failover order within the decided tier (first entry is `provider`).
    pub candidates: Vec<Candidate>,
    /// Highest tier a failed acceptance gate may escalate to (cascade depth and tenant caps applied).
    pub max_escalation_tier: u8,
    pub cached: Option<CachedAnswer>,
    pub similarity: Option<f32>,
    /// Rules applied on the way, for the decision log.
    pub trail: Vec<String>,
    pub stages: StageTimings,
    key: CacheKey,
}

/// Everything `cache_put` needs to file an accepted answer under this decision's request.
#[derive(Debug, Clone)]
struct CacheKey {
    tenant: String,
    normalized: String,
    query: String,
    policy_version: u64,
    embedding: Option<Arc<[f32]>>,
}

impl Decision {
    pub fn saved_usd(&self) -> f64 {
        self.tier3_cost_usd - self.estimated_cost_usd
    }
}

#[derive(Debug, Clone)]
pub struct RouterOptions {
    pub model_dir: PathBuf,
    pub ort_library: Option<PathBuf>,
    pub embedder: EmbedderOptions,
    pub exact_max_entries: u64,
    pub exact_max_bytes: u64,
    pub semantic: SemanticOptions,
    /// Restore the semantic cache from here at start, so a restarted replica is warm.
    pub snapshot_dir: Option<PathBuf>,
}

impl RouterOptions {
    pub fn new(model_dir: impl Into<PathBuf>) -> Self {
        Self {
            model_dir: model_dir.into(),
            ort_library: None,
            embedder: EmbedderOptions { variant: Variant::Default, sessions: 2, intra_threads: 1 },
            exact_max_entries: 100_000,
            exact_max_bytes: 256 << 20,
            semantic: SemanticOptions::default(),
            snapshot_dir: None,
        }
    }
}

pub struct Router {
    embedder: Embedder,
    classifier: Classifier,
    policy: ArcSwapOption<CompiledPolicy>,
    exact: ExactCache,
    semantic: SemanticCache,
    breakers: BreakerBoard,
    limiter: Limiter,
}

impl Router {
    pub fn new(opts: &RouterOptions) -> Result<Self> {
        crate::onnx::init_runtime(opts.ort_library.as_deref())?;
        let embedder = Embedder::load(&opts.model_dir.join("embedder"), &opts.embedder)?;
        let classifier = Classifier::load(&opts.model_dir.join("classifier"), opts.embedder.sessions)?;
        if classifier.metadata().dim != embedder.dim() {
            return Err(CoreError::model(&opts.model_dir, "classifier and embedder dimensions differ"));
        }
        let semantic = match &opts.snapshot_dir {
            Some(dir) if dir.exists() => SemanticCache::restore(dir, opts.semantic.clone(), now_ms())?,
            _ => SemanticCache::new(opts.semantic.clone()),
        };
        Ok(Self {
            embedder,
            classifier,
            policy: ArcSwapOption::empty(),
            exact: ExactCache::new(opts.exact_max_entries, opts.exact_max_bytes),
            semantic,
            breakers: BreakerBoard::new(),
            limiter: Limiter::new(),
        })
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// Validate `json` completely, then swap it in atomically; on error the live policy stays.
    pub fn apply_config(&self, json: &str) -> Result<Arc<CompiledPolicy>> {
        let config = parse_config(json)?;
        let domains: Vec<&str> = self.classifier.metadata().domains.iter().map(String::as_str).collect();
        let compiled = Arc::new(compile(config, &domains)?);
        self.breakers.reconcile(&compiled, Instant::now());
        self.policy.store(Some(Arc::clone(&compiled)));
        Ok(compiled)
    }

    pub fn policy(&self) -> Option<Arc<CompiledPolicy>> {
        self.policy.load_full()
    }

    pub fn decide(&self, request: &RouteRequest) -> Result<Decision> {
        let started = Instant::now();
        validate(request)?;
        let policy = self.policy.load_full().ok_or(CoreError::NotConfigured)?;
        let mut stages = StageTimings::default();
        self.limiter.check_tenant(&policy, &request.tenant, started)?;
        stages.limits_us = micros(started);
        let mut decision = self.decide_with(&policy, request, &mut stages)?;
        stages.total_us = micros(started);
        decision.stages = stages;
        Ok(decision)
    }

    fn decide_with(
        &self,
        policy: &CompiledPolicy,
        request: &RouteRequest,
        stages: &mut StageTimings,
    ) -> Result<Decision> {
        let spec = &policy.config().policy;
        let mut key = CacheKey {
            tenant: request.tenant.clone(),
            normalized: normalize(&request.text),
            query: request.text.clone(),
            policy_version: policy.version(),
            embedding: None,
        };
        let stage = Instant::now();
        if spec.cache.exact.enabled {
            if let Some(answer) = self.exact.get(&key.tenant, key.policy_version, &key.normalized) {
                stages.exact_cache_us = micros(stage);
                let tokens = estimate_tokens(&request.text);
                return Ok(cache_hit(policy, answer, Reason::CacheExact, None, tokens, 0, key));
            }
        }
        stages.exact_cache_us = micros(stage);

        let stage = Instant::now();
        let embedding = self.embedder.embed(&request.text, spec.classifier.max_tokens as usize)?;
        stages.embed_us = micros(stage);
        let vector: Arc<[f32]> = embedding.vector.into();
        key.embedding = Some(Arc::clone(&vector));
        let tokens = u32::try_from(embedding.total_tokens).unwrap_or(u32::MAX);
        let embedded = u32::try_from(embedding.embedded_tokens).unwrap_or(u32::MAX);

        let stage = Instant::now();
        if spec.cache.semantic.enabled {
            let threshold = spec.cache.semantic.similarity_threshold;
            if let Some(hit) = self.semantic.lookup(&request.tenant, &vector, &request.text, threshold, now_ms()) {
                stages.semantic_cache_us = micros(stage);
                return Ok(cache_hit(
                    policy,
                    hit.answer,
                    Reason::CacheSemantic,
                    Some(hit.similarity),
                    tokens,
                    embedded,
                    key,
                ));
            }
        }
        stages.semantic_cache_us = micros(stage);

        let stage = Instant::now();
        let class = self.classifier.classify(&vector)?;
        stages.classify_us = micros(stage);

        let stage = Instant::now();
        let decision = self.apply_policy(policy, request, class, tokens, embedded, key)?;
        stages.policy_us = micros(stage);
        Ok(decision)
    }

    fn apply_policy(
        &self,
        policy: &CompiledPolicy,
        request: &RouteRequest,
        class: Classification,
        tokens: u32,
        embedded: u32,
        key: CacheKey,
    ) -> Result<Decision> {
        let input = PolicyInput {
            tenant: &request.tenant,
            user: request.user.as_deref(),
            region: request.region.as_deref(),
            min_tier: request.min_tier,
            max_tier: request.max_tier,
            scores: class.scores,
            confidence: class.confidence,
            domain: &class.domain,
        };
        let now = Instant::now();
        let mut choice = self.limiter.limit_tier(policy, &request.tenant, choose_tier(policy, &input), now)?;
        let regions = allowed_regions(policy, &request.tenant, request.region.as_deref());
        let selection = select_providers(policy, choice.tier, regions.as_ref(), &self.breakers, now)?;
        if selection.tier != choice.tier {
            choice.trail.push(format!("no healthy provider in tier {}, moved up to {}", choice.tier, selection.tier));
        }
        let first = selection
            .providers
            .first()
            .ok_or_else(|| CoreError::NoProvider { message: format!("tier {} has no candidate", selection.tier) })?;
        let expected_output = u64::from(policy.config().policy.expected_output_tokens);
        let estimated = first.price.cost(u64::from(tokens), expected_output);
        let tier3 = tier3_cost(policy, tokens);
        let escalation_cap = max_escalation_tier(policy, &input, selection.tier);
        Ok(Decision {
            tier: selection.tier,
            provider: first.spec.name.clone(),
            model: first.spec.model.clone(),
            reason: choice.reason,
            confidence: class.confidence,
            scores: class.scores,
            domain: class.domain.clone(),
            policy_name: policy.name().to_string(),
            policy_version: policy.version(),
            estimated_cost_usd: estimated,
            tier3_cost_usd: tier3,
            input_tokens: tokens,
            embedded_tokens: embedded,
            candidates: selection.providers.iter().map(|p| candidate(selection.tier, p)).collect(),
            max_escalation_tier: escalation_cap,
            cached: None,
            similarity: None,
            trail: choice.trail,
            stages: StageTimings::default(),
            key,
        })
    }

    /// File an answer the service accepted for this decision in both caches.
    pub fn cache_put(&self, decision: &Decision, answer: CachedAnswer) -> Result<()> {
        let policy = self.policy.load_full().ok_or(CoreError::NotConfigured)?;
        self.file_answer(&policy.config().policy.cache, &decision.key, answer, now_ms())
    }

    /// Preload answers under precomputed embeddings (a warm start from an FAQ or a previous
    /// replica's export): both caches, under the live policy's version and TTLs.
    pub fn warm(&self, tenant: &str, entries: &[(String, Vec<f32>, CachedAnswer)]) -> Result<usize> {
        let policy = self.policy.load_full().ok_or(CoreError::NotConfigured)?;
        let now = now_ms();
        for (query, vector, answer) in entries {
            let key = CacheKey {
                tenant: tenant.to_owned(),
                normalized: normalize(query),
                query: query.clone(),
                policy_version: policy.version(),
                embedding: Some(Arc::from(vector.as_slice())),
            };
            self.file_answer(&policy.config().policy.cache, &key, answer.clone(), now)?;
        }
        Ok(entries.len())
    }

    fn file_answer(&self, spec: &CacheSpec, key: &CacheKey, answer: CachedAnswer, now: u64) -> Result<()> {
        if spec.exact.enabled {
            let ttl = Duration::from_secs(spec.exact.ttl_seconds);
            self.exact.put(&key.tenant, key.policy_version, &key.normalized, answer.clone(), ttl);
        }
        if let (true, Some(vector)) = (spec.semantic.enabled, &key.embedding) {
            let ttl = Duration::from_secs(spec.semantic.ttl_seconds);
            self.semantic.insert(&key.tenant, vector, &key.query, answer, ttl, now)?;
        }
        Ok(())
    }

    /// Feed a provider call's outcome to its breaker; returns the state change, if any, to log.
    pub fn record_outcome(&self, provider: &str, success: bool) -> Option<Transition> {
        let outcome = if success { Outcome::Success } else { Outcome::Failure };
        self.breakers.record(provider, outcome, Instant::now())
    }

    /// Ask the breaker before each provider call: an open breaker refuses, and a half-open one
    /// admits only as many concurrent probes as the tier allows.
    pub fn admit(&self, provider: &str) -> Admission {
        self.breakers.allow(provider, Instant::now())
    }

    /// The providers a cascade step may call at `tier` for this tenant and region, in failover
    /// order: residency and open breakers applied, never a different tier.
    pub fn tier_candidates(&self, tier: u8, tenant: &str, region: Option<&str>) -> Result<Vec<Candidate>> {
        if !(1..=3).contains(&tier) {
            return Err(CoreError::InvalidRequest { field: "tier".into(), message: format!("{tier} is not 1, 2 or 3") });
        }
        let policy = self.policy.load_full().ok_or(CoreError::NotConfigured)?;
        let regions = allowed_regions(&policy, tenant, region);
        let found = candidates(&policy, tier, regions.as_ref(), &self.breakers, Instant::now());
        Ok(found.into_iter().map(|p| candidate(tier, p)).collect())
    }

    pub fn breaker_states(&self) -> Vec<BreakerStatus> {
        self.breakers.states(Instant::now())
    }

    pub fn breaker_transitions(&self) -> u64 {
        self.breakers.transitions_total()
    }

    pub fn snapshot(&self, dir: &Path) -> Result<()> {
        self.semantic.snapshot(dir)
    }

    pub fn expire_caches(&self) -> usize {
        self.semantic.expire(now_ms())
    }
}

fn validate(request: &RouteRequest) -> Result<()> {
    let invalid =
        |field: &str, message: &str| CoreError::InvalidRequest { field: field.into(), message: message.into() };
    if request.tenant.trim().is_empty() {
        return Err(invalid("tenant", "must not be empty"));
    }
    if request.text.trim().is_empty() {
        return Err(invalid("text", "must not be empty"));
    }
    validate_hints(request.min_tier, request.max_tier)
}

fn cache_hit(
    policy: &CompiledPolicy,
    answer: CachedAnswer,
    reason: Reason,
    similarity: Option<f32>,
    tokens: u32,
    embedded: u32,
    key: CacheKey,
) -> Decision {
    let mut scores = [0.0; 3];
    if let Some(slot) = scores.get_mut(usize::from(answer.tier.clamp(1, 3)) - 1) {
        *slot = 1.0;
    }
    Decision {
        tier: answer.tier,
        provider: answer.provider.clone(),
        model: answer.model.clone(),
        reason,
        confidence: similarity.unwrap_or(1.0),
        scores,
        domain: String::new(),
        policy_name: policy.name().to_string(),
        policy_version: policy.version(),
        estimated_cost_usd: 0.0,
        tier3_cost_usd: tier3_cost(policy, tokens),
        input_tokens: tokens,
        embedded_tokens: embedded,
        candidates: Vec::new(),
        max_escalation_tier: answer.tier,
        cached: Some(answer),
        similarity,
        trail: Vec::new(),
        stages: StageTimings::default(),
        key,
    }
}

fn candidate(tier: u8, provider: &CompiledProvider) -> Candidate {
    let spec = &provider.spec;
    Candidate { tier, provider: spec.name.clone(), model: spec.model.clone(), region: spec.region.clone() }
}

/// The saving is counted against the first tier-3 provider: what "always use the best model" costs.
fn tier3_cost(policy: &CompiledPolicy, input_tokens: u32) -> f64 {
    let expected_output = u64::from(policy.config().policy.expected_output_tokens);
    policy.tier(3).price().cost(u64::from(input_tokens), expected_output)
}

fn max_escalation_tier(policy: &CompiledPolicy, input: &PolicyInput<'_>, tier: u8) -> u8 {
    let depth = policy.config().policy.cascade.max_depth;
    let cap = tier_cap(policy, input);
    tier.saturating_add(depth).min(cap).max(tier)
}

/// Cache hits skip tokenisation; four characters a token is the usual English estimate.
fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
}

fn micros(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// Wall-clock time of a monotonic instant in the past, for status reports.
pub fn unix_ms_of(instant: Instant) -> u64 {
    now_ms().saturating_sub(u64::try_from(instant.elapsed().as_millis()).unwrap_or(u64::MAX))
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
