//! Tenant and Tier-3 rate limits: token buckets keyed by (rule, tenant), sharded for `&self` use.
//!
//! Each bucket is kept in GCRA form: a single "theoretical arrival time" (TAT) that moves one
//! `interval` later per admitted request. A request is admitted when the new TAT is at most
//! `burst * interval` ahead of `now`, which is exactly a bucket of `burst` tokens refilled
//! continuously at `1 / interval`; integer nanoseconds make `retry_after` exact.
//!
//! Memory: a bucket whose TAT is not after `now` is full, and a full bucket is the same as no
//! bucket, so dropping it changes no decision. Each shard drops its full buckets whenever it
//! has doubled in size since the last sweep (`prune` does it for all shards on demand); the
//! buckets kept are those of tenants active within their last `burst * interval`. That set
//! has a ceiling too (`with_max_buckets`): a shard at its share of the cap with no full bucket
//! to drop sheds the half of its buckets nearest to full (see `Shard::shed`).

use std::time::{Duration, Instant};

use ahash::AHashMap;
use parking_lot::Mutex;

use super::compile::{CompiledPolicy, LimitRule};
use super::rules::{Reason, TierChoice};
use crate::config::OnExceed;
use crate::error::{CoreError, Result};

const SHARDS: usize = 16;
const MIN_SWEEP_AT: usize = 1024;

/// Buckets kept for each kind of limit (tenant, tier 3) unless told otherwise: a bucket costs
/// ~100 bytes (tenant name, TAT, hash slot), so at most ~20 MiB for both kinds.
pub const DEFAULT_MAX_BUCKETS: usize = 100_000;

/// Rate-limit state for one process; thread-safe, each check locks one shard only.
#[derive(Debug)]
pub struct Limiter {
    tenants: Buckets,
    tier3: Buckets,
}

impl Default for Limiter {
    fn default() -> Self {
        Self::with_max_buckets(DEFAULT_MAX_BUCKETS)
    }
}

