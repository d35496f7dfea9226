//! The router config as written by users (RoutingPolicy + ProviderTier specs), parsed strictly.
//!
//! Field names are camelCase so a custom resource's `spec` is exactly one of these structs.
//! Unknown fields are refused: a typo must fail loudly, not silently fall back to a default.
//!
//! This file is the one statement of the config contract: types, defaults (`#[serde(default)]`),
//! descriptions (doc comments), numeric ranges (the `Range` constants below) and the grammar of
//! key references. The exported JSON Schema (`json_schema`) carries all of them;
//! `scripts/gen_config.py` turns it into the Python models (`router_py/config/schema.py`), from
//! which `scripts/gen_crds.py` makes the CRDs. `policy::compile` checks the same constants, plus the rules a schema
//! cannot state (cross-field, cross-object), and builds the form the hot path uses.

use std::fmt;

use schemars::transform::Transform;
use schemars::{JsonSchema, Schema};
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
    #[schemars(transform = Bounded(POLICY_VERSION))]
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
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
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
    #[schemars(transform = Bounded(UNIT))]
    pub max_underroute_risk: f32,
    /// Below this calibrated confidence the decision moves one tier up.
    #[serde(default = "default_confidence_threshold")]
    #[schemars(transform = Bounded(UNIT))]
    pub confidence_threshold: f32,
    /// Tokens embedded per request (head and tail of long prompts), bounding decision latency.
    #[serde(default = "default_max_tokens")]
    #[schemars(transform = Bounded(CLASSIFIER_TOKENS))]
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
    /// Seconds an entry is served; set `enabled: false` to turn the cache off.
    #[serde(default = "default_ttl_seconds")]
    #[schemars(transform = Bounded(CACHE_TTL_SECONDS))]
    pub ttl_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SemanticCacheSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Seconds an entry is served; set `enabled: false` to turn the cache off.
    #[serde(default = "default_ttl_seconds")]
    #[schemars(transform = Bounded(CACHE_TTL_SECONDS))]
    pub ttl_seconds: u64,
    /// Cosine similarity a cached query must reach to be served.
    #[serde(default = "default_similarity_threshold")]
    #[schemars(transform = Bounded(SIMILARITY))]
    pub similarity_threshold: f32,
    /// Score the hit verifier must give the pair (`cache::verify`); 0 turns the verifier off
    /// and leaves the lexical guard as the only check beside similarity.
    #[serde(default = "default_verifier_threshold")]
    #[schemars(transform = Bounded(VERIFIER_THRESHOLD))]
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

/// Requests the classifier assigns to `domain` get at least `minTier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DomainOverride {
    pub name: String,
    pub domain: String,
    #[schemars(transform = Bounded(TIER))]
    pub min_tier: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantOverride {
    pub name: String,
    pub tenant: String,
    #[serde(default)]
    #[schemars(transform = Bounded(TIER))]
    pub min_tier: Option<u8>,
    #[serde(default)]
    #[schemars(transform = Bounded(TIER))]
    pub max_tier: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserOverride {
    pub name: String,
    pub user: String,
    #[serde(default)]
    #[schemars(transform = Bounded(TIER))]
    pub min_tier: Option<u8>,
    #[serde(default)]
    #[schemars(transform = Bounded(TIER))]
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
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
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
    #[schemars(transform = Bounded(POSITIVE))]
    pub requests_per_second: f64,
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tier3Limit {
    pub name: String,
    pub tenant: String,
    #[schemars(transform = Bounded(POSITIVE))]
    pub requests_per_second: f64,
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
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
    #[schemars(transform = Bounded(CASCADE_DEPTH))]
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
    #[schemars(transform = Bounded(UNIT))]
    pub min_verifier_score: Option<f32>,
}

/// `ProviderTier.spec`: the providers that serve one tier, in failover order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TierSpec {
    #[schemars(transform = Bounded(TIER))]
    pub tier: u8,
    pub name: String,
    /// Milliseconds a call to one of the providers may take, unless the provider sets its own.
    #[serde(default = "default_tier_timeout_ms")]
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
    pub timeout_ms: u32,
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
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
    /// An `http://` or `https://` URL with a host.
    #[schemars(transform = Pattern(HTTP_URL_PATTERN))]
    pub base_url: String,
    pub region: String,
    /// USD per million input tokens.
    #[schemars(transform = Bounded(NON_NEGATIVE))]
    pub price_input_per_mtok: f64,
    /// USD per million output tokens.
    #[schemars(transform = Bounded(NON_NEGATIVE))]
    pub price_output_per_mtok: f64,
    /// Overrides the tier's timeout for this provider.
    #[serde(default)]
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
    pub timeout_ms: Option<u32>,
    /// Where the API key is: `env:VARIABLE` or `secret:NAME/KEY` (a mounted Secret); never the key.
    #[serde(default)]
    #[schemars(transform = Pattern(KEY_REF_PATTERN))]
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
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
    pub failure_threshold: u32,
    #[serde(default = "default_open_seconds")]
    #[schemars(transform = Bounded(POSITIVE))]
    pub open_seconds: f64,
    #[serde(default = "default_half_open_probes")]
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
    pub half_open_probes: u32,
    #[serde(default = "default_success_threshold")]
    #[schemars(transform = Bounded(AT_LEAST_ONE))]
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
    0.971
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

/// JSON Schema of `RouterConfig`, with every default, range, pattern and description: what
/// `scripts/gen_config.py` generates the Python models and the CRDs from.
pub fn json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(RouterConfig)).unwrap_or_default();
    cap_integer_widths(&mut schema);
    schema
}

