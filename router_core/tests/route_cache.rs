//! Cache hits through the whole router, on the real models: a hit is a candidate the policy
//! still checks (tier, pin, Tier-3 limit, region), and the key covers the whole request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::OnceLock;

use proptest::prelude::*;
use router_core::cache::CachedAnswer;
use router_core::policy::Reason;
use router_core::route::{Decision, RouteRequest, Router, RouterOptions};

const CONFIG: &str = r#"{
  "policy": {
    "name": "cache-hits", "version": 1,
    "overrides": {
      "residency": [{"name": "eu-only", "requestRegion": "eu", "allowedRegions": ["eu-west-1"]}]
    },
    "limits": {
      "tier3": [{"name": "t3-scarce", "tenant": "scarce", "requestsPerSecond": 0.0001, "burst": 1}]
    }
  },
  "tiers": [
    {"tier": 1, "name": "fast", "providers": [
      {"name": "fast-us", "model": "fast", "baseUrl": "http://fast-us", "region": "us-east-1",
       "priceInputPerMtok": 0.1, "priceOutputPerMtok": 0.4},
      {"name": "fast-eu", "model": "fast", "baseUrl": "http://fast-eu", "region": "eu-west-1",
       "priceInputPerMtok": 0.1, "priceOutputPerMtok": 0.4}]},
    {"tier": 2, "name": "smart", "providers": [
      {"name": "smart-us", "model": "smart", "baseUrl": "http://smart-us", "region": "us-east-1",
       "priceInputPerMtok": 1, "priceOutputPerMtok": 2},
      {"name": "smart-eu", "model": "smart", "baseUrl": "http://smart-eu", "region": "eu-west-1",
       "priceInputPerMtok": 1, "priceOutputPerMtok": 2}]},
    {"tier": 3, "name": "reasoning", "providers": [
      {"name": "reasoning-us", "model": "reasoning", "baseUrl": "http://reasoning-us", "region": "us-east-1",
       "priceInputPerMtok": 3, "priceOutputPerMtok": 15},
      {"name": "reasoning-eu", "model": "reasoning", "baseUrl": "http://reasoning-eu", "region": "eu-west-1",
       "priceInputPerMtok": 3, "priceOutputPerMtok": 15}]}
  ]
}"#;

const EASY: &str = "How do I reset my password?";
const HARD: &str = "Prove that there are infinitely many primes p such that p + 2 is also prime, or explain why \
                    this is open, and sketch the best known partial results with their proof techniques.";

fn router() -> Router {
    let mut opts = RouterOptions::new(support::model_dir());
    opts.embedder.sessions = 1;
    let router = Router::new(&opts).unwrap();
    router.apply_config(CONFIG).unwrap();
    router
}

/// One router for the property test, which only ever adds entries under fresh contexts.
fn shared() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(router)
}

fn ask(text: &str) -> RouteRequest {
    RouteRequest { tenant: "acme".into(), text: text.into(), ..RouteRequest::default() }
}

fn answer(tier: u8, provider: &str, model: &str) -> CachedAnswer {
    CachedAnswer { tier, provider: provider.into(), model: model.into(), payload: format!("from {provider}") }
}

fn cached_from(decision: &Decision) -> Option<&str> {
    decision.cached.as_ref().map(|a| a.provider.as_str())
}

fn refusals(decision: &Decision) -> Vec<&str> {
    decision.trail.iter().map(String::as_str).filter(|line| line.contains("hit refused")).collect()
}

#[test]
fn min_tier_3_request_is_not_served_a_tier_1_answer() {
    let router = router();
    let first = router.decide(&ask(EASY)).unwrap();
    assert_eq!(first.tier, 1, "precondition: the easy question routes to tier 1");
    router.cache_put(&first, answer(1, "fast-us", "fast")).unwrap();

    let strict = router.decide(&RouteRequest { min_tier: Some(3), ..ask(EASY) }).unwrap();
    assert_eq!((strict.cached.as_ref(), strict.tier), (None, 3));
    assert_eq!(refusals(&strict), ["cache_semantic hit refused: tier 1 < policy tier 3"]);

    let again = router.decide(&ask(EASY)).unwrap();
    assert_eq!((&again.reason, cached_from(&again)), (&Reason::CacheExact, Some("fast-us")));
}

