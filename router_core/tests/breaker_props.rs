//! Property tests: breaker transitions obey the spec; rate limits never over-admit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use proptest::prelude::*;
use router_core::breaker::{Breaker, BreakerBoard, BreakerConfig, BreakerState, Outcome, Transition};
use router_core::policy::{compile, parse_config, CompiledPolicy, Limiter};
use router_core::CoreError;

#[derive(Debug, Clone, Copy)]
enum Op {
    Allow,
    Succeed,
    Fail,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::Allow), Just(Op::Succeed), Just(Op::Fail)]
}

fn outcome_of(op: Op) -> Outcome {
    if matches!(op, Op::Succeed) {
        Outcome::Success
    } else {
        Outcome::Failure
    }
}

fn config() -> impl Strategy<Value = BreakerConfig> {
    (1u32..6, 1u64..5_000, 1u32..4, 1u32..4).prop_map(|(f, open_ms, probes, s)| BreakerConfig {
        failure_threshold: f,
        open_for: Duration::from_millis(open_ms),
        half_open_probes: probes,
        success_threshold: s,
    })
}

/// Nanoseconds between two requests: bursts, sub-interval gaps and long idles.
fn gap_nanos() -> impl Strategy<Value = u64> {
    prop_oneof![2 => Just(0u64), 2 => 0u64..50_000_000, 1 => 0u64..5_000_000_000]
}

/// Steps of (operation, milliseconds since the previous step): often no time passes, sometimes
/// more than any `open_for`.
fn steps() -> impl Strategy<Value = Vec<(Op, u64)>> {
    let dt = prop_oneof![3 => Just(0u64), 3 => 0u64..1_000, 1 => 0u64..12_000];
    prop::collection::vec((op(), dt), 0..300)
}

/// What the test itself counts, to check each transition against the spec.
#[derive(Default)]
struct Witness {
    failures_while_closed: u32,
    successes_while_half_open: u32,
    /// Half-open admissions still presumed in flight (oldest first).
    probes: Vec<Instant>,
}

impl Witness {
    fn observe(&mut self, b: &Breaker, cfg: &BreakerConfig, t: &Transition, before: BreakerState, now: Instant) {
        assert_eq!((t.from, t.to, t.at, t.provider.as_str()), (before, b.state(), now, "p"));
        match (t.from, t.to) {
            (BreakerState::Closed, BreakerState::Open) => {
                assert!(self.failures_while_closed >= cfg.failure_threshold, "opened too early");
            }
            (BreakerState::HalfOpen, BreakerState::Closed) => {
                assert!(self.successes_while_half_open >= cfg.success_threshold, "closed too early");
            }
            (BreakerState::Open, BreakerState::HalfOpen) | (BreakerState::HalfOpen, BreakerState::Open) => {}
            other => panic!("illegal transition {other:?}"),
        }
        self.failures_while_closed = 0;
        self.successes_while_half_open = 0;
        self.probes.clear();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn breaker_transitions_follow_the_spec(cfg in config(), steps in steps()) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut b = Breaker::new("p", cfg.clone(), t0);
        let mut w = Witness::default();
        prop_assert_eq!(b.state(), BreakerState::Closed);
        for (op, dt) in steps {
            now += Duration::from_millis(dt);
            let before = b.state();
            let waited = now.saturating_duration_since(b.since());
            match op {
                Op::Allow => {
                    let predicted = b.would_allow(now);
                    let (allowed, transition) = b.allow(now);
                    prop_assert_eq!(allowed, predicted, "would_allow disagrees with allow");
                    if before == BreakerState::Open && waited < cfg.open_for {
                        prop_assert!(!allowed && transition.is_none(), "admitted while open");
                    }
                    if let Some(t) = &transition {
                        w.observe(&b, &cfg, t, before, now);
                    }
                    if allowed && b.state() == BreakerState::HalfOpen {
                        w.probes.retain(|at| now.saturating_duration_since(*at) < cfg.open_for);
                        w.probes.push(now);
                        let limit = cfg.half_open_probes as usize;
                        prop_assert!(w.probes.len() <= limit, "too many concurrent probes");
                    }
                }
                Op::Succeed | Op::Fail => {
                    let outcome = outcome_of(op);
                    match (before, outcome) {
                        (BreakerState::Closed, Outcome::Failure) => w.failures_while_closed += 1,
                        (BreakerState::Closed, Outcome::Success) => w.failures_while_closed = 0,
                        (BreakerState::HalfOpen, Outcome::Success) => {
                            w.successes_while_half_open += 1;
                        }
                        _ => {}
                    }
                    if before == BreakerState::HalfOpen && !w.probes.is_empty() {
                        w.probes.remove(0);
                    }
                    if let Some(t) = b.record(outcome, now) {
                        w.observe(&b, &cfg, &t, before, now);
                    } else {
                        prop_assert_eq!(b.state(), before);
                    }
                }
            }
        }
    }

