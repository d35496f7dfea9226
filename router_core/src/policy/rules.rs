//! The tier decision (classifier, confidence gate, hints, overrides) and provider selection.
//!
//! Precedence, least to most specific: classifier -> confidence gate -> request hints ->
//! domain override -> tenant override -> user override. Each stage clamps the tier into its
//! own window, so a later stage wins a conflict: a tenant's `maxTier` caps a domain's
//! `minTier` and a request hint, and a user's window beats the tenant's. Hints therefore
//! never push past an override. Every stage is monotone, so raising a hint never lowers the
//! tier.

use std::fmt;
use std::time::Instant;

use super::compile::{CompiledPolicy, CompiledProvider, TierBounds, HINT_RULE};
use crate::breaker::BreakerBoard;
use crate::error::{CoreError, Result};

/// What the policy knows about one request once the classifier has run.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInput<'a> {
    pub tenant: &'a str,
    pub user: Option<&'a str>,
    /// Where the request comes from, for residency rules.
    pub region: Option<&'a str>,
    pub min_tier: Option<u8>,
    pub max_tier: Option<u8>,
    /// P(ideal tier = 1, 2, 3).
    pub scores: [f32; 3],
    pub confidence: f32,
    pub domain: &'a str,
}

impl PolicyInput<'_> {
    /// Hints must be tiers and `min <= max`; for the request boundary, where a bad hint is the
    /// caller's error. `choose_tier` itself tolerates anything.
    pub fn validate_hints(&self) -> Result<()> {
        validate_hints(self.min_tier, self.max_tier)
    }
}

/// Tier hints as a request carries them: each a tier, and `min <= max`.
pub fn validate_hints(min_tier: Option<u8>, max_tier: Option<u8>) -> Result<()> {
    for (field, hint) in [("min_tier", min_tier), ("max_tier", max_tier)] {
        if hint.is_some_and(|t| !(1..=3).contains(&t)) {
            return Err(invalid_hint(field, "must be 1, 2 or 3"));
        }
    }
    match (min_tier, max_tier) {
        (Some(lo), Some(hi)) if lo > hi => Err(invalid_hint("max_tier", "must be >= min_tier")),
        _ => Ok(()),
    }
}

fn invalid_hint(field: &str, message: &str) -> CoreError {
    CoreError::InvalidRequest { field: field.to_owned(), message: message.to_owned() }
}

/// Why a decision landed on its tier; `Display` is the decision log's `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    CacheExact,
    CacheSemantic,
    Classifier,
    Override(String),
    Limit(String),
    Escalated,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CacheExact => f.write_str("cache_exact"),
            Self::CacheSemantic => f.write_str("cache_semantic"),
            Self::Classifier => f.write_str("classifier"),
            Self::Override(rule) => write!(f, "override:{rule}"),
            Self::Limit(rule) => write!(f, "limit:{rule}"),
            Self::Escalated => f.write_str("escalated"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierChoice {
    pub tier: u8,
    pub reason: Reason,
    /// Every stage that moved the tier, in order, for the decision log.
    pub trail: Vec<String>,
}

/// One override stage: a rule's tier window and what it matched, for the trail.
struct Window<'a> {
    rule: &'a str,
    min: u8,
    max: u8,
    scope: &'static str,
    key: &'a str,
}

impl Window<'_> {
    fn clamp(&self, tier: u8) -> u8 {
        tier.max(self.min).min(self.max)
    }
}

/// The override windows that apply to `input`, least specific first (see the module doc).
fn windows<'a>(policy: &'a CompiledPolicy, input: &PolicyInput<'a>) -> [Option<Window<'a>>; 4] {
    let hint = Window {
        rule: HINT_RULE,
        min: input.min_tier.unwrap_or(1).clamp(1, 3),
        max: input.max_tier.unwrap_or(3).clamp(1, 3),
        scope: "request",
        key: "",
    };
    let rule = |bounds: Option<&'a TierBounds>, scope, key| {
        bounds.map(|b| Window { rule: &b.rule, min: b.min, max: b.max, scope, key })
    };
    [
        Some(hint),
        rule(policy.domain_override(input.domain), "domain", input.domain),
        rule(policy.tenant_override(input.tenant), "tenant", input.tenant),
        input.user.and_then(|u| rule(policy.user_override(u), "user", u)),
    ]
}

