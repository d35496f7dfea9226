//! One provider's circuit breaker: a small state machine driven by outcomes and an injected clock.

use std::fmt;
use std::time::{Duration, Instant};

/// Where a breaker stands; `Display` gives the label used in metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        })
    }
}

/// What a call to the provider came to, as far as its health is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

/// A validated `BreakerSpec` (built by `policy::compile`): every count >= 1, `open_for` > 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub open_for: Duration,
    pub half_open_probes: u32,
    pub success_threshold: u32,
}

/// A state change, returned to the caller so it is logged and counted where it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub provider: String,
    pub from: BreakerState,
    pub to: BreakerState,
    pub at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open,
    HalfOpen { in_flight: u32, successes: u32, last_admit: Instant },
}

/// The breaker of one provider. `since` is when the current state was entered.
#[derive(Debug, Clone)]
pub struct Breaker {
    provider: String,
    config: BreakerConfig,
    phase: Phase,
    since: Instant,
    consecutive_failures: u32,
}

impl Breaker {
    pub fn new(provider: impl Into<String>, config: BreakerConfig, now: Instant) -> Self {
        Self { provider: provider.into(), config, phase: Phase::Closed, since: now, consecutive_failures: 0 }
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    pub fn since(&self) -> Instant {
        self.since
    }

    /// Failures since the last success, whatever the state.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// For an open breaker, how long until it admits a probe (zero once due).
    pub fn probe_in(&self, now: Instant) -> Option<Duration> {
        (self.phase == Phase::Open)
            .then(|| self.config.open_for.saturating_sub(now.saturating_duration_since(self.since)))
    }

    /// Applies a new spec without touching the state: a reload must not reset an open breaker.
    pub fn reconfigure(&mut self, config: BreakerConfig) {
        self.config = config;
    }

    /// Whether `allow` would admit a call now, without reserving anything.
    pub fn would_allow(&self, now: Instant) -> bool {
        match self.phase {
            Phase::Closed => true,
            Phase::Open => self.open_elapsed(now),
            Phase::HalfOpen { in_flight, last_admit, .. } => {
                self.live_probes(in_flight, last_admit, now) < self.config.half_open_probes
            }
        }
    }

    /// Admits a call or refuses it. In half-open an admission reserves one probe slot, freed
    /// by the matching `record`.
    pub fn allow(&mut self, now: Instant) -> (bool, Option<Transition>) {
        match self.phase {
            Phase::Closed => (true, None),
            Phase::Open if self.open_elapsed(now) => {
                let probing = Phase::HalfOpen { in_flight: 1, successes: 0, last_admit: now };
                (true, Some(self.enter(probing, now)))
            }
            Phase::Open => (false, None),
            Phase::HalfOpen { in_flight, successes, last_admit } => {
                let live = self.live_probes(in_flight, last_admit, now);
                let admitted = live < self.config.half_open_probes;
                if admitted {
                    self.phase = Phase::HalfOpen { in_flight: live + 1, successes, last_admit: now };
                }
                (admitted, None)
            }
        }
    }

    pub fn record(&mut self, outcome: Outcome, now: Instant) -> Option<Transition> {
        match outcome {
            Outcome::Success => self.succeed(now),
            Outcome::Failure => self.fail(now),
        }
    }

    fn succeed(&mut self, now: Instant) -> Option<Transition> {
        self.consecutive_failures = 0;
        // Closed: nothing to do. Open: a late answer to a call admitted before the breaker
        // opened says nothing about the provider now, so it cannot shorten the wait.
        let Phase::HalfOpen { in_flight, successes, last_admit } = self.phase else {
            return None;
        };
        let successes = successes + 1;
        if successes >= self.config.success_threshold {
            return Some(self.enter(Phase::Closed, now));
        }
        self.phase = Phase::HalfOpen { in_flight: in_flight.saturating_sub(1), successes, last_admit };
        None
    }

    fn fail(&mut self, now: Instant) -> Option<Transition> {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.phase {
            Phase::Closed if self.consecutive_failures >= self.config.failure_threshold => {
                Some(self.enter(Phase::Open, now))
            }
            Phase::HalfOpen { .. } => Some(self.enter(Phase::Open, now)),
            Phase::Closed | Phase::Open => None,
        }
    }

    fn enter(&mut self, phase: Phase, now: Instant) -> Transition {
        let from = self.state();
        self.phase = phase;
        self.since = now;
        Transition { provider: self.provider.clone(), from, to: self.state(), at: now }
    }

    fn open_elapsed(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.since) >= self.config.open_for
    }

