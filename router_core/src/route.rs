//! The request path, top to bottom: limits -> exact cache -> embed -> classify -> semantic cache -> policy -> providers.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;

use crate::breaker::{Admission, BreakerBoard, BreakerStatus, Outcome, Transition};
use crate::cache::exact::{normalize, ExactCache};
use crate::cache::semantic::{HitRule, Question, SemanticCache, SemanticOptions, SemanticStats};
use crate::cache::{context_digest, CachedAnswer};
use crate::classify::Classifier;
use crate::config::CacheSpec;
use crate::config::OnExceed;
use crate::embed::{Embedder, EmbedderOptions, Variant};
use crate::error::{CoreError, Result};
use crate::policy::{
    allowed_regions, candidates, choose_tier, compile, parse_config, select_providers, tier_cap, validate_hints,
    CompiledPolicy, CompiledProvider, Limiter, PolicyInput, Reason,
};

/// One routing question.
#[derive(Debug, Clone, Default)]
pub struct RouteRequest {
    pub tenant: String,
    pub user: Option<String>,
    /// The question (the conversation's last user message): what is embedded, classified and
    /// compared by the semantic cache's guard.
    pub text: String,
    /// A canonical serialisation of everything else that changes the answer (earlier turns,
    /// system prompt, response schema, sampling parameters); empty for a question asked on its
    /// own. Cached answers are shared only between requests with identical contexts, and its
    /// tokens are counted as input (the whole conversation is paid for).
    pub context: String,
    pub region: Option<String>,
    pub min_tier: Option<u8>,
    pub max_tier: Option<u8>,
    /// A model (or provider name) the caller pinned: a cached answer is served only if it
    /// came from it.
    pub pinned_model: Option<String>,
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
    /// The exact cache's text: see `exact_text`.
    exact: String,
    question: String,
    context: u64,
    policy_version: u64,
    embedding: Option<Arc<[f32]>>,
    /// The tier the policy chose before the Tier-3 limit; `None` without a policy decision
    /// (`warm`). An answer below it (the limit downgraded the request) is filed only in the
    /// semantic cache, whose hits are checked against the policy's tier again.
    unlimited_tier: Option<u8>,
}

impl CacheKey {
    fn new(
        policy: &CompiledPolicy,
        tenant: &str,
        question: &str,
        context: &str,
        hints: (Option<u8>, Option<u8>),
        user: Option<&str>,
    ) -> Self {
        let context = context_digest(context);
        Self {
            tenant: tenant.to_owned(),
            exact: exact_text(policy, context, question, hints, user),
            question: question.to_owned(),
            context,
            policy_version: policy.version(),
            embedding: None,
            unlimited_tier: None,
        }
    }

    fn question(&self) -> Question<'_> {
        Question { text: &self.question, context: self.context }
    }
}

/// The exact cache serves without running the classifier, so its key holds everything that
/// decides the policy's tier for a text: the context, the request's tier hints and the user's
/// override rule (tenant and policy version are key fields of their own). The Tier-3 limit is
/// the one input left out; it is checked at each hit, and answers it downgraded are not
/// filed here (`CacheKey::unlimited_tier`).
fn exact_text(
    policy: &CompiledPolicy,
    context: u64,
    question: &str,
    (min_tier, max_tier): (Option<u8>, Option<u8>),
    user: Option<&str>,
) -> String {
    let user_rule = user.and_then(|u| policy.user_override(u)).map_or("", |bounds| bounds.rule.as_str());
    let facets = context_digest(&format!("{context:016x}|{min_tier:?}|{max_tier:?}|{user_rule}"));
    format!("{facets:016x} {}", normalize(question))
}

