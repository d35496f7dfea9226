//! Config -> `CompiledPolicy`: parse strictly, validate completely, build the hot path's lookups.
//!
//! Nothing is returned until every check has passed, so a bad config can never be half
//! applied: the caller swaps a whole `CompiledPolicy` or keeps the last good one. Errors name
//! the offending field with a JSON-ish path (`tiers[1].providers[0].baseUrl`), where list
//! indexes are positions in the file, not tier numbers.

use std::time::Duration;

use ahash::{AHashMap, AHashSet};

use crate::breaker::BreakerConfig;
use crate::config::{
    is_http_url, provider_timeout_ms, BreakerSpec, CacheSpec, CascadeSpec, ClassifierSpec, DomainOverride, KeyRef,
    LimitsSpec, OnExceed, OverridesSpec, PolicySpec, ProviderSpec, Range, ResidencyRule, RouterConfig, TierSpec,
    AT_LEAST_ONE, CACHE_TTL_SECONDS, CASCADE_DEPTH, CLASSIFIER_TOKENS, NON_NEGATIVE, POLICY_VERSION, POSITIVE,
    SIMILARITY, TIER, UNIT, VERIFIER_THRESHOLD,
};
use crate::error::{CoreError, Result};

/// The pseudo-rule of request hints; reserved so `override:hint` in a log is never ambiguous.
pub const HINT_RULE: &str = "hint";

/// Parses a config document; the error path names the field (`policy.classifier.maxTokens`).
pub fn parse_config(json: &str) -> Result<RouterConfig> {
    let mut de = serde_json::Deserializer::from_str(json);
    let cfg = serde_path_to_error::deserialize(&mut de).map_err(parse_error)?;
    de.end().map_err(|e| CoreError::invalid_config(".", e.to_string()))?;
    Ok(cfg)
}

/// Puts the field in the path, not the message: `tiers[1].providers[0].pricInputPerMtok:
/// unknown field, expected one of ...`. serde reports a missing field at the enclosing object,
/// so its name is appended there.
fn parse_error(err: serde_path_to_error::Error<serde_json::Error>) -> CoreError {
    let path = err.path().to_string();
    let message = err.into_inner().to_string();
    for kind in ["unknown field", "missing field"] {
        if let Some(field) = quoted_after(&message, kind) {
            let tail = message_tail(&message, field);
            let full = match path.as_str() {
                "." => field.to_owned(),
                p if p == field || p.ends_with(&format!(".{field}")) => path.clone(),
                p => format!("{p}.{field}"),
            };
            return CoreError::invalid_config(full, format!("{kind}{tail}"));
        }
    }
    CoreError::invalid_config(path, message)
}

fn quoted_after<'m>(message: &'m str, kind: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(kind)?.strip_prefix(" `")?;
    rest.split('`').next()
}

/// What serde says after the field name (`, expected one of ...`, `at line 1 column 9`).
fn message_tail<'m>(message: &'m str, field: &str) -> &'m str {
    message.split_once(&format!("`{field}`")).map_or("", |(_, tail)| tail)
}

/// A tier's or provider's price in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Price {
    /// USD for these tokens: the one price computation (the service's accounting calls it
    /// through `router_py._core.cost_usd`).
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_mtok + output_tokens as f64 * self.output_per_mtok) / 1e6
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompiledProvider {
    pub spec: ProviderSpec,
    pub tier: u8,
    /// The provider's own timeout, else its tier's.
    pub timeout: Duration,
    pub price: Price,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompiledTier {
    pub number: u8,
    pub name: String,
    /// In failover order: the order they are listed in, not by price.
    pub providers: Vec<CompiledProvider>,
    pub breaker: BreakerConfig,
}

impl CompiledTier {
    /// The primary (first listed) provider's price: what the tier costs when healthy, used for
    /// the always-tier-3 baseline. A decision's own cost uses the provider actually chosen.
    pub fn price(&self) -> Price {
        self.providers.first().map_or(Price { input_per_mtok: 0.0, output_per_mtok: 0.0 }, |p| p.price)
    }
}

/// An override's tier window; a domain rule is `[minTier, 3]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierBounds {
    pub rule: String,
    pub min: u8,
    pub max: u8,
}

/// A token-bucket rule (GCRA form): one request per `interval`, up to `burst` at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRule {
    pub name: String,
    /// `1 / requestsPerSecond`, rounded up to the nanosecond so the bucket never admits more
    /// than the configured rate.
    pub interval: Duration,
    pub burst: u32,
    /// Tenant limits always reject; Tier-3 limits say.
    pub on_exceed: OnExceed,
}

/// Limit rules by tenant: a named tenant's rule takes precedence over the `*` rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitTable {
    named: AHashMap<String, LimitRule>,
    any: Option<LimitRule>,
}