/// An unsigned field's width as its `maximum` where no range says more: schemars writes only
/// `format: uint32`, which the generated models and the CRDs ignore, so a count past the width
/// would pass them and fail in the core as a parse error instead of a range one. A 64-bit width
/// is capped at 2^53 - 1: the apiserver holds schema bounds as float64 and compares them as int64,
/// so `u64::MAX` there wrapped to a negative maximum that refused every value.
fn cap_integer_widths(node: &mut serde_json::Value) {
    match node {
        serde_json::Value::Object(map) => {
            let width = match map.get("format").and_then(serde_json::Value::as_str) {
                Some("uint8") => Some(u64::from(u8::MAX)),
                Some("uint16") => Some(u64::from(u16::MAX)),
                Some("uint32") => Some(u64::from(u32::MAX)),
                Some("uint64") => Some(MAX_SAFE_INTEGER),
                _ => None,
            };
            if let Some(max) = width.filter(|_| !map.contains_key("maximum") && !map.contains_key("exclusiveMaximum")) {
                map.insert("maximum".to_owned(), max.into());
            }
            map.values_mut().for_each(cap_integer_widths);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(cap_integer_widths),
        _ => {}
    }
}

// --- Ranges ---------------------------------------------------------------------------------

/// The interval a numeric field must lie in (on a list: its length). Each bound of the config is
/// one of the constants below, read twice: the schema gets it as `minimum`, `exclusiveMinimum`,
/// ... (through `Bounded`, a schemars `Transform`), and `policy::compile` checks values with
/// `contains`. So the JSON Schema, the Python models and the CRDs generated from it say exactly
/// what the core enforces, and moving a bound here moves it everywhere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    min: Option<Bound>,
    max: Option<Bound>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    value: f64,
    exclusive: bool,
}

impl Range {
    /// `[min, max]`
    pub const fn closed(min: f64, max: f64) -> Self {
        Self { min: Some(Bound { value: min, exclusive: false }), max: Some(Bound { value: max, exclusive: false }) }
    }

    /// `(min, max]`
    pub const fn left_open(min: f64, max: f64) -> Self {
        Self { min: Some(Bound { value: min, exclusive: true }), max: Some(Bound { value: max, exclusive: false }) }
    }

    /// `[min, max)`
    pub const fn right_open(min: f64, max: f64) -> Self {
        Self { min: Some(Bound { value: min, exclusive: false }), max: Some(Bound { value: max, exclusive: true }) }
    }

    /// `>= min`
    pub const fn at_least(min: f64) -> Self {
        Self { min: Some(Bound { value: min, exclusive: false }), max: None }
    }