/// The tiers a cached answer may come from for one request.
struct HitBounds {
    /// The lowest tier: the policy's choice for the request (semantic hits), or the lowest its
    /// hints and overrides allow (exact hits, whose key already fixes the policy's choice).
    floor: u8,
    /// Names the floor in the trail.
    floor_source: &'static str,
    /// The highest tier the hints and overrides allow.
    cap: u8,
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
    /// Rate-limit buckets held for each kind of limit (`Limiter::with_max_buckets`).
    pub limiter_max_buckets: usize,
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
            limiter_max_buckets: crate::policy::limiter::DEFAULT_MAX_BUCKETS,
        }
    }
}

/// Cache and limiter occupancy (`Router::cache_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub semantic: SemanticStats,
    pub exact_entries: u64,
    /// Bytes charged against the exact cache's budget.
    pub exact_bytes: u64,
    pub limiter_buckets: usize,
}

pub struct Router {
    embedder: Embedder,
    classifier: Classifier,
    policy: ArcSwapOption<CompiledPolicy>,
    exact: ExactCache,
    semantic: SemanticCache,
    breakers: BreakerBoard,
    limiter: Limiter,
    clock: CacheClock,
}

/// Where the caches read the time: the system clock, or a time set by `Router::set_clock_ms`,
/// so that expiry is tested by moving time rather than by waiting for it.
#[derive(Default)]
struct CacheClock {
    set_ms: AtomicU64, // 0: the system clock
}