impl LimitTable {
    pub fn rule_for(&self, tenant: &str) -> Option<&LimitRule> {
        self.named.get(tenant).or(self.any.as_ref())
    }
}

/// A validated config plus the lookup structures the hot path uses. Immutable: a reload
/// compiles a new one and swaps it whole.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledPolicy {
    config: RouterConfig,
    tiers: [CompiledTier; 3],
    providers: AHashMap<String, (usize, usize)>,
    domains: AHashMap<String, TierBounds>,
    tenants: AHashMap<String, TierBounds>,
    users: AHashMap<String, TierBounds>,
    tenant_limits: LimitTable,
    tier3_limits: LimitTable,
}

impl CompiledPolicy {
    pub fn name(&self) -> &str {
        &self.config.policy.name
    }

    pub fn version(&self) -> u64 {
        self.config.policy.version
    }

    /// The config as given, for reporting and for the parts read as-is (cache, cascade gate).
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    pub fn classifier(&self) -> &ClassifierSpec {
        &self.config.policy.classifier
    }

    /// Tier `t`; numbers outside 1..=3 are clamped into it (tiers always come from this module).
    pub fn tier(&self, t: u8) -> &CompiledTier {
        let [one, two, three] = &self.tiers;
        match t {
            0 | 1 => one,
            2 => two,
            _ => three,
        }
    }

    pub fn tiers(&self) -> &[CompiledTier; 3] {
        &self.tiers
    }

    pub fn provider(&self, name: &str) -> Option<&CompiledProvider> {
        let &(t, i) = self.providers.get(name)?;
        self.tiers.get(t)?.providers.get(i)
    }

    pub fn domain_override(&self, domain: &str) -> Option<&TierBounds> {
        self.domains.get(domain)
    }

    pub fn tenant_override(&self, tenant: &str) -> Option<&TierBounds> {
        self.tenants.get(tenant)
    }

    pub fn user_override(&self, user: &str) -> Option<&TierBounds> {
        self.users.get(user)
    }

    pub fn residency_rules(&self) -> &[ResidencyRule] {
        &self.config.policy.overrides.residency
    }

    pub fn tenant_limit(&self, tenant: &str) -> Option<&LimitRule> {
        self.tenant_limits.rule_for(tenant)
    }

    pub fn tier3_limit(&self, tenant: &str) -> Option<&LimitRule> {
        self.tier3_limits.rule_for(tenant)
    }
}

/// Validates `cfg` completely, then builds the policy; the first error found is returned.
/// `known_domains` are the classifier's domain labels, which domain overrides must name.
pub fn compile(cfg: RouterConfig, known_domains: &[&str]) -> Result<CompiledPolicy> {
    let regions: AHashSet<&str> = cfg.tiers.iter().flat_map(|t| &t.providers).map(|p| p.region.as_str()).collect();
    check_policy(&cfg.policy, known_domains, &regions)?;
    let [tenant_limits, tier3_limits] = compile_limits(&cfg.policy.limits)?;
    let tiers = compile_tiers(&cfg.tiers)?;
    let overrides = &cfg.policy.overrides;
    Ok(CompiledPolicy {
        providers: provider_index(&tiers),
        domains: overrides.domains.iter().map(domain_bounds).collect(),
        tenants: overrides.tenants.iter().map(|o| bounds(&o.tenant, &o.name, o.min_tier, o.max_tier)).collect(),
        users: overrides.users.iter().map(|o| bounds(&o.user, &o.name, o.min_tier, o.max_tier)).collect(),
        tenant_limits,
        tier3_limits,
        tiers,
        config: cfg,
    })
}

fn invalid<T>(path: impl Into<String>, message: impl Into<String>) -> Result<T> {
    Err(CoreError::invalid_config(path, message))
}

fn ensure(ok: bool, path: impl FnOnce() -> String, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        invalid(path(), message())
    }
}

/// `value` within `range` (a bound of `config`, which the schema states too).
fn check_range(value: impl Into<f64>, range: Range, path: impl FnOnce() -> String) -> Result<()> {
    let value = value.into();
    ensure(range.contains(value), path, || format!("must be {range}, got {value}"))
}

/// `check_range` on a value the schema allows to be absent.
fn check_optional<T: Into<f64>>(value: Option<T>, range: Range, path: impl FnOnce() -> String) -> Result<()> {
    value.map_or(Ok(()), |v| check_range(v, range, path))
}

/// A list's length within `range` (`AT_LEAST_ONE`, so far), with a message that names the items.
fn check_count(len: usize, range: Range, path: impl FnOnce() -> String, items: &str) -> Result<()> {
    ensure(range.contains(len as f64), path, || format!("must list {range} {items}, got {len}"))
}

