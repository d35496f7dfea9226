//! Property tests: valid configs compile, broken ones are refused by path, tiers obey precedence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use router_core::config::{
    BreakerSpec, CacheSpec, CascadeSpec, ClassifierSpec, DomainOverride, ExactCacheSpec, GateSpec, LimitsSpec,
    OnExceed, OverridesSpec, PolicySpec, ProviderApi, ProviderSpec, RateLimit, ResidencyRule, RouterConfig,
    SemanticCacheSpec, TenantOverride, Tier3Limit, TierSpec, UserOverride,
};
use router_core::policy::{choose_tier, compile, parse_config, tier_cap, CompiledPolicy, PolicyInput};
use router_core::CoreError;

const DOMAINS: &[&str] = &["general", "code", "legal", "medical"];
const REGIONS: &[&str] = &["us", "eu", "ap"];
const TENANTS: &[&str] = &["t0", "t1", "t2", "t3"];
const USERS: &[&str] = &["u0", "u1", "u2"];

/// Short decimals in [min / scale, max / scale], as people write them. serde_json's default
/// float parser is exact for these but may be off by one ULP on 17-digit values (its
/// `float_roundtrip` feature is off), which would make the round-trip property test the
/// parser, not us.
fn decimal(min: u32, max: u32, scale: f64) -> impl Strategy<Value = f64> + Clone {
    (min..=max).prop_map(move |n| f64::from(n) / scale)
}

/// Thousandths in [lowest / 1000, 1].
fn fraction(lowest: u16) -> impl Strategy<Value = f32> + Clone {
    (lowest..=1000).prop_map(|n| f32::from(n) / 1000.0)
}

fn provider(tier: u8, i: usize) -> impl Strategy<Value = ProviderSpec> {
    (
        select(REGIONS),
        decimal(0, 1_000_000, 1e4),
        decimal(0, 1_000_000, 1e4),
        prop::option::of(1u32..60_000),
        any::<bool>(),
    )
        .prop_map(move |(region, input, output, timeout_ms, anthropic)| ProviderSpec {
            name: format!("t{tier}-p{i}"),
            api: if anthropic { ProviderApi::Anthropic } else { ProviderApi::Openai },
            model: format!("model-{tier}-{i}"),
            base_url: format!("https://p{tier}-{i}.example:8443/v1"),
            region: region.to_owned(),
            price_input_per_mtok: input,
            price_output_per_mtok: output,
            timeout_ms,
            api_key_ref: Some(format!("env:KEY_{tier}_{i}")),
        })
}

fn breaker() -> impl Strategy<Value = BreakerSpec> {
    (1u32..10, decimal(1, 600_000, 1e3), 1u32..4, 1u32..4).prop_map(|(f, open, probes, s)| BreakerSpec {
        failure_threshold: f,
        open_seconds: open,
        half_open_probes: probes,
        success_threshold: s,
    })
}

fn tier(t: u8) -> impl Strategy<Value = TierSpec> {
    (1usize..=3, 1u32..120_000, breaker()).prop_flat_map(move |(n, timeout_ms, breaker)| {
        let providers: Vec<_> = (0..n).map(|i| provider(t, i)).collect();
        providers.prop_map(move |providers| TierSpec {
            tier: t,
            name: format!("tier-{t}"),
            timeout_ms,
            providers,
            breaker: breaker.clone(),
        })
    })
}

fn tiers() -> impl Strategy<Value = Vec<TierSpec>> {
    (tier(1), tier(2), tier(3)).prop_map(|(a, b, c)| vec![a, b, c]).prop_shuffle()
}

/// A valid (min, max) window with at least one bound.
fn window() -> impl Strategy<Value = (Option<u8>, Option<u8>)> + Clone {
    (1u8..=3, 1u8..=3, 0u8..3).prop_map(|(a, b, kind)| match kind {
        0 => (Some(a), None),
        1 => (None, Some(a)),
        _ => (Some(a.min(b)), Some(a.max(b))),
    })
}

