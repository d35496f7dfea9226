"""One reconcile pass as a pure function: what the cluster holds -> what to write.

Level-triggered: the plan depends only on the objects as they are now, never on which event
started the pass, so a restarted operator computes the same plan and, finding it already
applied, writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from router_operator.breakers import live_reports, provider_health
from router_operator.judge import Checker, Judged, Judgement, SecretIndex, judge
from router_operator.release import Publication, next_configmap, release
from router_operator.resources import (
    PROVIDER_TIERS,
    ROUTING_POLICIES,
    CustomObject,
    ProviderTierStatus,
    RoutingPolicyStatus,
)
from router_operator.settings import OperatorSettings
from router_operator.status import Role, live_verdict, policy_status, tier_status
from router_py.config.kube_objects import ConfigMap, Kind
from router_py.config.schema import RoutingPolicySpec, TierSpec
from router_py.config.source import ReplicaStatus


@dataclass(frozen=True)
class ClusterState:
    policies: list[CustomObject]
    tiers: list[CustomObject]
    secrets: SecretIndex
    # The published ConfigMap, None when it does not exist yet.
    configmap: ConfigMap | None
    reports: list[ReplicaStatus]


@dataclass(frozen=True)
class StatusUpdate:
    resource: Kind
    name: str
    status: RoutingPolicyStatus | ProviderTierStatus


@dataclass(frozen=True)
class Plan:
    judgement: Judgement
    # The ConfigMap to create (no current one) or replace; None leaves it alone.
    configmap: ConfigMap | None
    # Only the statuses that differ from the current ones.
    statuses: list[StatusUpdate]
    # When the oldest live replica report goes stale: the next pass is due then at the latest.
    recheck_at: datetime | None


def plan(state: ClusterState, check: Checker, settings: OperatorSettings, now: datetime) -> Plan:
    judgement = judge(state.policies, state.tiers, state.secrets, check)
    configmap = next_configmap(
        state.configmap,
        release(judgement, settings.live_policy),
        name=settings.configmap,
        namespace=settings.namespace,
        live_policy=settings.live_policy,
        live_exists=judgement.policy(settings.live_policy) is not None,
    )
    effective = configmap or state.configmap
    published = Publication.of(effective) if effective is not None else None
    ttl_ms = int(settings.report_ttl_s * 1000)
    reports = live_reports(state.reports, int(now.timestamp() * 1000), ttl_ms)
    roles = _roles(judgement, settings.live_policy)
    statuses = [
        *(_policy_update(p, roles.get(p.name, Role.CANDIDATE), published, settings, now) for p in judgement.policies),
        *(_tier_update(t, published, reports, settings, now) for t in judgement.tiers),
    ]
    expiry_ms = min((r.reported_unix_ms + ttl_ms for r in reports), default=None)
    recheck_at = datetime.fromtimestamp(expiry_ms / 1000, tz=timezone.utc) if expiry_ms is not None else None
    return Plan(judgement, configmap, [s for s in statuses if s is not None], recheck_at)


def _roles(judgement: Judgement, live_policy: str) -> dict[str, Role]:
    live = judgement.policy(live_policy)
    roles = {live_policy: Role.LIVE} if live is not None else {}
    if live is not None and isinstance(live.spec, RoutingPolicySpec) and live.spec.shadow_policy:
        roles[live.spec.shadow_policy] = Role.SHADOW
    return roles


def _policy_update(
    judged: Judged, role: Role, published: Publication | None, settings: OperatorSettings, now: datetime
) -> StatusUpdate | None:
    live = live_verdict("RoutingPolicy", judged, published, role, settings.live_policy)
    previous = judged.obj.parse_status(RoutingPolicyStatus)
    status = policy_status(judged, live, previous, published.revision if published else None, now)
    return None if status == previous else StatusUpdate(ROUTING_POLICIES, judged.name, status)


def _tier_update(
    judged: Judged,
    published: Publication | None,
    reports: list[ReplicaStatus],
    settings: OperatorSettings,
    now: datetime,
) -> StatusUpdate | None:
    live = live_verdict("ProviderTier", judged, published, Role.LIVE, settings.live_policy)
    providers = [p.name for p in judged.spec.providers] if isinstance(judged.spec, TierSpec) else []
    previous = judged.obj.parse_status(ProviderTierStatus)
    status = tier_status(judged, live, previous, provider_health(reports, providers), now)
    return None if status == previous else StatusUpdate(PROVIDER_TIERS, judged.name, status)