impl TierChoice {
    /// Clamps into the window; its rule becomes the reason only if it moved the tier.
    fn apply(&mut self, window: &Window<'_>) {
        let tier = window.clamp(self.tier);
        if tier != self.tier {
            self.tier = tier;
            self.reason = Reason::Override(window.rule.to_owned());
            let Window { rule, scope, key, .. } = window;
            let sep = if key.is_empty() { "" } else { "=" };
            self.trail.push(format!("override:{rule}({scope}{sep}{key})->tier{tier}"));
        }
    }
}

/// The cheapest tier `t` whose risk of being too weak, P(ideal > t), is at most `max_risk`.
/// A NaN risk never passes, so NaN scores push the tier up, never down.
pub fn classifier_tier(scores: &[f32; 3], max_risk: f32) -> u8 {
    let [_, p2, p3] = *scores;
    if p2 + p3 <= max_risk {
        1
    } else if p3 <= max_risk {
        2
    } else {
        3
    }
}

/// Decides the tier of a request that missed the caches (see the module doc for precedence).
pub fn choose_tier(policy: &CompiledPolicy, input: &PolicyInput<'_>) -> TierChoice {
    let cls = policy.classifier();
    let tier = classifier_tier(&input.scores, cls.max_underroute_risk);
    let mut choice = TierChoice { tier, reason: Reason::Classifier, trail: vec![format!("classifier->tier{tier}")] };
    // NaN confidence counts as low: an uncalibrated answer must not save money.
    if input.confidence.is_nan() || input.confidence < cls.confidence_threshold {
        choice.tier = (tier + 1).min(3);
        choice.trail.push(format!(
            "gate:confidence {:.2}<{:.2}->tier{}",
            input.confidence, cls.confidence_threshold, choice.tier
        ));
    }
    for window in windows(policy, input).iter().flatten() {
        choice.apply(window);
    }
    choice
}

/// The highest tier the request's hints and overrides allow: where cascade escalation stops.
pub fn tier_cap(policy: &CompiledPolicy, input: &PolicyInput<'_>) -> u8 {
    windows(policy, input).iter().flatten().fold(3, |tier, w| w.clamp(tier))
}

/// The regions a request may be served from, and the residency rules that said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Residency<'p> {
    pub rules: Vec<&'p str>,
    /// The intersection of every matching rule's `allowedRegions`; may be empty.
    pub regions: Vec<&'p str>,
}

impl Residency<'_> {
    pub fn allows(&self, region: &str) -> bool {
        self.regions.contains(&region)
    }

    /// `rule` or `rule1+rule2`, for error messages and the decision log.
    pub fn label(&self) -> String {
        self.rules.join("+")
    }
}

/// Residency rules matching this tenant and request region (a rule's unset field matches
/// anything; a set `requestRegion` needs a request region). `None` when no rule matches.
pub fn allowed_regions<'p>(policy: &'p CompiledPolicy, tenant: &str, region: Option<&str>) -> Option<Residency<'p>> {
    let mut matching = policy.residency_rules().iter().filter(|r| {
        r.tenant.as_deref().is_none_or(|t| t == tenant)
            && r.request_region.as_deref().is_none_or(|want| region == Some(want))
    });
    let first = matching.next()?;
    let mut residency = Residency {
        rules: vec![first.name.as_str()],
        regions: first.allowed_regions.iter().map(String::as_str).collect(),
    };
    for rule in matching {
        residency.rules.push(&rule.name);
        residency.regions.retain(|r| rule.allowed_regions.iter().any(|a| a == r));
    }
    Some(residency)
}

/// Why a provider cannot take a request now.
enum Exclusion {
    Residency,
    Breaker,
}

fn exclusion(
    provider: &CompiledProvider,
    residency: Option<&Residency<'_>>,
    breakers: &BreakerBoard,
    now: Instant,
) -> Option<Exclusion> {
    if residency.is_some_and(|r| !r.allows(&provider.spec.region)) {
        Some(Exclusion::Residency)
    } else if !breakers.would_allow(&provider.spec.name, now) {
        Some(Exclusion::Breaker)
    } else {
        None
    }
}