/// One rule per key of a random subset of `keys`, built by `make(index, key, value)`.
fn keyed<T: std::fmt::Debug, V: std::fmt::Debug + Clone>(
    keys: &'static [&'static str],
    value: impl Strategy<Value = V> + Clone + 'static,
    make: fn(usize, &str, V) -> T,
) -> impl Strategy<Value = Vec<T>> {
    subsequence(keys, 0..=keys.len())
        .prop_flat_map(move |ks| (Just(ks.clone()), prop::collection::vec(value.clone(), ks.len())))
        .prop_map(move |(ks, vs)| ks.iter().zip(vs).enumerate().map(|(i, (k, v))| make(i, k, v)).collect())
}

fn overrides(served: Vec<String>) -> impl Strategy<Value = OverridesSpec> {
    let domains = keyed(DOMAINS, 1u8..=3, |i, d, min_tier| DomainOverride {
        name: format!("domain-{i}"),
        domain: d.to_owned(),
        min_tier,
    });
    let tenants = keyed(TENANTS, window(), |i, t, (min_tier, max_tier)| TenantOverride {
        name: format!("tenant-{i}"),
        tenant: t.to_owned(),
        min_tier,
        max_tier,
    });
    let users = keyed(USERS, window(), |i, u, (min_tier, max_tier)| UserOverride {
        name: format!("user-{i}"),
        user: u.to_owned(),
        min_tier,
        max_tier,
    });
    let n = served.len();
    let rule = (prop::option::of(select(TENANTS)), prop::option::of(select(REGIONS)), subsequence(served, 1..=n));
    let residency = prop::collection::vec(rule, 0..3).prop_map(|rules| {
        (rules.into_iter().enumerate())
            .map(|(i, (tenant, region, allowed))| ResidencyRule {
                name: format!("residency-{i}"),
                tenant: tenant.map(str::to_owned),
                request_region: region.map(str::to_owned),
                allowed_regions: allowed,
            })
            .collect()
    });
    (domains, tenants, users, residency).prop_map(|(domains, tenants, users, residency)| OverridesSpec {
        domains,
        tenants,
        users,
        residency,
    })
}

const LIMIT_KEYS: &[&str] = &["*", "t0", "t1", "t2"];

fn limits() -> impl Strategy<Value = LimitsSpec> {
    let tenants = keyed(LIMIT_KEYS, (decimal(1, 100_000, 1e2), 1u32..100), |i, t, (rps, burst)| RateLimit {
        name: format!("limit-{i}"),
        tenant: t.to_owned(),
        requests_per_second: rps,
        burst,
    });
    let tier3 =
        keyed(LIMIT_KEYS, (decimal(1, 100_000, 1e2), 1u32..100, any::<bool>()), |i, t, (rps, burst, reject)| {
            Tier3Limit {
                name: format!("t3-{i}"),
                tenant: t.to_owned(),
                requests_per_second: rps,
                burst,
                on_exceed: if reject { OnExceed::Reject } else { OnExceed::Downgrade },
            }
        });
    (tenants, tier3).prop_map(|(tenants, tier3)| LimitsSpec { tenants, tier3 })
}

fn classifier() -> impl Strategy<Value = ClassifierSpec> {
    (fraction(0), fraction(0), 8u32..=512).prop_map(|(risk, confidence, max_tokens)| ClassifierSpec {
        max_underroute_risk: risk,
        confidence_threshold: confidence,
        max_tokens,
    })
}

fn cache() -> impl Strategy<Value = CacheSpec> {
    // The verifier threshold is in [0, 1): a score of 1 is never required.
    let verifier = (0u16..1000).prop_map(|n| f32::from(n) / 1000.0);
    (any::<bool>(), 1u64..100_000, any::<bool>(), 1u64..100_000, fraction(1), verifier).prop_map(
        |(exact_on, exact_ttl, semantic_on, semantic_ttl, similarity, verifier)| CacheSpec {
            exact: ExactCacheSpec { enabled: exact_on, ttl_seconds: exact_ttl },
            semantic: SemanticCacheSpec {
                enabled: semantic_on,
                ttl_seconds: semantic_ttl,
                similarity_threshold: similarity,
                verifier_threshold: verifier,
            },
        },
    )
}

