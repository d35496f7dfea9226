"""Verdicts and their messages: what a user reads in `kubectl describe` when an object is refused."""

from __future__ import annotations

from typing import Any

import pytest
from router_operator.judge import Judged, Judgement, judge
from router_operator.resources import ConditionStatus, CustomObject, Reason

from router_py.config.check import CoreChecker
from support.crd_objects import examples, make_object

Spec = dict[str, Any]


def tier_spec(tier: int, *providers: str, **provider_fields: Any) -> Spec:
    return {
        "tier": tier,
        "name": f"t{tier}",
        "providers": [
            {
                "name": name,
                "model": "m",
                "baseUrl": "http://127.0.0.1:9000/v1",
                "region": "us-east-1",
                "priceInputPerMtok": tier,
                "priceOutputPerMtok": tier,
                **provider_fields,
            }
            for name in providers
        ],
    }


def tiers(**changes: Spec) -> list[CustomObject]:
    """Tiers 1-3, each with one provider, with some replaced by name (`t1`, `t2`, `t3`)."""
    specs = {f"t{n}": tier_spec(n, f"p{n}") for n in (1, 2, 3)} | changes
    return [make_object(name, spec, age=10) for name, spec in specs.items()]


def one(judged: list[Judged], name: str) -> Judged:
    return next(j for j in judged if j.name == name)


def run(
    checker: CoreChecker, policies: list[CustomObject], tier_objects: list[CustomObject], secrets: Any = None
) -> Judgement:
    return judge(policies, tier_objects, secrets or {}, checker.check)


def policy(name: str = "default", **spec: Any) -> CustomObject:
    return make_object(name, spec)


def test_the_examples_are_accepted(checker: CoreChecker) -> None:
    judgement = run(checker, examples("RoutingPolicy"), examples("ProviderTier"))
    assert all(j.verdict.accepted for j in [*judgement.tiers, *judgement.policies])
    assert judgement.tier_set is not None
    assert [t.spec.tier for t in judgement.tier_set] == [1, 2, 3]


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({}, "spec.providers[1].apiKeyRef: no Secret 'openai'"),
        ({"openai": frozenset({"token"})}, "spec.providers[1].apiKeyRef: no key 'api-key' in Secret 'openai'"),
    ],
)
def test_a_missing_secret_refuses_the_tier(checker: CoreChecker, secrets: Any, message: str) -> None:
    spec = tier_spec(2, "p2", "keyed")
    spec["providers"][1]["apiKeyRef"] = "secret:openai/api-key"
    judgement = run(checker, [policy()], tiers(t2=spec), secrets)
    verdict = one(judgement.tiers, "t2").verdict
    assert (verdict.status, verdict.reason, verdict.message) == (ConditionStatus.FALSE, Reason.SECRET_MISSING, message)
    assert judgement.tier_set is None


def test_an_existing_secret_key_is_enough(checker: CoreChecker) -> None:
    judgement = run(
        checker,
        [policy()],
        tiers(t2=tier_spec(2, "p2", apiKeyRef="secret:openai/api-key")),
        {"openai": frozenset({"api-key"})},
    )
    assert one(judgement.tiers, "t2").verdict.accepted


def test_the_core_blames_a_field_of_one_tier_and_the_others_stay_accepted(checker: CoreChecker) -> None:
    # a blank model: no schema keyword says "not blank", so the core is the one to refuse it
    judgement = run(checker, [policy()], tiers(t1=tier_spec(1, "p1", model=" ")))
    verdict = one(judgement.tiers, "t1").verdict
    assert verdict.reason is Reason.REJECTED_BY_CORE
    assert verdict.message == "spec.providers[0].model: must not be empty"
    assert one(judgement.tiers, "t2").verdict.accepted and one(judgement.tiers, "t3").verdict.accepted


def test_a_provider_name_used_in_two_tiers_names_the_other_tier(checker: CoreChecker) -> None:
    judgement = run(checker, [policy()], tiers(t3=tier_spec(3, "p1")))
    verdict = one(judgement.tiers, "t3").verdict
    assert verdict.reason is Reason.REJECTED_BY_CORE
    assert (
        verdict.message == "spec.providers[0].name: duplicate provider name 'p1' (also ProviderTier 't1'.providers[0])"
    )
    assert one(judgement.tiers, "t1").verdict.accepted


def test_the_newer_of_two_tiers_with_one_number_is_refused(checker: CoreChecker) -> None:
    newer = make_object("t2-new", tier_spec(2, "p2-new"), age=1)
    judgement = run(checker, [policy()], [*tiers(), newer])
    verdict = one(judgement.tiers, "t2-new").verdict
    assert (verdict.reason, verdict.message) == (Reason.DUPLICATE_TIER, "tier 2 is already served by ProviderTier 't2'")
    assert one(judgement.tiers, "t2").verdict.accepted
    assert judgement.tier_set is not None


def test_a_spec_that_does_not_parse_is_refused_with_its_field(checker: CoreChecker) -> None:
    judgement = run(checker, [policy()], tiers(t2={**tier_spec(2, "p2"), "timeoutMs": "soon"}))
    verdict = one(judgement.tiers, "t2").verdict
    assert verdict.reason is Reason.INVALID_SPEC
    assert verdict.message.startswith("spec.timeoutMs: Input should be a valid integer")


def test_policies_wait_for_a_complete_tier_set(checker: CoreChecker) -> None:
    judgement = run(checker, [policy()], tiers()[:2])
    verdict = one(judgement.policies, "default").verdict
    assert (verdict.status, verdict.reason) == (ConditionStatus.UNKNOWN, Reason.TIERS_INCOMPLETE)
    assert verdict.message == "not compiled: no accepted ProviderTier for tier 3"


def test_an_unknown_domain_is_refused_with_the_known_ones(checker: CoreChecker) -> None:
    bad = policy(overrides={"domains": [{"name": "stars", "domain": "astrology", "minTier": 3}]})
    verdict = one(run(checker, [bad], tiers()).policies, "default").verdict
    assert verdict.reason is Reason.REJECTED_BY_CORE
    assert verdict.message.startswith(
        "spec.overrides.domains[0].domain: unknown domain 'astrology' (the classifier knows: "
    )


def test_a_residency_rule_no_provider_can_meet_is_refused(checker: CoreChecker) -> None:
    bad = policy(overrides={"residency": [{"name": "mars", "allowedRegions": ["mars-1"]}]})
    verdict = one(run(checker, [bad], tiers()).policies, "default").verdict
    assert verdict.message == (
        "spec.overrides.residency[0].allowedRegions[0]: "
        "no provider serves region 'mars-1', so rule 'mars' could never be met"
    )


def test_shadow_references(checker: CoreChecker) -> None:
    live = policy(shadowPolicy="candidate")
    missing = one(run(checker, [live], tiers()).policies, "default").verdict
    assert (missing.reason, missing.message) == (
        Reason.SHADOW_MISSING,
        "spec.shadowPolicy 'candidate': no such RoutingPolicy",
    )

    broken = policy("candidate", classifier={"maxTokens": 4096})
    judgement = run(checker, [live, broken], tiers())
    assert one(judgement.policies, "candidate").verdict.reason is Reason.INVALID_SPEC
    shadowed = one(judgement.policies, "default").verdict
    assert (shadowed.reason, shadowed.message) == (
        Reason.SHADOW_NOT_ACCEPTED,
        "shadow RoutingPolicy 'candidate' is not accepted",
    )

    fine = policy("candidate", classifier={"maxUnderrouteRisk": 0.2})
    assert all(j.verdict.accepted for j in run(checker, [live, fine], tiers()).policies)
