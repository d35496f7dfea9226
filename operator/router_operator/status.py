"""Each object's status from its verdict and the published ConfigMap. Pure.

A condition keeps its `lastTransitionTime` while its status holds, so writing the same verdict
again changes nothing and a status patch is only sent when something did change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum

from router_operator.breakers import open_breakers
from router_operator.judge import Judged, Verdict
from router_operator.release import Publication, object_key
from router_operator.resources import (
    Condition,
    ConditionStatus,
    ConditionType,
    ProviderHealth,
    ProviderTierStatus,
    Reason,
    RoutingPolicyStatus,
)


class Role(Enum):
    """What a RoutingPolicy is to the routers."""

    LIVE = "live"
    SHADOW = "shadow"
    CANDIDATE = "candidate"


def condition(
    kind: ConditionType, verdict: Verdict, generation: int, previous: Sequence[Condition], now: datetime
) -> Condition:
    before = next((c for c in previous if c.type is kind), None)
    held = before is not None and before.status is verdict.status
    return Condition(
        type=kind,
        status=verdict.status,
        reason=verdict.reason,
        message=verdict.message,
        last_transition_time=before.last_transition_time if before is not None and held else now.replace(microsecond=0),
        observed_generation=generation,
    )


def live_verdict(kind: str, judged: Judged, published: Publication | None, role: Role, live_policy: str) -> Verdict:
    """Live=True when this generation is what the published ConfigMap holds for the object."""
    generation = judged.obj.generation
    held = published.generations.get(object_key(kind, judged.name)) if published is not None else None
    if published is not None and held == generation:
        reason = Reason.SHADOW if role is Role.SHADOW else Reason.PUBLISHED
        return Verdict(ConditionStatus.TRUE, reason, f"generation {generation} is in revision {published.revision}")
    if role is Role.CANDIDATE:
        return Verdict(ConditionStatus.FALSE, Reason.NOT_REFERENCED, f"routers run RoutingPolicy {live_policy!r}")
    verdict = judged.verdict
    waiting = (
        f"until RoutingPolicy {live_policy!r} and a ProviderTier for each of tiers 1, 2, 3 are accepted"
        if verdict.accepted
        else f"until it is accepted ({verdict.reason.value}: {verdict.message})"
    )
    kept = f"; routers keep generation {held} (revision {published.revision})" if published and held else ""
    return Verdict(ConditionStatus.FALSE, Reason.PENDING, f"generation {generation} is not published {waiting}{kept}")


def policy_status(
    judged: Judged, live: Verdict, previous: RoutingPolicyStatus, revision: int | None, now: datetime
) -> RoutingPolicyStatus:
    generation = judged.obj.generation
    return RoutingPolicyStatus(
        conditions=[
            condition(ConditionType.ACCEPTED, judged.verdict, generation, previous.conditions, now),
            condition(ConditionType.LIVE, live, generation, previous.conditions, now),
        ],
        revision=str(revision) if live.status is ConditionStatus.TRUE and revision is not None else None,
    )


def tier_status(
    judged: Judged, live: Verdict, previous: ProviderTierStatus, health: list[ProviderHealth], now: datetime
) -> ProviderTierStatus:
    generation = judged.obj.generation
    return ProviderTierStatus(
        conditions=[
            condition(ConditionType.ACCEPTED, judged.verdict, generation, previous.conditions, now),
            condition(ConditionType.LIVE, live, generation, previous.conditions, now),
        ],
        providers=health,
        open_breakers=open_breakers(health),
    )
