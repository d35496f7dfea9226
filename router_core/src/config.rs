//! The router config as written by users (RoutingPolicy + ProviderTier specs), parsed strictly.
//!
//! Field names are camelCase so a custom resource's `spec` is exactly one of these structs.
//! Unknown fields are refused: a typo must fail loudly, not silently fall back to a default.
//! Validation into the form the hot path uses lives in `policy::compile`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One complete router configuration: a policy and the provider tiers it routes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouterConfig {
    pub policy: PolicySpec,
    pub tiers: Vec<TierSpec>,
}

/// `RoutingPolicy.spec` plus the name/version the config source stamps on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpec {
    pub name: String,
    /// Monotonic per policy; part of the exact-cache key so a policy change never serves stale answers.
    pub version: u64,
    #[serde(default)]
    pub classifier: ClassifierSpec,
    #[serde(default)]
    pub cache: CacheSpec,
    #[serde(default)]
    pub overrides: OverridesSpec,
    #[serde(default)]
    pub limits: LimitsSpec,
    #[serde(default)]
    pub cascade: CascadeSpec,
    /// Output tokens assumed when estimating a decision's cost before the call is made.
    #[serde(default = "default_expected_output_tokens")]
    pub expected_output_tokens: u32,
    /// The decision log holds prompt text only when this is set.
    #[serde(default)]
    pub log_prompts: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClassifierSpec {
    /// Cheapest tier `t` whose risk of being too weak, P(ideal tier > t), is at most this.
    #[serde(default = "default_underroute_risk")]
    pub max_underroute_risk: f32,
    /// Below this calibrated confidence the decision moves one tier up.
    #[serde(default = "default_confidence_threshold")]
    pub confidence_threshold: f32,
    /// Tokens embedded per request (head and tail of long prompts), bounding decision latency.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CacheSpec {
    #[serde(default)]
    pub exact: ExactCacheSpec,
    #[serde(default)]
    pub semantic: SemanticCacheSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExactCacheSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_ttl_seconds")]
    pub ttl_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SemanticCacheSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_ttl_seconds")]
    pub ttl_seconds: u64,
    /// Cosine similarity a cached query must reach to be served.
    #[serde(default = "default_similarity_threshold")]
    pub similarity_threshold: f32,
    /// Score the hit verifier must give the pair (`cache::verify`); 0 turns the verifier off
    /// and leaves the lexical guard as the only check beside similarity.
    #[serde(default = "default_verifier_threshold")]
    pub verifier_threshold: f32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OverridesSpec {
    #[serde(default)]
    pub domains: Vec<DomainOverride>,
    #[serde(default)]
    pub tenants: Vec<TenantOverride>,
    #[serde(default)]
    pub users: Vec<UserOverride>,
    #[serde(default)]
    pub residency: Vec<ResidencyRule>,
}

/// Requests the classifier assigns to `domain` get at least `min_tier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DomainOverride {
    pub name: String,
    pub domain: String,
    pub min_tier: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantOverride {
    pub name: String,
    pub tenant: String,
    #[serde(default)]
    pub min_tier: Option<u8>,
    #[serde(default)]
    pub max_tier: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserOverride {
    pub name: String,
    pub user: String,
    #[serde(default)]
    pub min_tier: Option<u8>,
    #[serde(default)]
    pub max_tier: Option<u8>,
}

/// Data residency: requests matching tenant and/or request region may only go to providers
/// whose region is listed. A rule with neither `tenant` nor `requestRegion` matches everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResidencyRule {
    pub name: String,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub request_region: Option<String>,
    pub allowed_regions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsSpec {
    #[serde(default)]
    pub tenants: Vec<RateLimit>,
    /// Separate, usually tighter, budget for the expensive tier.
    #[serde(default)]
    pub tier3: Vec<Tier3Limit>,
}

/// A token bucket per tenant. `tenant: "*"` gives every tenant its own bucket of this size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimit {
    pub name: String,
    pub tenant: String,
    pub requests_per_second: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tier3Limit {
    pub name: String,
    pub tenant: String,
    pub requests_per_second: f64,
    pub burst: u32,
    #[serde(default)]
    pub on_exceed: OnExceed,
}

/// What a Tier-3 limit does to a request over budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnExceed {
    /// Serve it from tier 2 instead (reason `limit:<rule>`).
    #[default]
    Downgrade,
    /// Refuse it with a rate-limit error.
    Reject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CascadeSpec {
    /// How many tiers an answer that fails the acceptance gate may escalate.
    #[serde(default = "default_cascade_depth")]
    pub max_depth: u8,
    #[serde(default)]
    pub gate: GateSpec,
}

/// Acceptance checks applied to a provider's answer (evaluated by the service, carried here
/// so one schema holds the whole policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GateSpec {
    #[serde(default = "default_true")]
    pub reject_refusals: bool,
    #[serde(default = "default_true")]
    pub require_complete: bool,
    #[serde(default)]
    pub min_length: u32,
    #[serde(default = "default_true")]
    pub validate_json_schema: bool,
    #[serde(default)]
    pub min_verifier_score: Option<f32>,
}

/// `ProviderTier.spec`: the providers that serve one tier, in failover order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TierSpec {
    pub tier: u8,
    pub name: String,
    #[serde(default = "default_tier_timeout_ms")]
    pub timeout_ms: u32,
    pub providers: Vec<ProviderSpec>,
    #[serde(default)]
    pub breaker: BreakerSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderSpec {
    pub name: String,
    #[serde(default)]
    pub api: ProviderApi,
    pub model: String,
    pub base_url: String,
    pub region: String,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    /// Overrides the tier's timeout for this provider.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    /// Where the API key is: `env:VARIABLE` or `secret:NAME/KEY` (a mounted Secret); never the key.
    #[serde(default)]
    pub api_key_ref: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProviderApi {
    #[default]
    Openai,
    Anthropic,
}

/// Circuit breaker: opens after consecutive failures, probes after `openSeconds`,
/// closes only after `successThreshold` good probes (hysteresis against flapping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BreakerSpec {
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    #[serde(default = "default_open_seconds")]
    pub open_seconds: f64,
    #[serde(default = "default_half_open_probes")]
    pub half_open_probes: u32,
    #[serde(default = "default_success_threshold")]
    pub success_threshold: u32,
}

impl Default for ClassifierSpec {
    fn default() -> Self {
        Self {
            max_underroute_risk: default_underroute_risk(),
            confidence_threshold: default_confidence_threshold(),
            max_tokens: default_max_tokens(),
        }
    }
}

impl Default for ExactCacheSpec {
    fn default() -> Self {
        Self { enabled: true, ttl_seconds: default_ttl_seconds() }
    }
}

impl Default for SemanticCacheSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl_seconds: default_ttl_seconds(),
            similarity_threshold: default_similarity_threshold(),
            verifier_threshold: default_verifier_threshold(),
        }
    }
}

