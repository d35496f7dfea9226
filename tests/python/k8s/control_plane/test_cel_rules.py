"""The CRDs' CEL rules and the Rust core refuse the same inputs: every spec the core accepts, the
apiserver accepts (server-side dry run), on random specs near the rules' edges; and each rule's
own violation is refused by both. (The schema's ranges and patterns are the core's own, exported
by it: `tests/python/config/test_schema_bounds.py`.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from router_operator.crds import KINDS, RULES
from router_operator.judge import judge

from router_py.config.check import CoreChecker
from support.crd_objects import examples, make_object
from support.kube import KubeCluster

TIER = st.integers(1, 3)
NAME = st.sampled_from(["a", "b", "hint", "eu-only", ""])


@pytest.fixture(scope="module")
def checker(models: Path) -> CoreChecker:
    return CoreChecker.load(models)


def window(who: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"name": NAME, who: st.sampled_from(["t1", "t2", "*"])},
        optional={"minTier": TIER, "maxTier": TIER},
    )


def named(items: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists keyed by name, as the CRD's list-maps require (duplicates are refused by design)."""
    return st.lists(items, max_size=3, unique_by=lambda item: item["name"])


POLICY = st.fixed_dictionaries(
    {},
    optional={
        "overrides": st.fixed_dictionaries(
            {},
            optional={
                "domains": named(
                    st.fixed_dictionaries(
                        {"name": NAME, "domain": st.sampled_from(["legal", "code", "astrology"]), "minTier": TIER}
                    )
                ),
                "tenants": named(window("tenant")),
                "users": named(window("user")),
                "residency": named(
                    st.fixed_dictionaries(
                        {
                            "name": NAME,
                            "allowedRegions": st.lists(st.sampled_from(["us-east-1", "eu-west-1"]), max_size=2),
                        },
                        optional={"requestRegion": st.sampled_from(["eu", "us", ""])},
                    )
                ),
            },
        ),
        "cascade": st.fixed_dictionaries({}, optional={"maxDepth": st.integers(0, 2)}),
    },
)


def mostly(valid: list[str], invalid: list[str]) -> st.SearchStrategy[str]:
    """Valid values 9 times in 10, so that enough specs get past the core to test the apiserver."""
    return st.sampled_from(valid * 9 + invalid)


PROVIDER = st.fixed_dictionaries(
    {
        "name": mostly(["p", "q", "r"], [""]),
        "model": mostly(["m"], [""]),
        "baseUrl": mostly(["http://x", "https://x:1/v1"], ["http://", "ftp://x", "https://"]),
        "region": mostly(["us-east-1"], [""]),
        "priceInputPerMtok": st.floats(0, 10),
        "priceOutputPerMtok": st.floats(0, 10),
    },
    optional={"timeoutMs": st.integers(1, 10_000), "api": st.sampled_from(["openai", "anthropic"])},
)
TIER_SPEC = st.fixed_dictionaries(
    {
        "tier": TIER,
        "name": mostly(["t"], [""]),
        "providers": st.lists(PROVIDER, min_size=1, max_size=2, unique_by=lambda p: p["name"]),
    },
    optional={
        "breaker": st.fixed_dictionaries(
            {}, optional={"failureThreshold": st.integers(1, 9), "openSeconds": st.floats(0.001, 60)}
        )
    },
)


def server_accepts(cluster: KubeCluster, namespace: str, kind: str, spec: dict[str, Any]) -> tuple[bool, str]:
    body = {"apiVersion": "llmrouter.io/v1alpha1", "kind": kind, "metadata": {"name": "candidate"}, "spec": spec}
    done = cluster.kubectl(
        "create", "--dry-run=server", "-n", namespace, "-f", "-", input=json.dumps(body), check=False
    )
    return done.returncode == 0, done.stderr