fn check_policy(policy: &PolicySpec, known_domains: &[&str], regions: &AHashSet<&str>) -> Result<()> {
    ensure(!policy.name.trim().is_empty(), || "policy.name".into(), || "must not be empty".into())?;
    // As f64: past 2^53 the cast rounds up, never down into the range.
    check_range(policy.version as f64, POLICY_VERSION, || "policy.version".into())?;
    check_range(policy.expected_output_tokens, AT_LEAST_ONE, || "policy.expectedOutputTokens".into())?;
    check_classifier(&policy.classifier)?;
    check_cache(&policy.cache)?;
    check_overrides(&policy.overrides, known_domains, regions)?;
    check_cascade(&policy.cascade)
}

fn check_classifier(c: &ClassifierSpec) -> Result<()> {
    check_range(c.max_underroute_risk, UNIT, || "policy.classifier.maxUnderrouteRisk".into())?;
    check_range(c.confidence_threshold, UNIT, || "policy.classifier.confidenceThreshold".into())?;
    check_range(c.max_tokens, CLASSIFIER_TOKENS, || "policy.classifier.maxTokens".into())
}

fn check_cache(c: &CacheSpec) -> Result<()> {
    // Seconds as f64: exact for any TTL that is not absurd, and the check is a range like the rest.
    check_range(c.exact.ttl_seconds as f64, CACHE_TTL_SECONDS, || "policy.cache.exact.ttlSeconds".into())?;
    check_range(c.semantic.ttl_seconds as f64, CACHE_TTL_SECONDS, || "policy.cache.semantic.ttlSeconds".into())?;
    let s = &c.semantic;
    check_range(s.similarity_threshold, SIMILARITY, || "policy.cache.semantic.similarityThreshold".into())?;
    check_range(s.verifier_threshold, VERIFIER_THRESHOLD, || "policy.cache.semantic.verifierThreshold".into())
}

fn check_cascade(c: &CascadeSpec) -> Result<()> {
    check_range(c.max_depth, CASCADE_DEPTH, || "policy.cascade.maxDepth".into())?;
    check_optional(c.gate.min_verifier_score, UNIT, || "policy.cascade.gate.minVerifierScore".into())
}

/// Every value non-empty and none repeated; `list[i].field` names the culprit.
fn check_distinct<'a>(list: &str, field: &str, values: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen: AHashMap<&str, usize> = AHashMap::new();
    for (i, value) in values.enumerate() {
        let path = || format!("{list}[{i}].{field}");
        ensure(!value.trim().is_empty(), path, || "must not be empty".into())?;
        if let Some(first) = seen.insert(value, i) {
            return invalid(path(), format!("duplicate {field} '{value}' (also {list}[{first}])"));
        }
    }
    Ok(())
}

/// Override rule names, unique per list and never the reserved `hint`.
fn check_rule_names<'a>(list: &str, names: impl Iterator<Item = &'a str> + Clone) -> Result<()> {
    check_distinct(list, "name", names.clone())?;
    match names.enumerate().find(|(_, n)| *n == HINT_RULE) {
        Some((i, _)) => invalid(format!("{list}[{i}].name"), "'hint' is reserved for request hints"),
        None => Ok(()),
    }
}

fn check_window(min: Option<u8>, max: Option<u8>, path: &str) -> Result<()> {
    ensure(min.is_some() || max.is_some(), || path.to_owned(), || "sets neither minTier nor maxTier".into())?;
    check_optional(min, TIER, || format!("{path}.minTier"))?;
    check_optional(max, TIER, || format!("{path}.maxTier"))?;
    match (min, max) {
        (Some(lo), Some(hi)) if lo > hi => invalid(format!("{path}.maxTier"), format!("{hi} is below minTier {lo}")),
        _ => Ok(()),
    }
}

fn check_overrides(o: &OverridesSpec, known_domains: &[&str], regions: &AHashSet<&str>) -> Result<()> {
    check_domains(&o.domains, known_domains)?;
    let tenants = "policy.overrides.tenants";
    check_rule_names(tenants, o.tenants.iter().map(|r| r.name.as_str()))?;
    check_distinct(tenants, "tenant", o.tenants.iter().map(|r| r.tenant.as_str()))?;
    for (i, r) in o.tenants.iter().enumerate() {
        check_window(r.min_tier, r.max_tier, &format!("{tenants}[{i}]"))?;
    }
    let users = "policy.overrides.users";
    check_rule_names(users, o.users.iter().map(|r| r.name.as_str()))?;
    check_distinct(users, "user", o.users.iter().map(|r| r.user.as_str()))?;
    for (i, r) in o.users.iter().enumerate() {
        check_window(r.min_tier, r.max_tier, &format!("{users}[{i}]"))?;
    }
    check_residency(&o.residency, regions)
}