#[test]
fn max_tier_request_is_not_served_a_dearer_answer() {
    let router = router();
    let first = router.decide(&ask(EASY)).unwrap();
    router.cache_put(&first, answer(3, "reasoning-us", "reasoning")).unwrap();
    let capped = router.decide(&RouteRequest { max_tier: Some(2), ..ask(EASY) }).unwrap();
    assert_eq!(capped.cached, None);
    assert_eq!(refusals(&capped), ["cache_semantic hit refused: tier 3 > max tier 2"]);
}

#[test]
fn a_cheaper_answer_than_the_policy_wants_is_not_served() {
    let router = router();
    let first = router.decide(&ask(HARD)).unwrap();
    assert!(first.tier > 1, "precondition: the hard question routes above tier 1");
    router.cache_put(&first, answer(1, "fast-us", "fast")).unwrap();
    let again = router.decide(&ask(HARD)).unwrap();
    assert_eq!((again.cached.as_ref(), again.tier), (None, first.tier));
    let expected = format!("cache_semantic hit refused: tier 1 < policy tier {}", first.tier);
    assert_eq!(refusals(&again), [expected.as_str()]);

    router.cache_put(&again, answer(3, "reasoning-us", "reasoning")).unwrap();
    assert_eq!(cached_from(&router.decide(&ask(HARD)).unwrap()), Some("reasoning-us"));
}

#[test]
fn eu_request_is_not_served_a_us_answer() {
    let router = router();
    let first = router.decide(&ask(EASY)).unwrap();
    router.cache_put(&first, answer(1, "fast-us", "fast")).unwrap();

    let eu = router.decide(&RouteRequest { region: Some("eu".into()), ..ask(EASY) }).unwrap();
    assert_eq!((eu.cached.as_ref(), eu.provider.as_str()), (None, "fast-eu"));
    assert_eq!(
        refusals(&eu),
        [
            "cache_exact hit refused: region us-east-1 excluded by residency rule eu-only",
            "cache_semantic hit refused: region us-east-1 excluded by residency rule eu-only",
        ]
    );
    router.cache_put(&eu, answer(1, "fast-eu", "fast")).unwrap();
    let eu = router.decide(&RouteRequest { region: Some("eu".into()), ..ask(EASY) }).unwrap();
    assert_eq!(cached_from(&eu), Some("fast-eu"));
}

#[test]
fn pinned_model_is_served_only_its_own_answers() {
    let router = router();
    let first = router.decide(&ask(EASY)).unwrap();
    router.cache_put(&first, answer(3, "reasoning-us", "reasoning-2025-01")).unwrap();

    let pinned = |pin: &str, tier: u8| RouteRequest {
        pinned_model: Some(pin.into()),
        min_tier: Some(tier),
        max_tier: Some(tier),
        ..ask(EASY)
    };
    let other = router.decide(&pinned("smart", 2)).unwrap();
    assert_eq!(other.cached, None);
    assert_eq!(refusals(&other), ["cache_semantic hit refused: pinned to smart, answer from reasoning-us"]);
    // Matched on the configured model or the provider name, not the version the provider reported.
    assert_eq!(cached_from(&router.decide(&pinned("reasoning", 3)).unwrap()), Some("reasoning-us"));
    assert_eq!(cached_from(&router.decide(&pinned("reasoning-us", 3)).unwrap()), Some("reasoning-us"));
}

#[test]
fn a_provider_gone_from_the_policy_is_not_served() {
    let router = router();
    let first = router.decide(&ask(EASY)).unwrap();
    router.cache_put(&first, answer(1, "retired", "fast")).unwrap();
    let again = router.decide(&ask(EASY)).unwrap();
    assert_eq!(again.cached, None);
    assert_eq!(refusals(&again).len(), 2);
    assert!(refusals(&again)[0].ends_with("provider retired is not in the policy"));
}