/// The providers of `tier` that may take the request, in failover order. Breakers are only
/// consulted, not reserved: call `BreakerBoard::allow` right before each actual call.
pub fn candidates<'p>(
    policy: &'p CompiledPolicy,
    tier: u8,
    residency: Option<&Residency<'_>>,
    breakers: &BreakerBoard,
    now: Instant,
) -> Vec<&'p CompiledProvider> {
    let providers = &policy.tier(tier).providers;
    providers.iter().filter(|p| exclusion(p, residency, breakers, now).is_none()).collect()
}

/// Providers for a request that needs at least `required`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection<'p> {
    /// The tier actually used: `required` or above, never below.
    pub tier: u8,
    /// True when no provider of `required` could serve and a higher tier took over.
    pub moved: bool,
    /// In failover order; never empty.
    pub providers: Vec<&'p CompiledProvider>,
}

/// Walks up from `required` to the first tier with a candidate. Never down: a cheaper tier
/// than the policy asked for is a quality regression, a dearer one only costs money.
pub fn select_providers<'p>(
    policy: &'p CompiledPolicy,
    required: u8,
    residency: Option<&Residency<'_>>,
    breakers: &BreakerBoard,
    now: Instant,
) -> Result<Selection<'p>> {
    let required = required.clamp(1, 3);
    for tier in required..=3 {
        let providers = candidates(policy, tier, residency, breakers, now);
        if !providers.is_empty() {
            return Ok(Selection { tier, moved: tier != required, providers });
        }
    }
    let why: Vec<String> = (required..=3).map(|t| unavailable(policy, t, residency, breakers, now)).collect();
    Err(CoreError::NoProvider { message: format!("nothing at tier {required} or above can serve: {}", why.join("; ")) })
}

