//! Every provider's breaker behind one thread-safe board, reconciled with each new policy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ahash::AHashMap;
use parking_lot::{Mutex, RwLock};

use super::state::{Breaker, BreakerState, Outcome, Transition};
use crate::policy::CompiledPolicy;

/// The answer to `allow`: whether to call the provider, and the transition the question caused
/// (an open breaker whose wait is over turns half-open when first asked).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Admission {
    pub allowed: bool,
    pub transition: Option<Transition>,
}

/// One row of `states`, for health endpoints and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerStatus {
    pub provider: String,
    pub state: BreakerState,
    /// When the current state was entered.
    pub since: Instant,
    pub consecutive_failures: u32,
    /// Open breakers only: time left before a probe is admitted.
    pub probe_in: Option<Duration>,
}

/// The map is read-locked for lookups and write-locked only by `reconcile`; each breaker has
/// its own mutex, so concurrent requests to different providers never contend.
#[derive(Debug, Default)]
pub struct BreakerBoard {
    breakers: RwLock<AHashMap<String, Mutex<Breaker>>>,
    transitions: AtomicU64,
}

impl BreakerBoard {
    pub fn new() -> Self {
        Self::default()
    }

    /// A board with a closed breaker for every provider of `policy`.
    pub fn for_policy(policy: &CompiledPolicy, now: Instant) -> Self {
        let board = Self::new();
        board.reconcile(policy, now);
        board
    }

    /// Applies a new config: providers that still exist (by name) keep their state and take
    /// their tier's new spec, new ones start closed at `now`, removed ones are dropped.
    pub fn reconcile(&self, policy: &CompiledPolicy, now: Instant) {
        let mut breakers = self.breakers.write();
        let mut next = AHashMap::with_capacity(breakers.len());
        for tier in policy.tiers() {
            for provider in &tier.providers {
                let name = &provider.spec.name;
                let mut breaker = breakers
                    .remove(name)
                    .map(Mutex::into_inner)
                    .unwrap_or_else(|| Breaker::new(name.as_str(), tier.breaker.clone(), now));
                breaker.reconfigure(tier.breaker.clone());
                next.insert(name.clone(), Mutex::new(breaker));
            }
        }
        *breakers = next;
    }

    /// Admits a call to `provider` or refuses it; a half-open admission reserves a probe slot
    /// that the matching `record` frees. A provider the board does not know is admitted: it
    /// only happens while a reload is being reconciled, and failing closed then would turn a
    /// config change into an outage.
    pub fn allow(&self, provider: &str, now: Instant) -> Admission {
        let (allowed, transition) = self.with(provider, |b| b.allow(now)).unwrap_or((true, None));
        self.count(transition.as_ref());
        Admission { allowed, transition }
    }

    /// What `allow` would answer, reserving nothing: for listing candidates before any call.
    pub fn would_allow(&self, provider: &str, now: Instant) -> bool {
        self.with(provider, |b| b.would_allow(now)).unwrap_or(true)
    }

    /// Feeds a call's outcome to the provider's breaker; unknown providers are ignored.
    pub fn record(&self, provider: &str, outcome: Outcome, now: Instant) -> Option<Transition> {
        let transition = self.with(provider, |b| b.record(outcome, now)).flatten();
        self.count(transition.as_ref());
        transition
    }

    pub fn state(&self, provider: &str) -> Option<BreakerState> {
        self.with(provider, |b| b.state())
    }

    /// Every breaker, sorted by provider name.
    pub fn states(&self, now: Instant) -> Vec<BreakerStatus> {
        let mut rows: Vec<BreakerStatus> = self.breakers.read().values().map(|b| status(&b.lock(), now)).collect();
        rows.sort_by(|a, b| a.provider.cmp(&b.provider));
        rows
    }

    /// Transitions since the board was created (across reloads).
    pub fn transitions_total(&self) -> u64 {
        self.transitions.load(Ordering::Relaxed)
    }

    fn with<T>(&self, provider: &str, f: impl FnOnce(&mut Breaker) -> T) -> Option<T> {
        self.breakers.read().get(provider).map(|b| f(&mut b.lock()))
    }