    /// Probes still presumed running. A caller that never records an outcome (cancelled
    /// request) would otherwise hold its slot forever and wedge the breaker half-open, so
    /// slots are presumed lost once `open_for` has passed since the last admission.
    fn live_probes(&self, in_flight: u32, last_admit: Instant, now: Instant) -> u32 {
        if now.saturating_duration_since(last_admit) >= self.config.open_for {
            0
        } else {
            in_flight
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
            half_open_probes: 1,
            success_threshold: 2,
        }
    }

    fn opened(t0: Instant) -> Breaker {
        let mut b = Breaker::new("p", config(), t0);
        for _ in 0..3 {
            b.record(Outcome::Failure, t0);
        }
        b
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let t0 = Instant::now();
        let mut b = Breaker::new("p", config(), t0);
        assert_eq!(b.record(Outcome::Failure, t0), None);
        assert_eq!(b.record(Outcome::Failure, t0), None);
        assert_eq!(b.record(Outcome::Success, t0), None);
        assert_eq!(b.consecutive_failures(), 0);
        assert_eq!(b.record(Outcome::Failure, t0), None);
        assert_eq!(b.record(Outcome::Failure, t0), None);
        let t = b.record(Outcome::Failure, t0);
        assert_eq!(
            t,
            Some(Transition { provider: "p".into(), from: BreakerState::Closed, to: BreakerState::Open, at: t0 })
        );
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn open_refuses_until_open_for_elapsed_then_probes() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert_eq!(b.allow(t0 + Duration::from_secs(9)), (false, None));
        assert_eq!(b.probe_in(t0 + Duration::from_secs(9)), Some(Duration::from_secs(1)));
        let (ok, t) = b.allow(t0 + Duration::from_secs(10));
        assert!(ok);
        assert_eq!(t.map(|t| (t.from, t.to)), Some((BreakerState::Open, BreakerState::HalfOpen)));
        // One probe slot, taken.
        assert!(!b.would_allow(t0 + Duration::from_secs(11)));
        assert_eq!(b.allow(t0 + Duration::from_secs(11)), (false, None));
    }

    #[test]
    fn closes_only_after_success_threshold_probes() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let t1 = t0 + Duration::from_secs(10);
        assert!(b.allow(t1).0);
        assert_eq!(b.record(Outcome::Success, t1), None);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.allow(t1).0);
        let t = b.record(Outcome::Success, t1);
        assert_eq!(t.map(|t| t.to), Some(BreakerState::Closed));
    }

    #[test]
    fn probe_failure_reopens() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let t1 = t0 + Duration::from_secs(10);
        assert!(b.allow(t1).0);
        let t = b.record(Outcome::Failure, t1);
        assert_eq!(t.map(|t| (t.from, t.to)), Some((BreakerState::HalfOpen, BreakerState::Open)));
        assert_eq!(b.since(), t1);
        assert!(!b.would_allow(t1 + Duration::from_secs(5)));
    }

    #[test]
    fn lost_probe_frees_its_slot_after_open_for() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let t1 = t0 + Duration::from_secs(10);
        assert!(b.allow(t1).0);
        assert!(!b.would_allow(t1 + Duration::from_secs(9)));
        assert!(b.allow(t1 + Duration::from_secs(10)).0);
    }

    #[test]
    fn late_success_while_open_does_not_close() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert_eq!(b.record(Outcome::Success, t0), None);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn labels() {
        assert_eq!(BreakerState::Closed.to_string(), "closed");
        assert_eq!(BreakerState::Open.to_string(), "open");
        assert_eq!(BreakerState::HalfOpen.to_string(), "half-open");
    }
}
