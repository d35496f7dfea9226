"""Reconcile passes as pure plans, applied to an in-memory cluster: publish once, idempotently,
never over a good config with a bad one, and report each object's Accepted/Live exactly."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from router_operator.plan import ClusterState, Plan, plan
from router_operator.release import GENERATIONS_ANNOTATION, ORPHANED_ANNOTATION, Publication
from router_operator.resources import Condition, ConditionType, CustomObject, Reason, RoutingPolicyStatus
from router_operator.settings import OperatorSettings

from router_py.config.check import CoreChecker
from router_py.config.kube_source import CONFIG_KEY, SHADOW_KEY, config_update
from router_py.config.manifests import embedded_default_dir, load_config
from support.crd_objects import examples, make_object

SETTINGS = OperatorSettings(namespace="ns")
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def cluster(policies: list[CustomObject] | None = None, tiers: list[CustomObject] | None = None) -> ClusterState:
    return ClusterState(
        policies=examples("RoutingPolicy") if policies is None else policies,
        tiers=examples("ProviderTier") if tiers is None else tiers,
        secrets={},
        configmap=None,
        reports=[],
    )


def applied(state: ClusterState, result: Plan) -> ClusterState:
    """What the API holds after the plan's writes (as `Reconciler` makes them)."""
    configmap = state.configmap
    if result.configmap is not None:
        version = str(int(configmap.metadata.resource_version or 0) + 1) if configmap else "1"
        configmap = result.configmap.model_copy(
            update={"metadata": result.configmap.metadata.model_copy(update={"resource_version": version})}
        )
    statuses = {u.name: u.status.model_dump(mode="json", by_alias=True) for u in result.statuses}

    def with_status(objects: list[CustomObject]) -> list[CustomObject]:
        return [o.model_copy(update={"status": statuses.get(o.metadata.name, o.status)}) for o in objects]

    return replace(state, policies=with_status(state.policies), tiers=with_status(state.tiers), configmap=configmap)


def converge(state: ClusterState, checker: CoreChecker) -> tuple[ClusterState, Plan]:
    result = plan(state, checker.check, SETTINGS, NOW)
    return applied(state, result), result


def conditions(state: ClusterState, name: str) -> dict[ConditionType, Condition]:
    obj = next(o for o in [*state.policies, *state.tiers] if o.metadata.name == name)
    return {c.type: c for c in obj.parse_status(RoutingPolicyStatus).conditions}


def edited(obj: CustomObject, **spec: Any) -> CustomObject:
    """The object after a spec edit: the API bumps its generation."""
    assert isinstance(obj.spec, dict)
    return make_object(obj.metadata.name, obj.spec | spec, generation=obj.generation + 1, status=obj.status)


def revision(state: ClusterState) -> int:
    assert state.configmap is not None
    published = Publication.of(state.configmap)
    assert published is not None
    return published.revision


def test_first_pass_publishes_the_examples_and_everything_is_accepted_and_live(checker: CoreChecker) -> None:
    state, result = converge(cluster(), checker)
    assert result.configmap is not None and revision(state) == 1
    update = config_update(state.configmap, "ns/llm-router-config")
    assert update.config is not None and update.revision == "1"
    expected = load_config(embedded_default_dir())
    assert update.config.tiers == expected.tiers
    assert update.config.policy.model_dump(exclude={"version"}) == expected.policy.model_dump(exclude={"version"})
    for name in ["default", "tier-1-fast", "tier-2-smart", "tier-3-reasoning"]:
        c = conditions(state, name)
        assert (c[ConditionType.ACCEPTED].reason, c[ConditionType.LIVE].reason) == (Reason.VALID, Reason.PUBLISHED)
        assert c[ConditionType.LIVE].message == "generation 1 is in revision 1"
        assert c[ConditionType.LIVE].last_transition_time == NOW


def test_a_second_pass_writes_nothing(checker: CoreChecker) -> None:
    state, _ = converge(cluster(), checker)
    _, again = converge(state, checker)
    assert again.configmap is None and again.statuses == []


