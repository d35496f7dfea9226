//! Policy: compile a config into lookup tables, choose a tier, apply limits, pick providers.
//!
//! The hot path, in order: `Limiter::check_tenant` -> `choose_tier` -> `Limiter::limit_tier`
//! -> `allowed_regions` -> `select_providers`; `tier_cap` bounds cascade escalation.

pub mod compile;
pub mod limiter;
pub mod rules;

pub use compile::{
    compile, parse_config, CompiledPolicy, CompiledProvider, CompiledTier, LimitRule, LimitTable, Price, TierBounds,
    HINT_RULE,
};
pub use limiter::Limiter;
pub use rules::{
    allowed_regions, candidates, choose_tier, classifier_tier, select_providers, tier_cap, validate_hints, PolicyInput,
    Reason, Residency, Selection, TierChoice,
};