fn check_domains(rules: &[DomainOverride], known_domains: &[&str]) -> Result<()> {
    let list = "policy.overrides.domains";
    check_rule_names(list, rules.iter().map(|r| r.name.as_str()))?;
    check_distinct(list, "domain", rules.iter().map(|r| r.domain.as_str()))?;
    for (i, r) in rules.iter().enumerate() {
        ensure(
            known_domains.contains(&r.domain.as_str()),
            || format!("{list}[{i}].domain"),
            || format!("unknown domain '{}' (the classifier knows: {})", r.domain, known_domains.join(", ")),
        )?;
        check_range(r.min_tier, TIER, || format!("{list}[{i}].minTier"))?;
    }
    Ok(())
}

fn check_residency(rules: &[ResidencyRule], regions: &AHashSet<&str>) -> Result<()> {
    let list = "policy.overrides.residency";
    check_rule_names(list, rules.iter().map(|r| r.name.as_str()))?;
    for (i, r) in rules.iter().enumerate() {
        let path = format!("{list}[{i}]");
        let blank = |v: &Option<String>| v.as_deref().is_some_and(|s| s.trim().is_empty());
        ensure(!blank(&r.tenant), || format!("{path}.tenant"), || "must not be empty when set".into())?;
        ensure(!blank(&r.request_region), || format!("{path}.requestRegion"), || "must not be empty when set".into())?;
        check_count(r.allowed_regions.len(), AT_LEAST_ONE, || format!("{path}.allowedRegions"), "regions")?;
        for (j, region) in r.allowed_regions.iter().enumerate() {
            ensure(
                regions.contains(region.as_str()),
                || format!("{path}.allowedRegions[{j}]"),
                || format!("no provider serves region '{region}', so rule '{}' could never be met", r.name),
            )?;
        }
    }
    Ok(())
}

/// A tenant or Tier-3 limit as written; both lists share one shape but for `onExceed`.
struct LimitView<'a> {
    name: &'a str,
    tenant: &'a str,
    rate: f64,
    burst: u32,
    on_exceed: OnExceed,
}

/// Validates and builds the tenant and Tier-3 limit tables, in that order.
fn compile_limits(l: &LimitsSpec) -> Result<[LimitTable; 2]> {
    let view = |name, tenant, rate, burst, on_exceed| LimitView { name, tenant, rate, burst, on_exceed };
    let tenants: Vec<LimitView<'_>> = (l.tenants.iter())
        .map(|r| view(&r.name, &r.tenant, r.requests_per_second, r.burst, OnExceed::Reject))
        .collect();
    let tier3: Vec<LimitView<'_>> =
        (l.tier3.iter()).map(|r| view(&r.name, &r.tenant, r.requests_per_second, r.burst, r.on_exceed)).collect();
    Ok([compile_limit_table("policy.limits.tenants", &tenants)?, compile_limit_table("policy.limits.tier3", &tier3)?])
}

fn compile_limit_table(list: &str, rules: &[LimitView<'_>]) -> Result<LimitTable> {
    check_distinct(list, "name", rules.iter().map(|r| r.name))?;
    check_distinct(list, "tenant", rules.iter().map(|r| r.tenant))?;
    let mut table = LimitTable::default();
    for (i, r) in rules.iter().enumerate() {
        let interval = limit_interval(r.rate, || format!("{list}[{i}].requestsPerSecond"))?;
        check_range(r.burst, AT_LEAST_ONE, || format!("{list}[{i}].burst"))?;
        let rule = LimitRule { name: r.name.to_owned(), interval, burst: r.burst, on_exceed: r.on_exceed };
        if r.tenant == "*" {
            table.any = Some(rule);
        } else {
            table.named.insert(r.tenant.to_owned(), rule);
        }
    }
    Ok(table)
}

/// `1 / rate` rounded up to the nanosecond; refused when not `POSITIVE` or not a representable
/// time (a rate so small its interval overflows, which no schema bound can say).
fn limit_interval(rate: f64, path: impl FnOnce() -> String) -> Result<Duration> {
    let nanos = (1e9 / rate).ceil();
    if POSITIVE.contains(rate) && nanos.is_finite() && nanos < u64::MAX as f64 {
        Ok(Duration::from_nanos((nanos as u64).max(1)))
    } else {
        invalid(path(), format!("must be a finite rate {POSITIVE}, got {rate}"))
    }
}

fn compile_tiers(specs: &[TierSpec]) -> Result<[CompiledTier; 3]> {
    let mut slots: [Option<(usize, CompiledTier)>; 3] = [None, None, None];
    let mut names: AHashMap<&str, String> = AHashMap::new();
    for (i, spec) in specs.iter().enumerate() {
        let path = format!("tiers[{i}]");
        check_range(spec.tier, TIER, || format!("{path}.tier"))?;
        let Some(slot) = usize::from(spec.tier).checked_sub(1).and_then(|t| slots.get_mut(t)) else {
            return invalid(format!("{path}.tier"), format!("tier {} has no slot", spec.tier));
        };
        if let Some((first, _)) = slot {
            return invalid(format!("{path}.tier"), format!("tier {} defined twice (also tiers[{first}])", spec.tier));
        }
        *slot = Some((i, compile_tier(spec, &path, &mut names)?));
    }
    match slots {
        [Some((_, one)), Some((_, two)), Some((_, three))] => Ok([one, two, three]),
        _ => {
            let missing: Vec<String> =
                (1..=3).zip(&slots).filter(|(_, s)| s.is_none()).map(|(t, _)| t.to_string()).collect();
            invalid("tiers", format!("tiers must be exactly 1, 2 and 3; missing {}", missing.join(", ")))
        }
    }
}

fn compile_tier<'a>(spec: &'a TierSpec, path: &str, names: &mut AHashMap<&'a str, String>) -> Result<CompiledTier> {
    ensure(!spec.name.trim().is_empty(), || format!("{path}.name"), || "must not be empty".into())?;
    check_range(spec.timeout_ms, AT_LEAST_ONE, || format!("{path}.timeoutMs"))?;
    check_count(spec.providers.len(), AT_LEAST_ONE, || format!("{path}.providers"), "providers")?;
    let breaker = compile_breaker(&spec.breaker, &format!("{path}.breaker"))?;
    let mut providers = Vec::with_capacity(spec.providers.len());
    for (j, p) in spec.providers.iter().enumerate() {
        let ppath = format!("{path}.providers[{j}]");
        if let Some(first) = names.insert(p.name.as_str(), ppath.clone()) {
            return invalid(format!("{ppath}.name"), format!("duplicate provider name '{}' (also {first})", p.name));
        }
        providers.push(compile_provider(p, spec, &ppath)?);
    }
    Ok(CompiledTier { number: spec.tier, name: spec.name.clone(), providers, breaker })
}

