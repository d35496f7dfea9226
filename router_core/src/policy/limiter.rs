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
//! buckets kept are those of tenants active within their last `burst * interval`.

use std::time::{Duration, Instant};

use ahash::AHashMap;
use parking_lot::Mutex;

use super::compile::{CompiledPolicy, LimitRule};
use super::rules::{Reason, TierChoice};
use crate::config::OnExceed;
use crate::error::{CoreError, Result};

const SHARDS: usize = 16;
const MIN_SWEEP_AT: usize = 1024;

/// Rate-limit state for one process; thread-safe, each check locks one shard only.
#[derive(Debug, Default)]
pub struct Limiter {
    tenants: Buckets,
    tier3: Buckets,
}

impl Limiter {
    pub fn new() -> Self {
        Self::default()
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

impl Default for Buckets {
    fn default() -> Self {
        Self { shards: std::array::from_fn(|_| Mutex::default()), hasher: ahash::RandomState::new() }
    }
}

impl Buckets {
    fn take(&self, rule: &LimitRule, tenant: &str, now: Instant) -> Result<(), Duration> {
        let index = self.hasher.hash_one((rule.name.as_str(), tenant)) as usize % SHARDS;
        self.shards[index].lock().take(rule, tenant, now)
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
}

impl Default for Shard {
    fn default() -> Self {
        Self { tats: AHashMap::new(), len: 0, sweep_at: MIN_SWEEP_AT }
    }
}

impl Shard {
    fn take(&mut self, rule: &LimitRule, tenant: &str, now: Instant) -> Result<(), Duration> {
        if let Some(tat) = self.tats.get_mut(rule.name.as_str()).and_then(|m| m.get_mut(tenant)) {
            return admit(tat, rule, now);
        }
        if self.len >= self.sweep_at {
            self.sweep(now);
            self.sweep_at = MIN_SWEEP_AT.max(self.len.saturating_mul(2));
        }
        let mut tat = now;
        let verdict = admit(&mut tat, rule, now);
        self.tats.entry(rule.name.clone()).or_default().insert(tenant.to_owned(), tat);
        self.len += 1;
        verdict
    }

    fn sweep(&mut self, now: Instant) -> usize {
        let before = self.len;
        for tenants in self.tats.values_mut() {
            tenants.retain(|_, tat| *tat > now);
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
}
