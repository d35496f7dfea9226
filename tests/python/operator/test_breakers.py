"""Breaker state across replicas: worst state, counts, since, and stale replicas dropped."""

from __future__ import annotations

from datetime import datetime, timezone

from router_operator.breakers import live_reports, open_breakers, provider_health
from router_operator.resources import BreakerState, ProviderHealth, ReplicaCounts

from router_py.config.source import BreakerReport, ReplicaStatus

NOW_MS = 1_800_000_000_000


def report(replica: str, age_ms: int = 0, **states: tuple[str, int]) -> ReplicaStatus:
    """`states`: provider -> (state, since as ms before now)."""
    breakers = [
        BreakerReport(provider=p, state=s, since_unix_ms=NOW_MS - ago, consecutive_failures=0)
        for p, (s, ago) in states.items()
    ]
    return ReplicaStatus(
        replica=replica,
        policy_name="default",
        policy_version=1,
        revision="1",
        last_error=None,
        breakers=breakers,
        reported_unix_ms=NOW_MS - age_ms,
    )


def at(ms_before_now: int) -> datetime:
    return datetime.fromtimestamp((NOW_MS - ms_before_now) // 1000, tz=timezone.utc)


def test_worst_state_wins_with_counts_and_the_earliest_since() -> None:
    reports = [
        report("r1", a=("closed", 90_000), b=("open", 5_000)),
        report("r2", a=("half-open", 2_000), b=("open", 12_000)),
        report("r3", a=("closed", 60_000), b=("closed", 1_000)),
    ]
    a, b, c = provider_health(reports, ["a", "b", "c"])
    assert a == ProviderHealth(
        name="a", state=BreakerState.HALF_OPEN, since=at(2_000), replicas=ReplicaCounts(closed=2, half_open=1)
    )
    assert b == ProviderHealth(
        name="b", state=BreakerState.OPEN, since=at(12_000), replicas=ReplicaCounts(closed=1, open=2)
    )
    assert c == ProviderHealth(name="c", state=BreakerState.UNKNOWN)
    assert open_breakers([a, b, c]) == 1


def test_stale_reports_are_ignored() -> None:
    fresh, stale = report("fresh", age_ms=29_000, a=("closed", 1)), report("gone", age_ms=31_000, a=("open", 1))
    live = live_reports([fresh, stale], NOW_MS, 30_000)
    assert live == [fresh]
    assert provider_health(live, ["a"])[0].state is BreakerState.CLOSED


def test_a_state_from_a_newer_router_counts_as_unknown() -> None:
    (health,) = provider_health([report("r1", a=("melting", 1))], ["a"])
    assert health.state is BreakerState.UNKNOWN