    fn count(&self, transition: Option<&Transition>) {
        if transition.is_some() {
            self.transitions.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn status(breaker: &Breaker, now: Instant) -> BreakerStatus {
    BreakerStatus {
        provider: breaker.provider().to_owned(),
        state: breaker.state(),
        since: breaker.since(),
        consecutive_failures: breaker.consecutive_failures(),
        probe_in: breaker.probe_in(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::Outcome;
    use crate::policy::compile;
    use crate::policy::compile::fixture::{config, policy, DOMAINS};

    fn trip(board: &BreakerBoard, provider: &str, now: Instant) -> Option<Transition> {
        let _ = board.record(provider, Outcome::Failure, now);
        board.record(provider, Outcome::Failure, now)
    }

    #[test]
    fn board_tracks_every_provider_and_counts_transitions() {
        let now = Instant::now();
        let board = BreakerBoard::for_policy(&policy(), now);
        let names: Vec<String> = board.states(now).into_iter().map(|s| s.provider).collect();
        assert_eq!(names, ["big-us", "mid-us", "small-eu", "small-us"]);
        let opened = trip(&board, "small-us", now);
        assert_eq!(opened.map(|t| (t.from, t.to)), Some((BreakerState::Closed, BreakerState::Open)));
        assert!(!board.allow("small-us", now).allowed);
        let later = now + Duration::from_secs(5);
        let admission = board.allow("small-us", later);
        assert!(admission.allowed);
        assert_eq!(admission.transition.map(|t| t.to), Some(BreakerState::HalfOpen));
        assert!(!board.would_allow("small-us", later), "the one probe slot is taken");
        let closed = board.record("small-us", Outcome::Success, later);
        assert_eq!(closed.map(|t| t.to), Some(BreakerState::Closed));
        assert_eq!(board.transitions_total(), 3);
    }

    #[test]
    fn states_report_since_failures_and_probe_delay() {
        let now = Instant::now();
        let board = BreakerBoard::for_policy(&policy(), now);
        let t1 = now + Duration::from_secs(1);
        let _ = trip(&board, "small-eu", t1);
        let row = board.states(t1 + Duration::from_secs(2)).into_iter().find(|s| s.provider == "small-eu");
        let expected = BreakerStatus {
            provider: "small-eu".into(),
            state: BreakerState::Open,
            since: t1,
            consecutive_failures: 2,
            probe_in: Some(Duration::from_secs(3)),
        };
        assert_eq!(row, Some(expected));
    }

    #[test]
    fn unknown_providers_are_admitted_and_ignored() {
        let board = BreakerBoard::new();
        let now = Instant::now();
        assert_eq!(board.allow("ghost", now), Admission { allowed: true, transition: None });
        assert_eq!(board.record("ghost", Outcome::Failure, now), None);
        assert_eq!(board.state("ghost"), None);
    }

    #[test]
    fn reconcile_keeps_state_by_name_adds_and_drops() {
        let now = Instant::now();
        let board = BreakerBoard::for_policy(&policy(), now);
        let _ = trip(&board, "small-us", now);
        let mut cfg = config();
        cfg.tiers[1].providers.remove(1);
        cfg.policy.overrides.residency.clear();
        cfg.tiers[1].breaker.open_seconds = 60.0;
        let mut added = cfg.tiers[2].providers[0].clone();
        added.name = "mid-us-2".into();
        cfg.tiers[2].providers.push(added);
        let next = match compile(cfg, DOMAINS) {
            Ok(p) => p,
            Err(e) => unreachable!("{e}"),
        };
        board.reconcile(&next, now);
        assert_eq!(board.state("small-us"), Some(BreakerState::Open));
        assert_eq!(board.state("small-eu"), None);
        assert_eq!(board.state("mid-us-2"), Some(BreakerState::Closed));
        assert!(!board.would_allow("small-us", now + Duration::from_secs(5)), "new openSeconds applies");
        assert!(board.would_allow("small-us", now + Duration::from_secs(60)));
    }
}