fn cascade() -> impl Strategy<Value = CascadeSpec> {
    (0u8..=2, any::<bool>(), 0u32..500, prop::option::of(fraction(0))).prop_map(|(depth, refusals, len, score)| {
        CascadeSpec {
            max_depth: depth,
            gate: GateSpec {
                reject_refusals: refusals,
                require_complete: !refusals,
                min_length: len,
                validate_json_schema: refusals,
                min_verifier_score: score,
            },
        }
    })
}

fn valid_config() -> impl Strategy<Value = RouterConfig> {
    tiers().prop_flat_map(|tiers| {
        let mut served: Vec<String> = tiers.iter().flat_map(|t| &t.providers).map(|p| p.region.clone()).collect();
        served.sort();
        served.dedup();
        let policy = (
            0u64..=(1 << 53) - 1,
            classifier(),
            cache(),
            overrides(served),
            limits(),
            cascade(),
            1u32..4096,
            any::<bool>(),
        )
            .prop_map(|(version, classifier, cache, overrides, limits, cascade, out, log)| PolicySpec {
                name: "prop".into(),
                version,
                classifier,
                cache,
                overrides,
                limits,
                cascade,
                expected_output_tokens: out,
                log_prompts: log,
            });
        (policy, Just(tiers)).prop_map(|(policy, tiers)| RouterConfig { policy, tiers })
    })
}

#[derive(Debug, Clone)]
struct Request {
    tenant: &'static str,
    user: Option<&'static str>,
    region: Option<&'static str>,
    min_tier: Option<u8>,
    max_tier: Option<u8>,
    scores: [f32; 3],
    confidence: f32,
    domain: &'static str,
}

impl Request {
    fn input(&self) -> PolicyInput<'_> {
        PolicyInput {
            tenant: self.tenant,
            user: self.user,
            region: self.region,
            min_tier: self.min_tier,
            max_tier: self.max_tier,
            scores: self.scores,
            confidence: self.confidence,
            domain: self.domain,
        }
    }
}

fn probability() -> impl Strategy<Value = f32> {
    prop_oneof![8 => 0.0f32..=1.0, 1 => Just(f32::NAN), 1 => -1.0f32..2.0]
}

fn request() -> impl Strategy<Value = Request> {
    let tenant = select(&["t0", "t1", "t2", "t3", "stranger"][..]);
    let user = prop::option::of(select(&["u0", "u1", "u2", "nobody"][..]));
    let hint = prop::option::of(0u8..=5);
    let scores = [probability(), probability(), probability()];
    let domain = select(&["general", "code", "legal", "medical", "unlabelled"][..]);
    (tenant, user, prop::option::of(select(REGIONS)), hint.clone(), hint, scores, probability(), domain).prop_map(
        |(tenant, user, region, min_tier, max_tier, scores, confidence, domain)| Request {
            tenant,
            user,
            region,
            min_tier,
            max_tier,
            scores,
            confidence,
            domain,
        },
    )
}