    #[test]
    fn board_agrees_with_a_lone_breaker(cfg in config(), steps in steps()) {
        let policy = policy_with_breaker(&cfg);
        let t0 = Instant::now();
        let board = BreakerBoard::for_policy(&policy, t0);
        let mut lone = Breaker::new("only", cfg, t0);
        let mut now = t0;
        let mut transitions = 0u64;
        for (op, dt) in steps {
            now += Duration::from_millis(dt);
            let (expected, from_board) = match op {
                Op::Allow => {
                    let (allowed, t) = lone.allow(now);
                    let admission = board.allow("only", now);
                    prop_assert_eq!(admission.allowed, allowed);
                    (t, admission.transition)
                }
                Op::Succeed | Op::Fail => {
                    let outcome = outcome_of(op);
                    (lone.record(outcome, now), board.record("only", outcome, now))
                }
            };
            transitions += u64::from(expected.is_some());
            prop_assert_eq!(from_board, expected);
            prop_assert_eq!(board.state("only"), Some(lone.state()));
        }
        prop_assert_eq!(board.transitions_total(), transitions);
        let row = board.states(now).into_iter().find(|s| s.provider == "only");
        let row = row.map(|s| (s.since, s.consecutive_failures));
        prop_assert_eq!(row, Some((lone.since(), lone.consecutive_failures())));
    }

    #[test]
    fn limiter_never_admits_more_than_burst_plus_rate_times_elapsed(
        rate_centi in 1u32..100_000,
        burst in 1u32..50,
        gaps in prop::collection::vec(gap_nanos(), 1..200),
    ) {
        let rate = f64::from(rate_centi) / 100.0;
        let policy = policy_with_limit(rate, burst);
        let limiter = Limiter::new();
        let t0 = Instant::now();
        let mut now = t0;
        let mut admitted: Vec<Instant> = Vec::new();
        for gap in gaps {
            now += Duration::from_nanos(gap);
            match limiter.check_tenant(&policy, "tenant", now) {
                Ok(()) => admitted.push(now),
                Err(CoreError::RateLimited { rule, retry_after }) => {
                    prop_assert_eq!(rule, "only-limit");
                    prop_assert!(!retry_after.is_zero());
                    // Exact: refused a nanosecond early, admitted on the dot.
                    let early = now + retry_after - Duration::from_nanos(1);
                    prop_assert!(limiter.check_tenant(&policy, "tenant", early).is_err());
                    now += retry_after;
                    prop_assert!(limiter.check_tenant(&policy, "tenant", now).is_ok());
                    admitted.push(now);
                }
                Err(other) => prop_assert!(false, "unexpected {}", other),
            }
        }
        for (i, start) in admitted.iter().enumerate() {
            for (j, end) in admitted.iter().enumerate().skip(i) {
                let count = (j - i + 1) as f64;
                let bound = f64::from(burst) + rate * end.duration_since(*start).as_secs_f64();
                prop_assert!(count <= bound + 1e-9, "{} admitted, window allows {}", count, bound);
            }
        }
    }
}

fn compiled(json: &str) -> CompiledPolicy {
    compile(parse_config(json).unwrap(), &[]).unwrap()
}

fn tiers(breaker: &str) -> String {
    let tier = |t: u8, name: &str, breaker: &str| {
        format!(
            r#"{{"tier": {t}, "name": "t{t}", "breaker": {breaker}, "providers": [{{"name": "{name}", "model": "m",
               "baseUrl": "http://localhost:9", "region": "local", "priceInputPerMtok": 1, "priceOutputPerMtok": 1}}]}}"#
        )
    };
    format!("[{}, {}, {}]", tier(1, "only", breaker), tier(2, "second", "{}"), tier(3, "third", "{}"))
}

fn policy_with_breaker(cfg: &BreakerConfig) -> CompiledPolicy {
    let breaker = format!(
        r#"{{"failureThreshold": {}, "openSeconds": {}, "halfOpenProbes": {}, "successThreshold": {}}}"#,
        cfg.failure_threshold,
        cfg.open_for.as_secs_f64(),
        cfg.half_open_probes,
        cfg.success_threshold
    );
    let policy = compiled(&format!(r#"{{"policy": {{"name": "p", "version": 1}}, "tiers": {}}}"#, tiers(&breaker)));
    assert_eq!(policy.tier(1).breaker, *cfg);
    policy
}

fn policy_with_limit(rate: f64, burst: u32) -> CompiledPolicy {
    let limits = format!(
        r#"{{"tenants": [{{"name": "only-limit", "tenant": "*", "requestsPerSecond": {rate}, "burst": {burst}}}]}}"#
    );
    compiled(&format!(r#"{{"policy": {{"name": "p", "version": 1, "limits": {limits}}}, "tiers": {}}}"#, tiers("{}")))
}
