"""Breaker state across router replicas, for `ProviderTier.status.providers`. Pure.

Each replica reports its own breakers (`ReplicaStatus`); a provider's state is the worst one a
live replica reports (one replica seeing a provider fail is worth knowing), with the count of
replicas in each state beside it so that "open on 1 of 12" reads differently from "open on all".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from router_operator.resources import BreakerState, ProviderHealth, ReplicaCounts
from router_py.config.source import BreakerReport, ReplicaStatus

_SEVERITY = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def live_reports(reports: Sequence[ReplicaStatus], now_ms: int, ttl_ms: int) -> list[ReplicaStatus]:
    """Reports from replicas that reported within `ttl_ms`; older ones are gone or stuck."""
    return [r for r in reports if now_ms - r.reported_unix_ms <= ttl_ms]


def provider_health(reports: Sequence[ReplicaStatus], providers: Sequence[str]) -> list[ProviderHealth]:
    """One entry per provider in `providers`, in that order, from live reports only."""
    return [_health(name, [b for r in reports for b in r.breakers if b.provider == name]) for name in providers]


def open_breakers(health: Sequence[ProviderHealth]) -> int:
    return sum(1 for h in health if h.state is BreakerState.OPEN)


def _health(name: str, seen: list[BreakerReport]) -> ProviderHealth:
    states = [(_state(b.state), b) for b in seen]
    known = [(s, b) for s, b in states if s is not BreakerState.UNKNOWN]
    if not known:
        return ProviderHealth(name=name, state=BreakerState.UNKNOWN)
    worst = max((s for s, _ in known), key=_SEVERITY.__getitem__)
    since_ms = min(b.since_unix_ms for s, b in known if s is worst)
    counts = ReplicaCounts(
        closed=sum(1 for s, _ in known if s is BreakerState.CLOSED),
        half_open=sum(1 for s, _ in known if s is BreakerState.HALF_OPEN),
        open=sum(1 for s, _ in known if s is BreakerState.OPEN),
    )
    return ProviderHealth(name=name, state=worst, since=_utc_seconds(since_ms), replicas=counts)


def _state(reported: str) -> BreakerState:
    """A state name this operator does not know (a newer router) counts as unknown."""
    try:
        return BreakerState(reported)
    except ValueError:
        return BreakerState.UNKNOWN


def _utc_seconds(unix_ms: int) -> datetime:
    """Whole seconds, as Kubernetes timestamps are; it also keeps the status from changing on
    every report while the state holds."""
    return datetime.fromtimestamp(unix_ms // 1000, tz=timezone.utc)