impl CacheClock {
    fn now_ms(&self) -> u64 {
        match self.set_ms.load(Ordering::Relaxed) {
            0 => now_ms(),
            set => set,
        }
    }
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
            limiter: Limiter::with_max_buckets(opts.limiter_max_buckets),
            clock: CacheClock::default(),
        })
    }

    /// The time both caches read from now on (Unix milliseconds, at least 1), or the system
    /// clock again with None: for tests of expiry. Breakers and limits keep their own clocks.
    pub fn set_clock_ms(&self, now_ms: Option<u64>) {
        self.clock.set_ms.store(now_ms.map_or(0, |ms| ms.max(1)), Ordering::Relaxed);
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
        let hints = (request.min_tier, request.max_tier);
        let mut key =
            CacheKey::new(policy, &request.tenant, &request.text, &request.context, hints, request.user.as_deref());
        // A cached answer is a candidate, not a verdict: each hit passes the same tier, pin,
        // limit and region rules as a miss, and one refused falls through to the next stage
        // with the reason kept for the trail of whatever serves the request.
        let mut refused = Vec::new();
        let stage = Instant::now();
        if spec.cache.exact.enabled {
            if let Some(answer) = self.exact.get(&key.tenant, key.policy_version, &key.exact, self.clock.now_ms()) {
                match self.hit_refusal(policy, request, &answer, &exact_bounds(policy, request), Instant::now()) {
                    None => {
                        stages.exact_cache_us = micros(stage);
                        let tokens = estimate_tokens(&request.text).saturating_add(estimate_tokens(&request.context));
                        let mut hit = cache_hit(policy, answer, Reason::CacheExact, None, tokens, 0, key);
                        hit.trail = refused;
                        return Ok(hit);
                    }
                    Some(why) => refused.push(format!("cache_exact hit refused: {why}")),
                }
            }
        }
        stages.exact_cache_us = micros(stage);

        let stage = Instant::now();
        let max_tokens = spec.classifier.max_tokens as usize;
        let embedding = self.embedder.embed(&request.text, max_tokens)?;
        // Only the question is embedded; the context is tokenised for the count alone.
        let context_tokens =
            if request.context.is_empty() { 0 } else { self.embedder.encode(&request.context, max_tokens)?.1 };
        stages.embed_us = micros(stage);
        let vector: Arc<[f32]> = embedding.vector.into();
        key.embedding = Some(Arc::clone(&vector));
        let tokens = u32::try_from(embedding.total_tokens.saturating_add(context_tokens)).unwrap_or(u32::MAX);
        let embedded = u32::try_from(embedding.embedded_tokens).unwrap_or(u32::MAX);

        // Classified before the semantic lookup: a hit is checked against the tier the policy
        // would choose for this request.
        let stage = Instant::now();
        let class = self.classifier.classify(&vector)?;
        stages.classify_us = micros(stage);
        let input = policy_input(request, class.scores, class.confidence, &class.domain);

        let stage = Instant::now();
        if spec.cache.semantic.enabled {
            let semantic = &spec.cache.semantic;
            let rule = HitRule { similarity: semantic.similarity_threshold, verifier: semantic.verifier_threshold };
            let bounds = HitBounds {
                floor: choose_tier(policy, &input).tier,
                floor_source: "policy tier",
                cap: tier_cap(policy, &input),
            };
            let now = Instant::now();
            let accept = |answer: &CachedAnswer| match self.hit_refusal(policy, request, answer, &bounds, now) {
                None => true,
                Some(why) => {
                    refused.push(format!("cache_semantic hit refused: {why}"));
                    false
                }
            };
            let found =
                self.semantic.lookup_question(&key.tenant, &vector, key.question(), rule, self.clock.now_ms(), accept);
            if let Some(found) = found {
                stages.semantic_cache_us = micros(stage);
                let similarity = Some(found.similarity);
                let mut hit = cache_hit(policy, found.answer, Reason::CacheSemantic, similarity, tokens, embedded, key);
                hit.trail = refused;
                return Ok(hit);
            }
        }
        stages.semantic_cache_us = micros(stage);

        let stage = Instant::now();
        let mut decision = self.apply_policy(policy, &input, tokens, embedded, key)?;
        decision.trail.splice(0..0, refused);
        stages.policy_us = micros(stage);
        Ok(decision)
    }

    /// Why the policy would not serve `answer` to `request`, or `None` when it may: the pin,
    /// the tier window (with the Tier-3 limit applied as `limit_tier` would), and the region
    /// of the provider that answered, looked up in the live policy.
    fn hit_refusal(
        &self,
        policy: &CompiledPolicy,
        request: &RouteRequest,
        answer: &CachedAnswer,
        bounds: &HitBounds,
        now: Instant,
    ) -> Option<String> {
        let tier = answer.tier;
        let Some(provider) = policy.provider(&answer.provider) else {
            return Some(format!("provider {} is not in the policy", answer.provider));
        };
        // A pin names a model or a provider, as the service's catalog matches it; the
        // configured model, since the one a provider reports may carry a version suffix.
        if let Some(pin) = request.pinned_model.as_deref() {
            if provider.spec.model != pin && provider.spec.name != pin {
                return Some(format!("pinned to {pin}, answer from {}", provider.spec.name));
            }
        }
        // Checked, not spent: see `Limiter::tier3_open`.
        let open = self.limiter.tier3_open(policy, &request.tenant, now);
        let exhausted = if open { None } else { policy.tier3_limit(&request.tenant) };
        let floor = match exhausted {
            Some(rule) if bounds.floor == 3 => match rule.on_exceed {
                OnExceed::Downgrade => 2,
                OnExceed::Reject => return Some(format!("tier-3 limit {} exhausted", rule.name)),
            },
            _ => bounds.floor,
        };
        if tier < floor {
            return Some(format!("tier {tier} < {} {floor}", bounds.floor_source));
        }
        if tier > bounds.cap {
            return Some(format!("tier {tier} > max tier {}", bounds.cap));
        }
        if let (3, Some(rule)) = (tier, exhausted) {
            return Some(format!("tier-3 limit {} exhausted", rule.name));
        }
        let residency = allowed_regions(policy, &request.tenant, request.region.as_deref());
        match residency {
            Some(r) if !r.allows(&provider.spec.region) => {
                Some(format!("region {} excluded by residency rule {}", provider.spec.region, r.label()))
            }
            _ => None,
        }
    }

    fn apply_policy(
        &self,
        policy: &CompiledPolicy,
        input: &PolicyInput<'_>,
        tokens: u32,
        embedded: u32,
        mut key: CacheKey,
    ) -> Result<Decision> {
        let now = Instant::now();
        let wanted = choose_tier(policy, input);
        key.unlimited_tier = Some(wanted.tier);
        let mut choice = self.limiter.limit_tier(policy, input.tenant, wanted, now)?;
        let regions = allowed_regions(policy, input.tenant, input.region);
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
        let escalation_cap = max_escalation_tier(policy, input, selection.tier);
        Ok(Decision {
            tier: selection.tier,
            provider: first.spec.name.clone(),
            model: first.spec.model.clone(),
            reason: choice.reason,
            confidence: input.confidence,
            scores: input.scores,
            domain: input.domain.to_owned(),
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
        self.file_answer(&policy.config().policy.cache, &decision.key, answer, self.clock.now_ms())
    }

    /// Preload answers under precomputed embeddings (a warm start from an FAQ or a previous
    /// replica's export): both caches, under the live policy's version and TTLs.
    pub fn warm(&self, tenant: &str, entries: &[(String, Vec<f32>, CachedAnswer)]) -> Result<usize> {
        let policy = self.policy.load_full().ok_or(CoreError::NotConfigured)?;
        let now = self.clock.now_ms();
        for (query, vector, answer) in entries {
            let mut key = CacheKey::new(&policy, tenant, query, "", (None, None), None);
            key.embedding = Some(Arc::from(vector.as_slice()));
            self.file_answer(&policy.config().policy.cache, &key, answer.clone(), now)?;
        }
        Ok(entries.len())
    }

    fn file_answer(&self, spec: &CacheSpec, key: &CacheKey, answer: CachedAnswer, now: u64) -> Result<()> {
        if spec.exact.enabled && key.unlimited_tier.is_none_or(|tier| answer.tier >= tier) {
            let ttl = Duration::from_secs(spec.exact.ttl_seconds);
            self.exact.put(&key.tenant, key.policy_version, &key.exact, answer.clone(), ttl, now);
        }
        if let (true, Some(vector)) = (spec.semantic.enabled, &key.embedding) {
            let ttl = Duration::from_secs(spec.semantic.ttl_seconds);
            self.semantic.insert_question(&key.tenant, vector, key.question(), answer, ttl, now)?;
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
            return Err(CoreError::InvalidRequest {
                field: "tier".into(),
                message: format!("{tier} is not 1, 2 or 3"),
            });
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
        self.semantic.snapshot(dir, self.clock.now_ms())
    }

    /// The periodic sweep: drops expired semantic entries (returns how many) and full
    /// rate-limit buckets. The exact cache sweeps itself.
    pub fn expire_caches(&self) -> usize {
        self.limiter.prune(Instant::now());
        self.semantic.expire(self.clock.now_ms())
    }

    /// What the caches and the limiter hold, for /metrics.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            semantic: self.semantic.stats(),
            exact_entries: self.exact.entry_count(),
            exact_bytes: self.exact.weighted_size(),
            limiter_buckets: self.limiter.len(),
        }
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

fn policy_input<'a>(request: &'a RouteRequest, scores: [f32; 3], confidence: f32, domain: &'a str) -> PolicyInput<'a> {
    PolicyInput {
        tenant: &request.tenant,
        user: request.user.as_deref(),
        region: request.region.as_deref(),
        min_tier: request.min_tier,
        max_tier: request.max_tier,
        scores,
        confidence,
        domain,
    }
}

/// An exact hit's key fixes the policy's choice as it was when the answer was filed (see
/// `exact_text`), so only the window of the request's hints and overrides is checked: its
/// floor is what the policy would choose for the easiest, surest classification. The domain
/// is unknown without the classifier; its override was applied at filing.
fn exact_bounds(policy: &CompiledPolicy, request: &RouteRequest) -> HitBounds {
    let input = policy_input(request, [1.0, 0.0, 0.0], 1.0, "");
    HitBounds { floor: choose_tier(policy, &input).tier, floor_source: "min tier", cap: tier_cap(policy, &input) }
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