    /// `> min`
    pub const fn above(min: f64) -> Self {
        Self { min: Some(Bound { value: min, exclusive: true }), max: None }
    }

    /// Finite and within the bounds (NaN and infinities never are).
    pub fn contains(&self, value: f64) -> bool {
        let low = self.min.is_none_or(|b| if b.exclusive { value > b.value } else { value >= b.value });
        let high = self.max.is_none_or(|b| if b.exclusive { value < b.value } else { value <= b.value });
        value.is_finite() && low && high
    }
}

/// `in [8, 512]`, `in (0, 1]`, `>= 1`, `> 0`: what `must be ...` says.
impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => {
                let (open, close) = (if lo.exclusive { '(' } else { '[' }, if hi.exclusive { ')' } else { ']' });
                write!(f, "in {open}{}, {}{close}", lo.value, hi.value)
            }
            (Some(lo), None) => write!(f, "{} {}", if lo.exclusive { ">" } else { ">=" }, lo.value),
            (None, Some(hi)) => write!(f, "{} {}", if hi.exclusive { "<" } else { "<=" }, hi.value),
            (None, None) => f.write_str("a finite number"),
        }
    }
}

/// A field's `Range`, as a schemars transform: `#[schemars(transform = Bounded(TIER))]`.
#[derive(Debug, Clone, Copy)]
pub struct Bounded(pub Range);

impl Transform for Bounded {
    fn transform(&mut self, schema: &mut Schema) {
        let Self(range) = *self;
        // `type` is one name, or a list of them for an `Option` (`["integer", "null"]`).
        let has_type = |name: &str| match schema.get("type") {
            Some(serde_json::Value::String(t)) => t == name,
            Some(serde_json::Value::Array(types)) => types.iter().any(|t| t == name),
            _ => false,
        };
        let (array, integer) = (has_type("array"), has_type("integer"));
        let number = |value: f64| {
            // An integer field's bound (or a length) is written as an integer: `minimum: 1`, not `1.0`.
            if (integer || array) && value.fract() == 0.0 {
                serde_json::Value::from(value as i64)
            } else {
                serde_json::Value::from(value)
            }
        };
        let (lower, upper) = if array { ("minItems", "maxItems") } else { ("minimum", "maximum") };
        for (bound, inclusive, exclusive) in
            [(range.min, lower, "exclusiveMinimum"), (range.max, upper, "exclusiveMaximum")]
        {
            let Some(bound) = bound else { continue };
            schema.remove(inclusive);
            schema.insert((if bound.exclusive { exclusive } else { inclusive }).to_owned(), number(bound.value));
        }
    }
}

/// A tier number.
pub const TIER: Range = Range::closed(1.0, 3.0);
/// A probability or a score in [0, 1].
pub const UNIT: Range = Range::closed(0.0, 1.0);
/// Tokens the classifier embeds per request: enough to classify, few enough to stay fast.
pub const CLASSIFIER_TOKENS: Range = Range::closed(8.0, 512.0);
/// A semantic hit's cosine similarity: 0 would serve any cached answer for any question.
pub const SIMILARITY: Range = Range::left_open(0.0, 1.0);
/// The pair verifier's threshold: 0 turns it off; 1 would refuse every hit.
pub const VERIFIER_THRESHOLD: Range = Range::right_open(0.0, 1.0);
/// Tiers a failed answer may escalate: from tier 1, at most to tier 3.
pub const CASCADE_DEPTH: Range = Range::closed(0.0, 2.0);
/// Seconds a cached answer is served: at most a year, so expiry arithmetic never nears overflow.
pub const CACHE_TTL_SECONDS: Range = Range::closed(1.0, 31_536_000.0);
/// The largest integer a float64 holds exactly (JSON's, Kubernetes' and JavaScript's safe range).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// A policy version: any integer every tool on the way (YAML, JSON, the apiserver) holds exactly.
pub const POLICY_VERSION: Range = Range::closed(0.0, MAX_SAFE_INTEGER as f64);
/// Counts, durations in whole units, and lists that must not be empty.
pub const AT_LEAST_ONE: Range = Range::at_least(1.0);
/// Rates and durations in seconds.
pub const POSITIVE: Range = Range::above(0.0);
/// Prices.
pub const NON_NEGATIVE: Range = Range::at_least(0.0);