def test_a_change_is_a_new_revision_and_a_new_policy_version(checker: CoreChecker) -> None:
    state, _ = converge(cluster(), checker)
    before = config_update(state.configmap, "")
    state = replace(state, policies=[edited(state.policies[0], logPrompts=True)])
    state, _ = converge(state, checker)
    after = config_update(state.configmap, "")
    assert revision(state) == 2 and after.config is not None and before.config is not None
    assert after.config.policy.log_prompts and after.config.policy.version != before.config.policy.version
    live = conditions(state, "default")[ConditionType.LIVE]
    assert live.message == "generation 2 is in revision 2" and live.observed_generation == 2


def test_an_edit_with_the_same_content_keeps_the_revision(checker: CoreChecker) -> None:
    state, _ = converge(cluster(), checker)
    state = replace(state, policies=[edited(state.policies[0], logPrompts=False)])  # the default, spelled out
    state, result = converge(state, checker)
    assert result.configmap is not None, "the generations annotation follows the object"
    assert revision(state) == 1
    assert state.configmap is not None
    assert json.loads(state.configmap.metadata.annotations[GENERATIONS_ANNOTATION])["RoutingPolicy/default"] == 2


def test_an_invalid_change_leaves_the_config_and_says_why(checker: CoreChecker) -> None:
    state, _ = converge(cluster(), checker)
    good = state.configmap
    bad = edited(state.policies[0], overrides={"domains": [{"name": "stars", "domain": "astrology", "minTier": 3}]})
    state, result = converge(replace(state, policies=[bad]), checker)
    assert result.configmap is None and state.configmap == good
    c = conditions(state, "default")
    assert c[ConditionType.ACCEPTED].reason is Reason.REJECTED_BY_CORE
    assert c[ConditionType.LIVE].reason is Reason.PENDING
    assert c[ConditionType.LIVE].message.startswith(
        "generation 2 is not published until it is accepted (RejectedByCore: "
    )
    assert c[ConditionType.LIVE].message.endswith("; routers keep generation 1 (revision 1)")
    assert c[ConditionType.LIVE].last_transition_time == NOW


def test_deleting_the_live_policy_keeps_the_config_marked_orphaned(checker: CoreChecker) -> None:
    state, _ = converge(cluster(), checker)
    content = state.configmap.data if state.configmap else None
    state, result = converge(replace(state, policies=[]), checker)
    assert state.configmap is not None and state.configmap.data == content
    assert state.configmap.metadata.annotations[ORPHANED_ANNOTATION] == (
        "RoutingPolicy 'default' was deleted; routers keep this config"
    )
    assert revision(state) == 1, "routers must not reload"
    assert conditions(state, "tier-1-fast")[ConditionType.LIVE].reason is Reason.PUBLISHED
    _, again = converge(state, checker)
    assert again.configmap is None


def test_a_shadow_is_published_beside_the_live_policy(checker: CoreChecker) -> None:
    live, *_ = examples("RoutingPolicy")
    assert isinstance(live.spec, dict)
    candidate = make_object("candidate", live.spec | {"classifier": {"maxUnderrouteRisk": 0.2}})
    other = make_object("other", live.spec)
    state, _ = converge(cluster([edited(live, shadowPolicy="candidate"), candidate, other]), checker)
    assert state.configmap is not None and set(state.configmap.data) == {CONFIG_KEY, SHADOW_KEY}
    assert json.loads(state.configmap.data[SHADOW_KEY])["policy"]["classifier"]["maxUnderrouteRisk"] == 0.2
    assert conditions(state, "candidate")[ConditionType.LIVE].reason is Reason.SHADOW
    not_referenced = conditions(state, "other")[ConditionType.LIVE]
    assert (not_referenced.reason, not_referenced.message) == (
        Reason.NOT_REFERENCED,
        "routers run RoutingPolicy 'default'",
    )
    assert conditions(state, "other")[ConditionType.ACCEPTED].reason is Reason.VALID