#[test]
fn tier_3_answers_are_checked_against_the_tier_3_limit_but_do_not_spend_it() {
    let router = router();
    let scarce = |text: &str| RouteRequest { tenant: "scarce".into(), ..ask(text) };
    let first = router.decide(&scarce(EASY)).unwrap();
    router.cache_put(&first, answer(3, "reasoning-us", "reasoning")).unwrap();
    for _ in 0..3 {
        assert_eq!(router.decide(&scarce(EASY)).unwrap().reason, Reason::CacheExact);
    }
    // The one token is still there: hits did not take it.
    let paid = router.decide(&RouteRequest { min_tier: Some(3), ..scarce("Explain quantum entanglement") }).unwrap();
    assert_eq!(paid.tier, 3, "{:?}", paid.reason);

    let limited = router.decide(&scarce(EASY)).unwrap();
    assert_eq!(limited.cached, None);
    assert_eq!(
        refusals(&limited),
        [
            "cache_exact hit refused: tier-3 limit t3-scarce exhausted",
            "cache_semantic hit refused: tier-3 limit t3-scarce exhausted"
        ]
    );
}

#[test]
fn an_answer_the_tier_3_limit_downgraded_is_not_filed_for_exact_hits() {
    let router = router();
    let scarce = |text: &str| RouteRequest { tenant: "scarce".into(), ..ask(text) };
    router.decide(&RouteRequest { min_tier: Some(3), ..scarce("Explain quantum entanglement") }).unwrap();
    let limited = router.decide(&RouteRequest { min_tier: Some(3), ..scarce(EASY) }).unwrap();
    assert_eq!((limited.tier, &limited.reason), (2, &Reason::Limit("t3-scarce".into())));
    router.cache_put(&limited, answer(2, "smart-us", "smart")).unwrap();
    // While the budget is spent the semantic stage serves it (the policy's tier is 2 now);
    // the exact cache, which would serve it unchecked once the budget refills, never saw it.
    let again = router.decide(&RouteRequest { min_tier: Some(3), ..scarce(EASY) }).unwrap();
    assert_eq!((&again.reason, cached_from(&again)), (&Reason::CacheSemantic, Some("smart-us")));
}

#[test]
fn the_key_covers_the_context() {
    let router = router();
    let with = |context: &str| RouteRequest { context: context.into(), ..ask(EASY) };
    let first = router.decide(&with(r#"{"turns":[["user","hi"],["user",null]]}"#)).unwrap();
    router.cache_put(&first, answer(1, "fast-us", "fast")).unwrap();
    assert_eq!(router.decide(&with(r#"{"turns":[["user","hi"],["user",null]]}"#)).unwrap().reason, Reason::CacheExact);
    for other in ["", r#"{"turns":[["user","hello"],["user",null]]}"#, r#"{"temperature":1.5,"turns":[["user",null]]}"#]
    {
        let decision = router.decide(&with(other)).unwrap();
        assert_eq!((decision.cached.as_ref(), refusals(&decision).len()), (None, 0), "{other}");
    }
}

#[test]
fn the_context_is_paid_for_but_only_the_question_is_embedded() {
    let router = router();
    let system = "You are the support assistant of Acme Bank; be polite and precise. ".repeat(100);
    let context = format!(r#"{{"turns":[["system","{system}"],["user",null]]}}"#);
    let reset =
        router.decide(&RouteRequest { context: context.clone(), ..ask("I forgot my password, reset it") }).unwrap();
    router.cache_put(&reset, answer(3, "reasoning-us", "reasoning")).unwrap();
    assert!(
        reset.input_tokens > 1000 && reset.embedded_tokens < 20,
        "{} {}",
        reset.input_tokens,
        reset.embedded_tokens
    );
    let close = router.decide(&RouteRequest { context, ..ask("Close my account") }).unwrap();
    assert_eq!(close.cached, None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// An answer filed under one context is never served under another, by either cache.
    #[test]
    fn answers_never_cross_contexts(a in ".{0,40}", b in ".{0,40}", tag in any::<u64>()) {
        prop_assume!(a != b);
        let router = shared();
        let tenant = format!("prop-{tag}");
        let request = |context: &str| RouteRequest { tenant: tenant.clone(), context: context.into(), ..ask(EASY) };
        let first = router.decide(&request(&a)).unwrap();
        router.cache_put(&first, answer(3, "reasoning-us", "reasoning")).unwrap();
        prop_assert_eq!(router.decide(&request(&a)).unwrap().reason, Reason::CacheExact);
        prop_assert_eq!(router.decide(&request(&b)).unwrap().cached, None);
    }
}