impl Limiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `max_buckets` buckets for each kind of limit (rounded up to a multiple of the
    /// 16 shards, at least one a shard).
    pub fn with_max_buckets(max_buckets: usize) -> Self {
        Self { tenants: Buckets::new(max_buckets), tier3: Buckets::new(max_buckets) }
    }

    /// Takes one token from the tenant's limit, if any rule covers it.
    pub fn check_tenant(&self, policy: &CompiledPolicy, tenant: &str, now: Instant) -> Result<()> {
        let Some(rule) = policy.tenant_limit(tenant) else {
            return Ok(());
        };
        self.tenants.take(rule, tenant, now).map_err(|retry_after| rate_limited(rule, retry_after))
    }

    /// Applies the Tier-3 limit to a choice of tier 3 (other tiers pass untouched): over
    /// budget, `downgrade` serves it from tier 2 with reason `limit:<rule>`, even against an
    /// override's `minTier`, since the budget is the operator's explicit last word;
    /// `reject` refuses it.
    pub fn limit_tier(
        &self,
        policy: &CompiledPolicy,
        tenant: &str,
        mut choice: TierChoice,
        now: Instant,
    ) -> Result<TierChoice> {
        let Some(rule) = policy.tier3_limit(tenant).filter(|_| choice.tier == 3) else {
            return Ok(choice);
        };
        let Err(retry_after) = self.tier3.take(rule, tenant, now) else {
            return Ok(choice);
        };
        match rule.on_exceed {
            OnExceed::Reject => Err(rate_limited(rule, retry_after)),
            OnExceed::Downgrade => {
                choice.tier = 2;
                choice.reason = Reason::Limit(rule.name.clone());
                choice.trail.push(format!("limit:{}->tier2", rule.name));
                Ok(choice)
            }
        }
    }

    /// Whether `limit_tier` would pass a tier-3 choice now (no rule, or a token left), without
    /// taking the token: a cached tier-3 answer is checked against the budget but costs
    /// nothing, so it does not spend it.
    pub fn tier3_open(&self, policy: &CompiledPolicy, tenant: &str, now: Instant) -> bool {
        policy.tier3_limit(tenant).is_none_or(|rule| self.tier3.would_admit(rule, tenant, now))
    }

    /// Buckets currently held (full ones may linger until the next sweep).
    pub fn len(&self) -> usize {
        self.tenants.len() + self.tier3.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every full bucket now; returns how many went.
    pub fn prune(&self, now: Instant) -> usize {
        self.tenants.prune(now) + self.tier3.prune(now)
    }
}

fn rate_limited(rule: &LimitRule, retry_after: Duration) -> CoreError {
    CoreError::RateLimited { rule: rule.name.clone(), retry_after }
}

#[derive(Debug)]
struct Buckets {
    shards: [Mutex<Shard>; SHARDS],
    hasher: ahash::RandomState,
}

impl Buckets {
    fn new(max_buckets: usize) -> Self {
        let per_shard = max_buckets.div_ceil(SHARDS).max(1);
        Self { shards: std::array::from_fn(|_| Mutex::new(Shard::new(per_shard))), hasher: ahash::RandomState::new() }
    }

    fn take(&self, rule: &LimitRule, tenant: &str, now: Instant) -> Result<(), Duration> {
        let index = self.hasher.hash_one((rule.name.as_str(), tenant)) as usize % SHARDS;
        self.shards[index].lock().take(rule, tenant, now)
    }

    fn would_admit(&self, rule: &LimitRule, tenant: &str, now: Instant) -> bool {
        let index = self.hasher.hash_one((rule.name.as_str(), tenant)) as usize % SHARDS;
        let shard = self.shards[index].lock();
        let mut tat = shard.tats.get(rule.name.as_str()).and_then(|m| m.get(tenant)).copied().unwrap_or(now);
        admit(&mut tat, rule, now).is_ok()
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }

    fn prune(&self, now: Instant) -> usize {
        self.shards.iter().map(|s| s.lock().sweep(now)).sum()
    }
}

/// TATs by rule name, then tenant: two levels so a lookup borrows both keys, allocating only
/// when a bucket is created.
#[derive(Debug)]
struct Shard {
    tats: AHashMap<String, AHashMap<String, Instant>>,
    len: usize,
    sweep_at: usize,
    max: usize,
}

impl Shard {
    fn new(max: usize) -> Self {
        Self { tats: AHashMap::new(), len: 0, sweep_at: MIN_SWEEP_AT, max }
    }

    fn take(&mut self, rule: &LimitRule, tenant: &str, now: Instant) -> Result<(), Duration> {
        if let Some(tat) = self.tats.get_mut(rule.name.as_str()).and_then(|m| m.get_mut(tenant)) {
            return admit(tat, rule, now);
        }
        if self.len >= self.sweep_at {
            self.sweep(now);
            self.sweep_at = MIN_SWEEP_AT.max(self.len.saturating_mul(2));
        }
        if self.len >= self.max {
            self.shed(now);
        }
        let mut tat = now;
        let verdict = admit(&mut tat, rule, now);
        self.tats.entry(rule.name.clone()).or_default().insert(tenant.to_owned(), tat);
        self.len += 1;
        verdict
    }

    fn sweep(&mut self, now: Instant) -> usize {
        self.retain(|tat| tat > now)
    }

    /// At the cap with every bucket still owing tokens: drops the half nearest to full (the
    /// earliest TATs, ties included). Each of those tenants finds a full bucket on its next
    /// request, a gift of at most the tokens it would have regained by its TAT; the buckets
    /// kept are the ones furthest in debt, the limits that are biting. After a shed the shard
    /// has room for half its cap again, so the O(n) selection is paid once per n/2 new tenants.
    fn shed(&mut self, now: Instant) -> usize {
        let mut dropped = self.sweep(now);
        if self.len >= self.max {
            let mut tats: Vec<Instant> = self.tats.values().flat_map(|m| m.values().copied()).collect();
            let middle = tats.len() / 2;
            let (_, median, _) = tats.select_nth_unstable(middle);
            let median = *median;
            dropped += self.retain(|tat| tat > median);
        }
        dropped
    }

    /// Keeps the buckets whose TAT passes `keep`; returns how many went. Maps left mostly empty
    /// give their memory back, so a burst of tenants does not pin its peak.
    fn retain(&mut self, keep: impl Fn(Instant) -> bool) -> usize {
        let before = self.len;
        for tenants in self.tats.values_mut() {
            tenants.retain(|_, tat| keep(*tat));
            if tenants.capacity() > 4 * tenants.len() + 64 {
                tenants.shrink_to_fit();
            }
        }
        self.tats.retain(|_, tenants| !tenants.is_empty());
        self.len = self.tats.values().map(|m| m.len()).sum();
        before - self.len
    }
}

/// GCRA: admit when the TAT after this request is within `burst * interval` of `now`; else
/// the excess is exactly how long to wait.
fn admit(tat: &mut Instant, rule: &LimitRule, now: Instant) -> Result<(), Duration> {
    let next = (*tat).max(now).checked_add(rule.interval).ok_or(Duration::MAX)?;
    let ahead = next.saturating_duration_since(now);
    let window = rule.interval.checked_mul(rule.burst).unwrap_or(Duration::MAX);
    if ahead <= window {
        *tat = next;
        Ok(())
    } else {
        Err(ahead - window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::compile::fixture::policy;

    fn choice(tier: u8) -> TierChoice {
        TierChoice { tier, reason: Reason::Classifier, trail: Vec::new() }
    }

    fn retry_after(result: Result<impl std::fmt::Debug>) -> (String, Duration) {
        match result {
            Err(CoreError::RateLimited { rule, retry_after }) => (rule, retry_after),
            other => unreachable!("expected RateLimited, got {other:?}"),
        }
    }

    #[test]
    fn tenant_bucket_admits_burst_then_gives_exact_retry_after() {
        let p = policy();
        let limiter = Limiter::new();
        let t0 = Instant::now();
        assert!(limiter.check_tenant(&p, "free", t0).is_ok());
        assert!(limiter.check_tenant(&p, "free", t0).is_ok());
        assert_eq!(retry_after(limiter.check_tenant(&p, "free", t0)), ("free-rps".into(), Duration::from_secs(1)));
        let later = t0 + Duration::from_millis(400);
        assert_eq!(retry_after(limiter.check_tenant(&p, "free", later)).1, Duration::from_millis(600));
        assert!(limiter.check_tenant(&p, "free", t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn wildcard_gives_each_tenant_its_own_bucket() {
        let p = policy();
        let limiter = Limiter::new();
        let t0 = Instant::now();
        for _ in 0..20 {
            assert!(limiter.check_tenant(&p, "a", t0).is_ok());
        }
        assert_eq!(retry_after(limiter.check_tenant(&p, "a", t0)).0, "per-tenant");
        assert!(limiter.check_tenant(&p, "b", t0).is_ok());
    }

    #[test]
    fn tier3_limit_downgrades_only_tier3_choices() {
        let p = policy();
        let limiter = Limiter::new();
        let t0 = Instant::now();
        assert_eq!(limiter.limit_tier(&p, "a", choice(3), t0).map(|c| c.tier).ok(), Some(3));
        assert_eq!(limiter.limit_tier(&p, "a", choice(2), t0).map(|c| c.tier).ok(), Some(2));
        let downgraded = limiter.limit_tier(&p, "a", choice(3), t0).ok();
        let summary = downgraded.map(|c| (c.tier, c.reason.to_string(), c.trail));
        assert_eq!(summary, Some((2, "limit:t3-budget".into(), vec!["limit:t3-budget->tier2".into()])));
        assert_eq!(limiter.limit_tier(&p, "b", choice(3), t0).map(|c| c.tier).ok(), Some(3));
    }

    #[test]
    fn tier3_reject_is_rate_limited() {
        let mut cfg = crate::policy::compile::fixture::config();
        cfg.policy.limits.tier3[0].on_exceed = OnExceed::Reject;
        let p = match crate::policy::compile(cfg, crate::policy::compile::fixture::DOMAINS) {
            Ok(p) => p,
            Err(e) => unreachable!("{e}"),
        };
        let limiter = Limiter::new();
        let t0 = Instant::now();
        assert!(limiter.limit_tier(&p, "a", choice(3), t0).is_ok());
        assert_eq!(
            retry_after(limiter.limit_tier(&p, "a", choice(3), t0)),
            ("t3-budget".into(), Duration::from_secs(2))
        );
    }

    #[test]
    fn full_buckets_are_pruned_and_idle_ones_forgotten() {
        let p = policy();
        let limiter = Limiter::new();
        let t0 = Instant::now();
        for i in 0..100 {
            assert!(limiter.check_tenant(&p, &format!("tenant-{i}"), t0).is_ok());
        }
        assert_eq!(limiter.len(), 100);
        assert_eq!(limiter.prune(t0), 0, "buckets just used are not full");
        assert_eq!(limiter.prune(t0 + Duration::from_millis(100)), 100);
        assert!(limiter.is_empty());
    }

    #[test]
    fn shards_sweep_themselves_as_they_grow() {
        let p = policy();
        let limiter = Limiter::new();
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        for i in 0..(SHARDS * MIN_SWEEP_AT) {
            assert!(limiter.check_tenant(&p, &format!("old-{i}"), t0).is_ok());
        }
        for i in 0..(SHARDS * MIN_SWEEP_AT) {
            assert!(limiter.check_tenant(&p, &format!("new-{i}"), later).is_ok());
        }
        assert!(limiter.len() < 2 * SHARDS * MIN_SWEEP_AT, "idle full buckets were swept");
    }

    #[test]
    fn bucket_count_has_a_ceiling_even_when_none_is_full() {
        let p = policy();
        let limiter = Limiter::with_max_buckets(SHARDS * 8);
        let t0 = Instant::now();
        for i in 0..5_000 {
            assert!(limiter.check_tenant(&p, &format!("tenant-{i}"), t0).is_ok());
            assert!(limiter.len() <= SHARDS * 8);
        }
        let held = limiter.len();
        assert_eq!(limiter.prune(t0 + Duration::from_secs(1)), held);
        assert!(limiter.is_empty());
    }

    #[test]
    fn at_the_cap_the_buckets_nearest_to_full_go() {
        let p = policy();
        let Some(rule) = p.tenant_limit("a") else { unreachable!("the fixture limits every tenant") };
        let mut shard = Shard::new(4);
        let t0 = Instant::now();
        for (owed, tenant) in ["a", "b", "c", "d"].iter().enumerate() {
            for _ in 0..=owed {
                assert!(shard.take(rule, tenant, t0).is_ok());
            }
        }
        assert!(shard.take(rule, "e", t0).is_ok());
        let held = |tenant: &str| shard.tats.values().any(|m| m.contains_key(tenant));
        assert!(held("d") && held("e"), "the tenant furthest in debt, and the new one, stay");
        assert!(!held("a") && !held("b"), "the two nearest to full go");
        assert!(shard.len <= 4);
    }
}