/// `tier 2: a (breaker open), b (region us-east excluded by residency rule eu-only)`.
fn unavailable(
    policy: &CompiledPolicy,
    tier: u8,
    residency: Option<&Residency<'_>>,
    breakers: &BreakerBoard,
    now: Instant,
) -> String {
    let reasons: Vec<String> = (policy.tier(tier).providers.iter())
        .filter_map(|p| {
            let name = &p.spec.name;
            match exclusion(p, residency, breakers, now)? {
                Exclusion::Residency => Some(format!(
                    "{name} (region {} excluded by residency rule {})",
                    p.spec.region,
                    residency.map(Residency::label).unwrap_or_default()
                )),
                Exclusion::Breaker => {
                    let state = breakers.state(name).map(|s| s.to_string()).unwrap_or_default();
                    Some(format!("{name} (breaker {state})"))
                }
            }
        })
        .collect();
    format!("tier {tier}: {}", reasons.join(", "))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::breaker::Outcome;
    use crate::policy::compile::fixture::policy;

    fn input(scores: [f32; 3]) -> PolicyInput<'static> {
        PolicyInput {
            tenant: "t",
            user: None,
            region: None,
            min_tier: None,
            max_tier: None,
            scores,
            confidence: 0.9,
            domain: "general",
        }
    }

    fn names(providers: &[&CompiledProvider]) -> Vec<String> {
        providers.iter().map(|p| p.spec.name.clone()).collect()
    }

    #[test]
    fn reason_labels_match_the_design() {
        let labels: Vec<String> = [
            Reason::CacheExact,
            Reason::CacheSemantic,
            Reason::Classifier,
            Reason::Override("r".into()),
            Reason::Limit("l".into()),
            Reason::Escalated,
        ]
        .iter()
        .map(Reason::to_string)
        .collect();
        assert_eq!(labels, ["cache_exact", "cache_semantic", "classifier", "override:r", "limit:l", "escalated"]);
    }

    #[test]
    fn classifier_takes_the_cheapest_tier_within_risk() {
        assert_eq!(classifier_tier(&[0.8, 0.15, 0.05], 0.3), 1);
        assert_eq!(classifier_tier(&[0.5, 0.3, 0.2], 0.3), 2);
        assert_eq!(classifier_tier(&[0.2, 0.3, 0.5], 0.3), 3);
        assert_eq!(classifier_tier(&[0.7, 0.3, 0.0], 0.3), 1, "risk equal to the bound passes");
        assert_eq!(classifier_tier(&[f32::NAN, 0.0, 0.0], 0.3), 1);
        assert_eq!(classifier_tier(&[0.0, f32::NAN, 0.0], 0.3), 2);
    }

    #[test]
    fn low_confidence_moves_up_one_tier_but_keeps_the_reason() {
        let p = policy();
        let choice = choose_tier(&p, &PolicyInput { confidence: 0.2, ..input([0.9, 0.1, 0.0]) });
        assert_eq!((choice.tier, &choice.reason), (2, &Reason::Classifier));
        assert_eq!(choice.trail, ["classifier->tier1", "gate:confidence 0.20<0.50->tier2"]);
        let nan = choose_tier(&p, &PolicyInput { confidence: f32::NAN, ..input([0.0, 0.0, 1.0]) });
        assert_eq!(nan.tier, 3);
    }

    #[test]
    fn domain_override_raises_to_its_minimum() {
        let p = policy();
        let choice = choose_tier(&p, &PolicyInput { domain: "legal", ..input([1.0, 0.0, 0.0]) });
        assert_eq!((choice.tier, choice.reason.to_string()), (3, "override:legal-strong".into()));
    }

    #[test]
    fn tenant_max_caps_domain_min_and_user_beats_tenant() {
        let p = policy();
        let capped = choose_tier(&p, &PolicyInput { domain: "legal", tenant: "free", ..input([1.0, 0.0, 0.0]) });
        assert_eq!((capped.tier, capped.reason.to_string()), (2, "override:free-cap".into()));
        let trail = [
            "classifier->tier1",
            "override:legal-strong(domain=legal)->tier3",
            "override:free-cap(tenant=free)->tier2",
        ];
        assert_eq!(capped.trail, trail);
        let ceo = PolicyInput { tenant: "free", user: Some("alice"), ..input([1.0, 0.0, 0.0]) };
        let choice = choose_tier(&p, &ceo);
        assert_eq!((choice.tier, choice.reason.to_string()), (3, "override:ceo".into()));
    }

    #[test]
    fn hints_clamp_within_overrides() {
        let p = policy();
        let up = choose_tier(&p, &PolicyInput { min_tier: Some(3), ..input([1.0, 0.0, 0.0]) });
        assert_eq!((up.tier, up.reason.to_string()), (3, "override:hint".into()));
        let capped = choose_tier(&p, &PolicyInput { min_tier: Some(3), tenant: "free", ..input([1.0, 0.0, 0.0]) });
        assert_eq!(capped.tier, 2, "a hint never passes a tenant max");
        let floor = choose_tier(&p, &PolicyInput { max_tier: Some(1), tenant: "vip", ..input([1.0, 0.0, 0.0]) });
        assert_eq!((floor.tier, floor.reason.to_string()), (2, "override:vip-floor".into()));
        let down = choose_tier(&p, &PolicyInput { max_tier: Some(1), ..input([0.0, 0.0, 1.0]) });
        assert_eq!(down.tier, 1);
    }

    #[test]
    fn tier_cap_is_the_highest_tier_overrides_allow() {
        let p = policy();
        assert_eq!(tier_cap(&p, &input([1.0, 0.0, 0.0])), 3);
        assert_eq!(tier_cap(&p, &PolicyInput { tenant: "free", ..input([1.0, 0.0, 0.0]) }), 2);
        assert_eq!(tier_cap(&p, &PolicyInput { max_tier: Some(1), ..input([1.0, 0.0, 0.0]) }), 1);
        let ceo = PolicyInput { tenant: "free", user: Some("alice"), ..input([1.0, 0.0, 0.0]) };
        assert_eq!(tier_cap(&p, &ceo), 3);
    }

    #[test]
    fn hint_validation() {
        assert!(PolicyInput { min_tier: Some(2), max_tier: Some(2), ..input([1.0, 0.0, 0.0]) }
            .validate_hints()
            .is_ok());
        for (min, max, field) in
            [(Some(0), None, "min_tier"), (None, Some(4), "max_tier"), (Some(3), Some(2), "max_tier")]
        {
            match (PolicyInput { min_tier: min, max_tier: max, ..input([1.0, 0.0, 0.0]) }).validate_hints() {
                Err(CoreError::InvalidRequest { field: f, .. }) => assert_eq!(f, field),
                other => unreachable!("{other:?}"),
            }
        }
    }

    #[test]
    fn residency_matches_tenant_and_region() {
        let p = policy();
        assert_eq!(allowed_regions(&p, "other", Some("eu")), None);
        let eu = allowed_regions(&p, "acme-eu", None);
        assert_eq!(eu, Some(Residency { rules: vec!["eu-only"], regions: vec!["eu"] }));
    }

    #[test]
    fn residency_intersects_matching_rules() {
        let mut cfg = crate::policy::compile::fixture::config();
        let rules = &mut cfg.policy.overrides.residency;
        rules[0].allowed_regions.push("us".into());
        rules.push(crate::config::ResidencyRule {
            name: "from-us".into(),
            tenant: None,
            request_region: Some("us".into()),
            allowed_regions: vec!["us".into()],
        });
        let p = crate::policy::compile(cfg, crate::policy::compile::fixture::DOMAINS);
        let p = match p {
            Ok(p) => p,
            Err(e) => unreachable!("{e}"),
        };
        let both = allowed_regions(&p, "acme-eu", Some("us"));
        assert_eq!(both, Some(Residency { rules: vec!["eu-only", "from-us"], regions: vec!["us"] }));
        assert_eq!(allowed_regions(&p, "x", Some("us")).map(|r| r.label()), Some("from-us".into()));
    }

    #[test]
    fn candidates_keep_failover_order_and_drop_excluded() {
        let p = policy();
        let now = Instant::now();
        let board = BreakerBoard::for_policy(&p, now);
        assert_eq!(names(&candidates(&p, 1, None, &board, now)), ["small-us", "small-eu"]);
        let eu = allowed_regions(&p, "acme-eu", None);
        assert_eq!(names(&candidates(&p, 1, eu.as_ref(), &board, now)), ["small-eu"]);
        for _ in 0..2 {
            let _ = board.record("small-us", Outcome::Failure, now);
        }
        assert_eq!(names(&candidates(&p, 1, None, &board, now)), ["small-eu"]);
    }

    #[test]
    fn selection_moves_up_never_down() {
        let p = policy();
        let now = Instant::now();
        let board = BreakerBoard::for_policy(&p, now);
        let first = select_providers(&p, 1, None, &board, now);
        assert_eq!(first.map(|s| (s.tier, s.moved)).ok(), Some((1, false)));
        for name in ["small-us", "small-eu"] {
            for _ in 0..2 {
                let _ = board.record(name, Outcome::Failure, now);
            }
        }
        let moved = select_providers(&p, 1, None, &board, now);
        assert_eq!(
            moved.as_ref().map(|s| (s.tier, s.moved, names(&s.providers))).ok(),
            Some((2, true, vec!["mid-us".into()]))
        );
        let later = now + Duration::from_secs(5);
        assert_eq!(
            select_providers(&p, 1, None, &board, later).map(|s| s.tier).ok(),
            Some(1),
            "half-open admits again"
        );
    }

    #[test]
    fn no_provider_names_the_residency_rule_and_the_breakers() {
        let p = policy();
        let now = Instant::now();
        let board = BreakerBoard::for_policy(&p, now);
        for _ in 0..2 {
            let _ = board.record("small-eu", Outcome::Failure, now);
        }
        let eu = allowed_regions(&p, "acme-eu", None);
        match select_providers(&p, 1, eu.as_ref(), &board, now) {
            Err(CoreError::NoProvider { message }) => assert_eq!(
                message,
                "nothing at tier 1 or above can serve: \
                 tier 1: small-us (region us excluded by residency rule eu-only), small-eu (breaker open); \
                 tier 2: mid-us (region us excluded by residency rule eu-only); \
                 tier 3: big-us (region us excluded by residency rule eu-only)"
            ),
            other => unreachable!("{other:?}"),
        }
    }
}