def test_core_valid_policies_pass_the_apiserver(
    llmrouter_crds: KubeCluster, kube_namespace: str, checker: CoreChecker
) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(spec=POLICY)
    def check(spec: dict[str, Any]) -> None:
        verdict = judge([make_object("default", spec)], examples("ProviderTier"), {}, checker.check).policies[0].verdict
        if verdict.accepted:
            accepted, why = server_accepts(llmrouter_crds, kube_namespace, "RoutingPolicy", spec)
            assert accepted, f"the core accepts {spec} but the apiserver says: {why}"

    check()


def test_core_valid_tiers_pass_the_apiserver(
    llmrouter_crds: KubeCluster, kube_namespace: str, checker: CoreChecker
) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(spec=TIER_SPEC)
    def check(spec: dict[str, Any]) -> None:
        verdict = judge([], [make_object("candidate", spec)], {}, checker.check).tiers[0].verdict
        if verdict.accepted:
            accepted, why = server_accepts(llmrouter_crds, kube_namespace, "ProviderTier", spec)
            assert accepted, f"the core accepts {spec} but the apiserver says: {why}"

    check()


# One spec per CEL rule (model, message) that breaks that rule alone.
WINDOWLESS = {"name": "w", "tenant": "acme"}
CEL_CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("TenantOverride", "sets neither minTier nor maxTier", "RoutingPolicy", {"overrides": {"tenants": [WINDOWLESS]}}),
    (
        "TenantOverride",
        "maxTier is below minTier",
        "RoutingPolicy",
        {"overrides": {"tenants": [WINDOWLESS | {"minTier": 3, "maxTier": 1}]}},
    ),
    (
        "UserOverride",
        "sets neither minTier nor maxTier",
        "RoutingPolicy",
        {"overrides": {"users": [{"name": "u", "user": "ada"}]}},
    ),
    (
        "UserOverride",
        "maxTier is below minTier",
        "RoutingPolicy",
        {"overrides": {"users": [{"name": "u", "user": "ada", "minTier": 2, "maxTier": 1}]}},
    ),
    (
        "TenantOverride",
        "'hint' is reserved for request hints",
        "RoutingPolicy",
        {"overrides": {"tenants": [WINDOWLESS | {"name": "hint", "minTier": 2}]}},
    ),
    (
        "UserOverride",
        "'hint' is reserved for request hints",
        "RoutingPolicy",
        {"overrides": {"users": [{"name": "hint", "user": "ada", "minTier": 2}]}},
    ),
    (
        "DomainOverride",
        "'hint' is reserved for request hints",
        "RoutingPolicy",
        {"overrides": {"domains": [{"name": "hint", "domain": "legal", "minTier": 3}]}},
    ),
    (
        "ResidencyRule",
        "'hint' is reserved for request hints",
        "RoutingPolicy",
        {"overrides": {"residency": [{"name": "hint", "allowedRegions": ["us-east-1"]}]}},
    ),
    ("RoutingPolicy", "a RoutingPolicy cannot be its own shadow", "RoutingPolicy", {"shadowPolicy": "candidate"}),
]


def test_every_cel_rule_has_a_case() -> None:
    declared = {(model, r.message) for model, rules in RULES.items() for r in rules}
    declared |= {(kind.kind, r.message) for kind in KINDS for r in kind.rules}
    assert declared == {(model, message) for model, message, _, _ in CEL_CASES}


@pytest.mark.parametrize(("model", "message", "kind", "spec"), CEL_CASES, ids=lambda v: str(v)[:40])
def test_each_cel_rule_and_the_core_refuse_its_violation(
    llmrouter_crds: KubeCluster,
    kube_namespace: str,
    checker: CoreChecker,
    model: str,
    message: str,
    kind: str,
    spec: dict[str, Any],
) -> None:
    accepted, why = server_accepts(llmrouter_crds, kube_namespace, kind, spec)
    assert not accepted and message in why, why
    verdict = judge([make_object("candidate", spec)], examples("ProviderTier"), {}, checker.check).policies[0].verdict
    assert not verdict.accepted, f"the apiserver refuses {spec} ({message}) but the core accepts it"