fn compile_provider(p: &ProviderSpec, tier: &TierSpec, path: &str) -> Result<CompiledProvider> {
    for (field, value) in [("name", &p.name), ("model", &p.model), ("region", &p.region)] {
        ensure(!value.trim().is_empty(), || format!("{path}.{field}"), || "must not be empty".into())?;
    }
    ensure(
        is_http_url(&p.base_url),
        || format!("{path}.baseUrl"),
        || format!("'{}' is not an http(s) URL with a host", p.base_url),
    )?;
    check_range(p.price_input_per_mtok, NON_NEGATIVE, || format!("{path}.priceInputPerMtok"))?;
    check_range(p.price_output_per_mtok, NON_NEGATIVE, || format!("{path}.priceOutputPerMtok"))?;
    check_optional(p.timeout_ms, AT_LEAST_ONE, || format!("{path}.timeoutMs"))?;
    if let Some(Err(why)) = p.api_key_ref.as_deref().map(KeyRef::parse) {
        return invalid(format!("{path}.apiKeyRef"), why);
    }
    Ok(CompiledProvider {
        spec: p.clone(),
        tier: tier.tier,
        timeout: Duration::from_millis(u64::from(provider_timeout_ms(p.timeout_ms, tier.timeout_ms))),
        price: Price { input_per_mtok: p.price_input_per_mtok, output_per_mtok: p.price_output_per_mtok },
    })
}

fn compile_breaker(b: &BreakerSpec, path: &str) -> Result<BreakerConfig> {
    check_range(b.failure_threshold, AT_LEAST_ONE, || format!("{path}.failureThreshold"))?;
    check_range(b.half_open_probes, AT_LEAST_ONE, || format!("{path}.halfOpenProbes"))?;
    check_range(b.success_threshold, AT_LEAST_ONE, || format!("{path}.successThreshold"))?;
    check_range(b.open_seconds, POSITIVE, || format!("{path}.openSeconds"))?;
    // Positive, yet too small for a nanosecond or too large for a Duration.
    let open_for = Duration::try_from_secs_f64(b.open_seconds).ok().filter(|d| !d.is_zero());
    let Some(open_for) = open_for else {
        return invalid(format!("{path}.openSeconds"), format!("{} s is not a representable duration", b.open_seconds));
    };
    Ok(BreakerConfig {
        failure_threshold: b.failure_threshold,
        open_for,
        half_open_probes: b.half_open_probes,
        success_threshold: b.success_threshold,
    })
}

fn provider_index(tiers: &[CompiledTier; 3]) -> AHashMap<String, (usize, usize)> {
    let positions = tiers
        .iter()
        .enumerate()
        .flat_map(|(t, tier)| tier.providers.iter().enumerate().map(move |(i, p)| (p.spec.name.clone(), (t, i))));
    positions.collect()
}

fn domain_bounds(o: &DomainOverride) -> (String, TierBounds) {
    (o.domain.clone(), TierBounds { rule: o.name.clone(), min: o.min_tier, max: 3 })
}