// --- Grammars -------------------------------------------------------------------------------

/// A regular expression a string field must match in full, for the schema; the core checks the
/// same grammar with the parser beside each pattern (`KeyRef::parse`, `is_http_url`), and
/// `tests/python/config` checks that pattern and parser agree on every string.
#[derive(Debug, Clone, Copy)]
pub struct Pattern(pub &'static str);

impl Transform for Pattern {
    fn transform(&mut self, schema: &mut Schema) {
        schema.insert("pattern".to_owned(), self.0.into());
    }
}

/// `http://` or `https://`, then a host (not empty, not starting with a port), and no whitespace.
pub const HTTP_URL_PATTERN: &str = r"^https?://[^/?#:\s]\S*$";

/// The core's reading of `HTTP_URL_PATTERN`; the service's HTTP client does the rest.
pub fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.starts_with(':') && !url.chars().any(char::is_whitespace)
    })
}

/// `env:VARIABLE`, or `secret:NAME/KEY` where NAME and KEY are neither `.` nor `..` (they are
/// path components under the mounted Secrets' directory).
pub const KEY_REF_PATTERN: &str = concat!(
    r"^(env:[A-Za-z_][A-Za-z0-9_]*",
    r"|secret:(?:[a-z0-9_-][a-z0-9_.-]*|\.[a-z0-9_-][a-z0-9_.-]*|\.\.[a-z0-9_.-]+)",
    r"/(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*|\.[A-Za-z0-9_-][A-Za-z0-9_.-]*|\.\.[A-Za-z0-9_.-]+))$",
);

/// Where a provider's API key is: a reference, so the key itself never sits in a policy. The one
/// parser of `apiKeyRef`, for the core's check, the router's key resolver and the operator's
/// Secret check (the latter two through `router_py._core.parse_key_ref`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef<'a> {
    /// An environment variable of the router.
    Env(&'a str),
    /// Key `key` of the Kubernetes Secret `name`, mounted into the router.
    Secret { name: &'a str, key: &'a str },
}

impl<'a> KeyRef<'a> {
    /// Parses `text` as `KEY_REF_PATTERN` reads it; the error says what is wrong.
    pub fn parse(text: &'a str) -> Result<Self, String> {
        fn chars_in(w: &str, ok: impl Fn(char) -> bool) -> bool {
            !w.is_empty() && w.chars().all(ok)
        }
        if let Some(var) = text.strip_prefix("env:") {
            let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
            if chars_in(var, word) && !var.starts_with(|c: char| c.is_ascii_digit()) {
                return Ok(Self::Env(var));
            }
            return Err(format!(
                "{text:?}: env:VARIABLE needs a variable name (letters, digits, _; not a digit first)"
            ));
        }
        if let Some((name, key)) = text.strip_prefix("secret:").and_then(|r| r.split_once('/')) {
            let segment = |w: &str| w != "." && w != "..";
            let key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
            let name_char = |c: char| key_char(c) && !c.is_ascii_uppercase();
            if chars_in(name, name_char) && chars_in(key, key_char) && segment(name) && segment(key) {
                return Ok(Self::Secret { name, key });
            }
            return Err(format!(
                "{text:?}: secret:NAME/KEY needs a Secret name (a-z, 0-9, _ . -) and a key (A-Z too), neither . nor .."
            ));
        }
        Err(format!("{text:?} is neither env:VARIABLE nor secret:NAME/KEY"))
    }
}

// --- Rules between fields -------------------------------------------------------------------