fn valid_hints() -> impl Strategy<Value = (Option<u8>, Option<u8>)> {
    let hint = prop::option::of(1u8..=3);
    (hint.clone(), hint).prop_map(|(lo, hi)| match (lo, hi) {
        (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
        other => other,
    })
}

fn compiled(cfg: RouterConfig) -> CompiledPolicy {
    compile(cfg, DOMAINS).unwrap_or_else(|e| panic!("a valid config was refused: {e}"))
}

/// Override windows that apply, most specific first: user, tenant, domain.
fn windows(policy: &CompiledPolicy, input: &PolicyInput<'_>) -> Vec<(u8, u8)> {
    let user = input.user.and_then(|u| policy.user_override(u));
    let rules = [user, policy.tenant_override(input.tenant), policy.domain_override(input.domain)];
    rules.into_iter().flatten().map(|b| (b.min, b.max)).collect()
}

fn intersect((a, b): (u8, u8), (c, d): (u8, u8)) -> Option<(u8, u8)> {
    (a.max(c) <= b.min(d)).then_some((a.max(c), b.min(d)))
}

/// The intersection of the longest most-specific-first prefix of windows that still overlaps:
/// where rules conflict the more specific one wins, and the result must lie in here.
fn honoured(windows: &[(u8, u8)]) -> (u8, u8) {
    windows.iter().try_fold((1, 3), |acc, w| intersect(acc, *w).ok_or(acc)).unwrap_or_else(|acc| acc)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn chosen_tier_respects_overrides_by_precedence(cfg in valid_config(), req in request()) {
        let policy = compiled(cfg);
        let input = req.input();
        let choice = choose_tier(&policy, &input);
        prop_assert!((1..=3).contains(&choice.tier));
        prop_assert!(choice.tier <= tier_cap(&policy, &input));
        let ws = windows(&policy, &input);
        let (lo, hi) = honoured(&ws);
        let tier = choice.tier;
        prop_assert!(lo <= tier && tier <= hi, "tier {} not in {:?} from {:?}", tier, (lo, hi), ws);
        let conflict_free = ws.iter().try_fold((1, 3), |acc, w| intersect(acc, *w)).is_some();
        if conflict_free {
            for (min, max) in &ws {
                prop_assert!(*min <= choice.tier && choice.tier <= *max);
            }
        }
    }

    #[test]
    fn valid_hints_hold_unless_an_override_forbids(
        cfg in valid_config(),
        req in request(),
        hints in valid_hints(),
    ) {
        let policy = compiled(cfg);
        let input = PolicyInput { min_tier: hints.0, max_tier: hints.1, ..req.input() };
        prop_assert!(input.validate_hints().is_ok());
        let hint = (input.min_tier.unwrap_or(1), input.max_tier.unwrap_or(3));
        let ws = windows(&policy, &input);
        let overrides = ws.iter().try_fold((1, 3), |acc, w| intersect(acc, *w));
        if overrides.and_then(|o| intersect(o, hint)).is_some() {
            let tier = choose_tier(&policy, &input).tier;
            prop_assert!(hint.0 <= tier && tier <= hint.1);
        }
    }

    #[test]
    fn raising_the_min_hint_never_lowers_the_tier(
        cfg in valid_config(),
        req in request(),
        a in 0u8..=4,
        b in 0u8..=4,
    ) {
        let policy = compiled(cfg);
        let (low, high) = (a.min(b), a.max(b));
        let lower = choose_tier(&policy, &PolicyInput { min_tier: Some(low), ..req.input() });
        let higher = choose_tier(&policy, &PolicyInput { min_tier: Some(high), ..req.input() });
        prop_assert!(lower.tier <= higher.tier);
        let none = choose_tier(&policy, &PolicyInput { min_tier: None, ..req.input() });
        prop_assert!(none.tier <= lower.tier);
    }

    #[test]
    fn compile_is_stable_across_a_serde_round_trip(cfg in valid_config()) {
        let json = serde_json::to_string(&cfg).unwrap();
        let reparsed = parse_config(&json).unwrap_or_else(|e| panic!("round trip failed: {e}"));
        prop_assert_eq!(&reparsed, &cfg);
        prop_assert_eq!(compiled(reparsed), compiled(cfg));
    }

    #[test]
    fn mutated_configs_are_refused_at_the_mutated_path(
        cfg in valid_config(),
        which in 0usize..MUTATIONS,
        k in any::<usize>(),
        x in 0.0f64..1.0,
    ) {
        let mut cfg = cfg;
        let expected = mutate(&mut cfg, which, k, x);
        match compile(cfg, DOMAINS) {
            Err(CoreError::InvalidConfig { path, .. }) => prop_assert_eq!(path, expected),
            other => {
                let got = other.map(|p| p.version());
                prop_assert!(false, "mutation {} accepted or misreported: {:?}", which, got);
            }
        }
    }

    #[test]
    fn unknown_fields_anywhere_are_refused_by_path(cfg in valid_config(), k in any::<usize>()) {
        let mut doc = serde_json::to_value(&cfg).unwrap();
        let mut objects = Vec::new();
        object_paths(&doc, String::new(), &mut objects);
        let target = objects[k % objects.len()].clone();
        insert_at(&mut doc, &target, "bogusField");
        let expected = match target.as_str() {
            "" => "bogusField".to_owned(),
            t => format!("{t}.bogusField"),
        };
        match parse_config(&doc.to_string()) {
            Err(CoreError::InvalidConfig { path, message }) => {
                prop_assert_eq!(path, expected);
                prop_assert!(message.starts_with("unknown field"), "{}", message);
            }
            other => prop_assert!(false, "accepted: {:?}", other.map(|c| c.policy.version)),
        }
    }
}

/// Paths of every JSON object in `doc`, written like the error paths.
fn object_paths(doc: &serde_json::Value, path: String, out: &mut Vec<String>) {
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match doc {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                object_paths(value, join(key), out);
            }
            out.push(path);
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                object_paths(item, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn insert_at(doc: &mut serde_json::Value, path: &str, key: &str) {
    let pointer: String =
        path.replace('[', ".").replace(']', "").split('.').filter(|s| !s.is_empty()).map(|s| format!("/{s}")).collect();
    let target = doc.pointer_mut(&pointer).and_then(|v| v.as_object_mut()).unwrap();
    target.insert(key.to_owned(), serde_json::json!(1));
}

const MUTATIONS: usize = 26;

/// Breaks `cfg` in one way (`which`), aiming at element `k`, and returns the path compile must
/// report. Mutations that remove providers also drop residency rules, which could otherwise
/// fail first for a region no longer served.
fn mutate(cfg: &mut RouterConfig, which: usize, k: usize, x: f64) -> String {
    let out_of_unit = [1.0 + x as f32 + f32::EPSILON, -x as f32 - f32::EPSILON, f32::NAN][k % 3];
    let t = k % cfg.tiers.len();
    let p = k % cfg.tiers[t].providers.len();
    let pp = format!("tiers[{t}].providers[{p}]");
    let o = &mut cfg.policy.overrides;
    let fresh = "fresh-key".to_owned();
    match which {
        0 => {
            cfg.policy.classifier.max_underroute_risk = out_of_unit;
            "policy.classifier.maxUnderrouteRisk".into()
        }
        1 => {
            cfg.policy.classifier.confidence_threshold = out_of_unit;
            "policy.classifier.confidenceThreshold".into()
        }
        2 => {
            cfg.policy.classifier.max_tokens =
                if k.is_multiple_of(2) { (k % 8) as u32 } else { 513 + (k % 10_000) as u32 };
            "policy.classifier.maxTokens".into()
        }
        3 => {
            cfg.policy.cache.semantic.similarity_threshold = [0.0, 1.0 + x as f32 + f32::EPSILON, f32::NAN][k % 3];
            "policy.cache.semantic.similarityThreshold".into()
        }
        4 => {
            cfg.policy.cascade.max_depth = 3 + (k % 253) as u8;
            "policy.cascade.maxDepth".into()
        }
        5 => {
            o.domains.push(DomainOverride { name: "bad-domain".into(), domain: "astrology".into(), min_tier: 2 });
            format!("policy.overrides.domains[{}].domain", o.domains.len() - 1)
        }
        6 => {
            let min_tier = [0, 4, 255][k % 3];
            o.tenants.push(TenantOverride {
                name: "bad".into(),
                tenant: fresh,
                min_tier: Some(min_tier),
                max_tier: None,
            });
            format!("policy.overrides.tenants[{}].minTier", o.tenants.len() - 1)
        }
        7 => {
            o.users.push(UserOverride {
                name: "bad".into(),
                user: fresh,
                min_tier: Some(3),
                max_tier: Some(1 + (k % 2) as u8),
            });
            format!("policy.overrides.users[{}].maxTier", o.users.len() - 1)
        }
        8 => {
            o.tenants.push(TenantOverride { name: "bad".into(), tenant: fresh, min_tier: None, max_tier: None });
            format!("policy.overrides.tenants[{}]", o.tenants.len() - 1)
        }
        9 => {
            o.users.push(UserOverride { name: "hint".into(), user: fresh, min_tier: Some(2), max_tier: None });
            format!("policy.overrides.users[{}].name", o.users.len() - 1)
        }
        10 => {
            let original = o.tenants.len();
            let name = o.tenants.first().map_or("dup".to_owned(), |r| r.name.clone());
            for tenant in ["fresh-a", "fresh-b"] {
                o.tenants.push(TenantOverride {
                    name: name.clone(),
                    tenant: tenant.into(),
                    min_tier: Some(1),
                    max_tier: None,
                });
            }
            format!("policy.overrides.tenants[{}].name", original.max(1))
        }
        11 => {
            o.residency.push(ResidencyRule {
                name: "mars".into(),
                tenant: None,
                request_region: None,
                allowed_regions: vec!["mars".into()],
            });
            format!("policy.overrides.residency[{}].allowedRegions[0]", o.residency.len() - 1)
        }
        12 => {
            o.residency.push(ResidencyRule {
                name: "none".into(),
                tenant: Some(fresh),
                request_region: None,
                allowed_regions: vec![],
            });
            format!("policy.overrides.residency[{}].allowedRegions", o.residency.len() - 1)
        }
        13 => {
            let l = &mut cfg.policy.limits.tenants;
            l.push(RateLimit { name: "bad".into(), tenant: fresh, requests_per_second: 1.0, burst: 0 });
            format!("policy.limits.tenants[{}].burst", l.len() - 1)
        }
        14 => {
            let l = &mut cfg.policy.limits.tier3;
            let rps = [0.0, -x - 1e-9, f64::NAN, f64::INFINITY][k % 4];
            l.push(Tier3Limit {
                name: "bad".into(),
                tenant: fresh,
                requests_per_second: rps,
                burst: 1,
                on_exceed: OnExceed::Reject,
            });
            format!("policy.limits.tier3[{}].requestsPerSecond", l.len() - 1)
        }
        15 => {
            cfg.tiers[t].tier = [0, 4, 255][k % 3];
            format!("tiers[{t}].tier")
        }
        16 => {
            cfg.tiers[2].tier = cfg.tiers[k % 2].tier;
            "tiers[2].tier".into()
        }
        17 => {
            cfg.tiers.remove(t);
            cfg.policy.overrides.residency.clear();
            "tiers".into()
        }
        18 => {
            cfg.tiers[t].providers.clear();
            cfg.policy.overrides.residency.clear();
            format!("tiers[{t}].providers")
        }
        19 => {
            cfg.tiers[t].providers[p].base_url =
                ["ftp://x", "", "https://", "http:// spaces", "localhost:80"][k % 5].into();
            format!("{pp}.baseUrl")
        }
        20 => {
            cfg.tiers[t].providers[p].price_input_per_mtok = [-x - 1e-9, f64::NAN, f64::INFINITY][k % 3];
            format!("{pp}.priceInputPerMtok")
        }
        21 => {
            cfg.tiers[t].providers[p].timeout_ms = Some(0);
            format!("{pp}.timeoutMs")
        }
        22 => {
            let b = &mut cfg.tiers[t].breaker;
            match k % 4 {
                0 => b.failure_threshold = 0,
                1 => b.half_open_probes = 0,
                2 => b.success_threshold = 0,
                _ => b.open_seconds = [0.0, -x, f64::NAN, f64::INFINITY][(k / 4) % 4],
            }
            let field = ["failureThreshold", "halfOpenProbes", "successThreshold", "openSeconds"][k % 4];
            format!("tiers[{t}].breaker.{field}")
        }
        23 => {
            cfg.policy.version = (1 << 53) + (k as u64 % (u64::MAX - (1 << 53)));
            "policy.version".into()
        }
        24 => {
            let cache = &mut cfg.policy.cache;
            let ttl = [0, 31_536_001, u64::MAX][k % 3];
            if k.is_multiple_of(2) {
                cache.exact.ttl_seconds = ttl;
                "policy.cache.exact.ttlSeconds".into()
            } else {
                cache.semantic.ttl_seconds = ttl;
                "policy.cache.semantic.ttlSeconds".into()
            }
        }
        _ => {
            let name = cfg.tiers[0].providers[0].name.clone();
            cfg.tiers[2].providers[0].name = name;
            "tiers[2].providers[0].name".into()
        }
    }
}