fn bounds(key: &str, rule: &str, min: Option<u8>, max: Option<u8>) -> (String, TierBounds) {
    (key.to_owned(), TierBounds { rule: rule.to_owned(), min: min.unwrap_or(1), max: max.unwrap_or(3) })
}

/// A small valid config shared by the unit tests of `policy` and `breaker`.
#[cfg(test)]
pub(crate) mod fixture {
    use super::{compile, parse_config, CompiledPolicy, RouterConfig};

    pub const DOMAINS: &[&str] = &["general", "code", "legal"];

    pub const JSON: &str = r#"{
      "policy": {
        "name": "default", "version": 7,
        "classifier": {"maxUnderrouteRisk": 0.3, "confidenceThreshold": 0.5, "maxTokens": 128},
        "overrides": {
          "domains": [{"name": "legal-strong", "domain": "legal", "minTier": 3}],
          "tenants": [{"name": "free-cap", "tenant": "free", "maxTier": 2},
                      {"name": "vip-floor", "tenant": "vip", "minTier": 2}],
          "users": [{"name": "ceo", "user": "alice", "minTier": 3}],
          "residency": [{"name": "eu-only", "tenant": "acme-eu", "allowedRegions": ["eu"]}]
        },
        "limits": {
          "tenants": [{"name": "per-tenant", "tenant": "*", "requestsPerSecond": 10, "burst": 20},
                      {"name": "free-rps", "tenant": "free", "requestsPerSecond": 1, "burst": 2}],
          "tier3": [{"name": "t3-budget", "tenant": "*", "requestsPerSecond": 0.5, "burst": 1}]
        }
      },
      "tiers": [
        {"tier": 3, "name": "frontier", "providers": [
          {"name": "big-us", "model": "big", "baseUrl": "https://big.example/v1", "region": "us",
           "priceInputPerMtok": 3, "priceOutputPerMtok": 15}]},
        {"tier": 1, "name": "small", "providers": [
          {"name": "small-us", "model": "s", "baseUrl": "http://small:8000/v1", "region": "us",
           "priceInputPerMtok": 0.1, "priceOutputPerMtok": 0.4},
          {"name": "small-eu", "model": "s", "baseUrl": "http://small-eu:8000", "region": "eu",
           "priceInputPerMtok": 0.2, "priceOutputPerMtok": 0.8, "timeoutMs": 500}],
         "breaker": {"failureThreshold": 2, "openSeconds": 5, "halfOpenProbes": 1, "successThreshold": 1}},
        {"tier": 2, "name": "mid", "timeoutMs": 10000, "providers": [
          {"name": "mid-us", "model": "m", "baseUrl": "https://mid.example", "region": "us",
           "priceInputPerMtok": 1, "priceOutputPerMtok": 2}]}
      ]
    }"#;

    pub fn config() -> RouterConfig {
        match parse_config(JSON) {
            Ok(cfg) => cfg,
            Err(e) => unreachable!("fixture must parse: {e}"),
        }
    }

    pub fn policy() -> CompiledPolicy {
        match compile(config(), DOMAINS) {
            Ok(p) => p,
            Err(e) => unreachable!("fixture must compile: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{config, policy, DOMAINS, JSON};
    use super::*;

    fn error_of(result: Result<impl std::fmt::Debug>) -> (String, String) {
        match result {
            Err(CoreError::InvalidConfig { path, message }) => (path, message),
            other => unreachable!("expected InvalidConfig, got {other:?}"),
        }
    }

    fn refused(edit: impl FnOnce(&mut RouterConfig)) -> (String, String) {
        let mut cfg = config();
        edit(&mut cfg);
        error_of(compile(cfg, DOMAINS))
    }

    #[test]
    fn fixture_compiles_into_lookups() {
        let p = policy();
        assert_eq!((p.name(), p.version()), ("default", 7));
        let names: Vec<&str> = p.tier(1).providers.iter().map(|p| p.spec.name.as_str()).collect();
        assert_eq!(names, ["small-us", "small-eu"], "failover order is the listed order");
        assert_eq!(p.tier(1).price(), Price { input_per_mtok: 0.1, output_per_mtok: 0.4 });
        let eu = p.provider("small-eu");
        assert_eq!(eu.map(|e| (e.tier, e.timeout)), Some((1, Duration::from_millis(500))));
        assert_eq!(p.provider("mid-us").map(|m| m.timeout), Some(Duration::from_secs(10)));
        assert_eq!(p.tier(1).breaker.open_for, Duration::from_secs(5));
        assert_eq!(p.domain_override("legal").map(|b| (b.min, b.max)), Some((3, 3)));
        assert_eq!(p.tenant_override("free").map(|b| (b.min, b.max)), Some((1, 2)));
        assert_eq!(p.tenant_limit("free").map(|r| r.name.as_str()), Some("free-rps"));
        assert_eq!(p.tenant_limit("other").map(|r| r.name.as_str()), Some("per-tenant"));
        assert_eq!(
            p.tier3_limit("x").map(|r| (r.interval, r.on_exceed)),
            Some((Duration::from_secs(2), OnExceed::Downgrade))
        );
        assert_eq!(p.tier(0).number, 1);
        assert_eq!(p.tier(9).number, 3);
    }

    #[test]
    fn parse_names_the_unknown_field() {
        let bad = JSON.replace("\"priceInputPerMtok\": 1,", "\"pricInputPerMtok\": 1,");
        let (path, message) = error_of(parse_config(&bad));
        assert_eq!(path, "tiers[2].providers[0].pricInputPerMtok");
        assert!(message.starts_with("unknown field, expected one of `name`"), "{message}");
    }

    #[test]
    fn parse_names_the_missing_field() {
        let bad = JSON.replace("\"model\": \"m\", ", "");
        let (path, message) = error_of(parse_config(&bad));
        assert_eq!(path, "tiers[2].providers[0].model");
        assert!(message.starts_with("missing field"), "{message}");
    }

    #[test]
    fn parse_names_a_mistyped_value_and_trailing_garbage() {
        let bad = JSON.replace("\"maxTokens\": 128", "\"maxTokens\": \"many\"");
        assert_eq!(error_of(parse_config(&bad)).0, "policy.classifier.maxTokens");
        assert_eq!(error_of(parse_config(&format!("{JSON} x"))).0, ".");
    }

    #[test]
    fn tiers_must_be_exactly_one_two_three() {
        assert_eq!(refused(|c| c.tiers[0].tier = 4).0, "tiers[0].tier");
        let (path, message) = refused(|c| c.tiers[0].tier = 1);
        assert_eq!((path.as_str(), message.as_str()), ("tiers[1].tier", "tier 1 defined twice (also tiers[0])"));
        let (path, message) = refused(|c| {
            c.tiers.remove(0);
        });
        assert_eq!((path.as_str(), message.as_str()), ("tiers", "tiers must be exactly 1, 2 and 3; missing 3"));
        assert_eq!(refused(|c| c.tiers[2].providers.clear()).0, "tiers[2].providers");
    }

    #[test]
    fn api_key_refs_are_parsed_and_refused_by_path() {
        for bad in ["sk-live-123", "secret:../a"] {
            let (path, message) = refused(|c| c.tiers[0].providers[0].api_key_ref = Some(bad.into()));
            assert_eq!(path, "tiers[0].providers[0].apiKeyRef");
            assert!(message.contains(bad), "{message}");
        }
    }

    #[test]
    fn providers_are_checked_field_by_field() {
        let p = "tiers[1].providers[1]";
        assert_eq!(refused(|c| c.tiers[1].providers[1].name = "big-us".into()).0, format!("{p}.name"));
        assert_eq!(refused(|c| c.tiers[1].providers[1].model = " ".into()).0, format!("{p}.model"));
        assert_eq!(refused(|c| c.tiers[1].providers[0].region.clear()).0, "tiers[1].providers[0].region");
        for url in ["ftp://x", "http://", "https:// x", "small:8000", "http://:80/v1"] {
            assert_eq!(refused(|c| c.tiers[1].providers[1].base_url = url.into()).0, format!("{p}.baseUrl"), "{url}");
        }
        assert_eq!(
            refused(|c| c.tiers[1].providers[1].price_input_per_mtok = -1.0).0,
            format!("{p}.priceInputPerMtok")
        );
        assert_eq!(
            refused(|c| c.tiers[1].providers[1].price_output_per_mtok = f64::NAN).0,
            format!("{p}.priceOutputPerMtok")
        );
        assert_eq!(refused(|c| c.tiers[1].providers[1].timeout_ms = Some(0)).0, format!("{p}.timeoutMs"));
        assert_eq!(refused(|c| c.tiers[1].timeout_ms = 0).0, "tiers[1].timeoutMs");
    }

    #[test]
    fn breaker_specs_are_checked() {
        let b = "tiers[1].breaker";
        assert_eq!(refused(|c| c.tiers[1].breaker.failure_threshold = 0).0, format!("{b}.failureThreshold"));
        assert_eq!(refused(|c| c.tiers[1].breaker.half_open_probes = 0).0, format!("{b}.halfOpenProbes"));
        assert_eq!(refused(|c| c.tiers[1].breaker.success_threshold = 0).0, format!("{b}.successThreshold"));
        for secs in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            assert_eq!(refused(|c| c.tiers[1].breaker.open_seconds = secs).0, format!("{b}.openSeconds"));
        }
    }

    #[test]
    fn classifier_cache_and_cascade_ranges() {
        assert_eq!(refused(|c| c.policy.classifier.max_underroute_risk = 1.5).0, "policy.classifier.maxUnderrouteRisk");
        assert_eq!(
            refused(|c| c.policy.classifier.confidence_threshold = f32::NAN).0,
            "policy.classifier.confidenceThreshold"
        );
        assert_eq!(refused(|c| c.policy.classifier.max_tokens = 7).0, "policy.classifier.maxTokens");
        assert_eq!(refused(|c| c.policy.classifier.max_tokens = 513).0, "policy.classifier.maxTokens");
        assert_eq!(
            refused(|c| c.policy.cache.semantic.similarity_threshold = 0.0).0,
            "policy.cache.semantic.similarityThreshold"
        );
        assert_eq!(
            refused(|c| c.policy.cache.semantic.verifier_threshold = 1.0).0,
            "policy.cache.semantic.verifierThreshold"
        );
        assert_eq!(
            refused(|c| c.policy.cache.semantic.verifier_threshold = f32::NAN).0,
            "policy.cache.semantic.verifierThreshold"
        );
        assert_eq!(refused(|c| c.policy.cache.exact.ttl_seconds = 0).0, "policy.cache.exact.ttlSeconds");
        assert_eq!(refused(|c| c.policy.cascade.max_depth = 3).0, "policy.cascade.maxDepth");
        assert_eq!(
            refused(|c| c.policy.cascade.gate.min_verifier_score = Some(2.0)).0,
            "policy.cascade.gate.minVerifierScore"
        );
        assert_eq!(refused(|c| c.policy.name.clear()).0, "policy.name");
    }

    #[test]
    fn overrides_are_checked() {
        let o = "policy.overrides";
        let (path, message) = refused(|c| c.policy.overrides.domains[0].domain = "medical".into());
        assert_eq!(path, format!("{o}.domains[0].domain"));
        assert!(message.contains("unknown domain 'medical'"), "{message}");
        assert_eq!(refused(|c| c.policy.overrides.domains[0].min_tier = 0).0, format!("{o}.domains[0].minTier"));
        assert_eq!(
            refused(|c| c.policy.overrides.tenants[1].name = "free-cap".into()).0,
            format!("{o}.tenants[1].name")
        );
        assert_eq!(
            refused(|c| c.policy.overrides.tenants[1].tenant = "free".into()).0,
            format!("{o}.tenants[1].tenant")
        );
        assert_eq!(refused(|c| c.policy.overrides.tenants[0].max_tier = None).0, format!("{o}.tenants[0]"));
        assert_eq!(refused(|c| c.policy.overrides.users[0].max_tier = Some(2)).0, format!("{o}.users[0].maxTier"));
        assert_eq!(refused(|c| c.policy.overrides.users[0].name = "hint".into()).0, format!("{o}.users[0].name"));
        assert_eq!(refused(|c| c.policy.overrides.users[0].name.clear()).0, format!("{o}.users[0].name"));
    }

    #[test]
    fn residency_must_be_satisfiable() {
        let r = "policy.overrides.residency[0]";
        let (path, message) = refused(|c| c.policy.overrides.residency[0].allowed_regions.push("apac".into()));
        assert_eq!(path, format!("{r}.allowedRegions[1]"));
        assert!(message.contains("could never be met"), "{message}");
        assert_eq!(
            refused(|c| c.policy.overrides.residency[0].allowed_regions.clear()).0,
            format!("{r}.allowedRegions")
        );
        assert_eq!(refused(|c| c.policy.overrides.residency[0].tenant = Some(String::new())).0, format!("{r}.tenant"));
    }

    #[test]
    fn limits_are_checked() {
        let l = "policy.limits";
        assert_eq!(refused(|c| c.policy.limits.tenants[0].burst = 0).0, format!("{l}.tenants[0].burst"));
        for rps in [0.0, -2.0, f64::NAN, f64::INFINITY, 1e-300] {
            let path = refused(|c| c.policy.limits.tier3[0].requests_per_second = rps).0;
            assert_eq!(path, format!("{l}.tier3[0].requestsPerSecond"), "{rps}");
        }
        assert_eq!(refused(|c| c.policy.limits.tenants[1].tenant = "*".into()).0, format!("{l}.tenants[1].tenant"));
        assert_eq!(
            refused(|c| c.policy.limits.tenants[1].name = "per-tenant".into()).0,
            format!("{l}.tenants[1].name")
        );
    }

    #[test]
    fn intervals_round_up_so_the_rate_is_never_exceeded() {
        assert_eq!(limit_interval(3.0, String::new).ok(), Some(Duration::from_nanos(333_333_334)));
        assert_eq!(limit_interval(1e12, String::new).ok(), Some(Duration::from_nanos(1)));
    }

    #[test]
    fn price_cost_is_per_million_tokens() {
        let price = Price { input_per_mtok: 3.0, output_per_mtok: 15.0 };
        assert!((price.cost(1_000_000, 100_000) - 4.5).abs() < 1e-12);
    }
}