/// Milliseconds a call to a provider may take: its own `timeoutMs`, else its tier's. The one
/// statement of the rule: the core's compiled providers and the service's catalog (through
/// `router_py._core.provider_timeout_ms`) both use it.
pub fn provider_timeout_ms(provider: Option<u32>, tier: u32) -> u32 {
    provider.unwrap_or(tier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_check_and_say_their_bounds() {
        assert!(SIMILARITY.contains(1.0) && !SIMILARITY.contains(0.0) && SIMILARITY.contains(1e-9));
        assert!(VERIFIER_THRESHOLD.contains(0.0) && !VERIFIER_THRESHOLD.contains(1.0));
        assert!(!UNIT.contains(f64::NAN) && !AT_LEAST_ONE.contains(f64::INFINITY) && !POSITIVE.contains(0.0));
        let said: Vec<String> = [CLASSIFIER_TOKENS, SIMILARITY, VERIFIER_THRESHOLD, AT_LEAST_ONE, POSITIVE]
            .iter()
            .map(Range::to_string)
            .collect();
        assert_eq!(said, ["in [8, 512]", "in (0, 1]", "in [0, 1)", ">= 1", "> 0"]);
    }

    #[test]
    fn the_schema_states_the_bounds_and_grammars() {
        let schema = json_schema();
        let field = |def: &str, name: &str| schema["$defs"][def]["properties"][name].clone();
        let tier = field("TierSpec", "tier");
        assert_eq!((tier["minimum"].as_i64(), tier["maximum"].as_i64()), (Some(1), Some(3)));
        let window = field("TenantOverride", "maxTier");
        assert_eq!((window["minimum"].as_i64(), window["maximum"].as_i64()), (Some(1), Some(3)));
        let similarity = field("SemanticCacheSpec", "similarityThreshold");
        assert_eq!((similarity["exclusiveMinimum"].as_f64(), similarity.get("minimum")), (Some(0.0), None));
        assert_eq!(field("TierSpec", "providers")["minItems"].as_i64(), Some(1));
        assert_eq!(field("ProviderSpec", "apiKeyRef")["pattern"].as_str(), Some(KEY_REF_PATTERN));
        assert_eq!(field("ProviderSpec", "baseUrl")["pattern"].as_str(), Some(HTTP_URL_PATTERN));
        // A width is a bound too, where no range gives one; a range's own maximum stays.
        assert_eq!(field("ProviderSpec", "timeoutMs")["maximum"].as_u64(), Some(u64::from(u32::MAX)));
        assert_eq!(field("ExactCacheSpec", "ttlSeconds")["maximum"].as_f64(), Some(31_536_000.0));
        assert_eq!(field("ClassifierSpec", "maxTokens")["maximum"].as_u64(), Some(512));
    }

    #[test]
    fn every_schema_bound_is_a_float64_integer() {
        fn bounds(node: &serde_json::Value, found: &mut Vec<f64>) {
            match node {
                serde_json::Value::Object(map) => {
                    for (key, value) in map {
                        if key.contains("imum") {
                            found.push(value.as_f64().unwrap_or(f64::NAN));
                        }
                        bounds(value, found);
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|item| bounds(item, found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        bounds(&json_schema(), &mut found);
        assert!(!found.is_empty());
        assert!(found.iter().all(|b| b.abs() <= MAX_SAFE_INTEGER as f64), "{found:?}");
    }

    #[test]
    fn key_refs_name_an_env_variable_or_a_secret_key() {
        assert_eq!(KeyRef::parse("env:_K1"), Ok(KeyRef::Env("_K1")));
        assert_eq!(KeyRef::parse("secret:keys.v2/api_key"), Ok(KeyRef::Secret { name: "keys.v2", key: "api_key" }));
        for good in ["env:OPENAI_API_KEY", "secret:provider-keys/openai", "secret:...x/.k"] {
            assert!(KeyRef::parse(good).is_ok(), "{good}");
        }
        let bad =
            ["sk-live-123", "env:", "env:1KEY", "env:A-B", "secret:keys", "secret:Keys/a", "secret:/a", "secret:k/"];
        for bad in bad.into_iter().chain(["secret:../a", "secret:a/..", "secret:./a", "secret:a/b/c"]) {
            assert!(KeyRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_urls_need_a_host() {
        for good in ["http://a", "https://x:1/v1", "http://h?q"] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in ["ftp://x", "http://", "https:// x", "small:8000", "http://:80/v1", "http:///v1"] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
