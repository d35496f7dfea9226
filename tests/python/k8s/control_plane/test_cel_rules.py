"""The CRDs' schema and CEL rules are never stricter than the Rust core: every spec the core
accepts, the apiserver accepts (server-side dry run), on random specs near the rules' edges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from router_operator.judge import judge
from support.crd_objects import examples, make_object
from support.kube import KubeCluster

from router_py.config.check import CoreChecker

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