impl Default for CascadeSpec {
    fn default() -> Self {
        Self { max_depth: default_cascade_depth(), gate: GateSpec::default() }
    }
}

impl Default for GateSpec {
    fn default() -> Self {
        Self {
            reject_refusals: true,
            require_complete: true,
            min_length: 0,
            validate_json_schema: true,
            min_verifier_score: None,
        }
    }
}

impl Default for BreakerSpec {
    fn default() -> Self {
        Self {
            failure_threshold: default_failure_threshold(),
            open_seconds: default_open_seconds(),
            half_open_probes: default_half_open_probes(),
            success_threshold: default_success_threshold(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_expected_output_tokens() -> u32 {
    256
}
fn default_underroute_risk() -> f32 {
    0.5
}
fn default_confidence_threshold() -> f32 {
    0.5
}
fn default_max_tokens() -> u32 {
    128
}
fn default_ttl_seconds() -> u64 {
    3600
}
fn default_similarity_threshold() -> f32 {
    0.81
}
fn default_verifier_threshold() -> f32 {
    0.91
}
fn default_cascade_depth() -> u8 {
    1
}
fn default_tier_timeout_ms() -> u32 {
    30_000
}
fn default_failure_threshold() -> u32 {
    5
}
fn default_open_seconds() -> f64 {
    30.0
}
fn default_half_open_probes() -> u32 {
    1
}
fn default_success_threshold() -> u32 {
    2
}

/// JSON Schema of `RouterConfig`: the one description of the config that the Python models are
/// checked against (and that CRD schemas are generated from).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RouterConfig)).unwrap_or_default()
}
