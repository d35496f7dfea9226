"""The whole control plane with a real router: `kubectl apply` -> operator -> published
ConfigMap -> `llm-router serve` (Kubernetes source, the router's least RBAC) -> decisions; and
back: the router's breaker states -> its status report -> the ProviderTier's status."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import yaml
from control_plane_env import CONFIGMAP, Env

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.local.fleet import Fleet
from support.manifests import write_manifests
from support.probes import route_tier, wait_for

POLICY = "20-routing-policy.yaml"


@pytest.fixture()
def stack(env: Env, tmp_path: Path) -> Iterator[Fleet]:
    """Operator, policies and tiers applied and live, then six simulated providers and a router
    that reads its config from the cluster."""
    manifests = write_manifests(tmp_path / "manifests")
    env.operator()
    env.kubectl("apply", "-f", str(manifests))
    env.wait_condition("rpol/default", "Live", "True")
    cluster = {"KUBECONFIG": str(env.router_kubeconfig), "LLM_ROUTER_NAMESPACE": env.namespace,
               "LLM_ROUTER_CONFIGMAP": CONFIGMAP, "POD_NAME": "router-0"}
    with Fleet(manifests, tmp_path / "logs", cluster_env=cluster) as fleet:
        yield fleet


def _revision(fleet: Fleet) -> str:
    return str(httpx.get(f"{fleet.http_url}/readyz", timeout=5).json()["revision"])


def _apply_policy(env: Env, fleet: Fleet, tenants: list[dict[str, object]]) -> None:
    doc = yaml.safe_load((fleet.manifests / POLICY).read_text())
    doc["spec"]["overrides"]["tenants"] = tenants
    env.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))


def test_decisions_follow_an_apply_and_a_bad_change_leaves_them(env: Env, stack: Fleet) -> None:
    assert route_tier(stack, "vip") == 1
    applied = time.monotonic()
    _apply_policy(env, stack, [{"name": "vip-gets-reasoning", "tenant": "vip", "minTier": 3}])
    wait_for(lambda: route_tier(stack, "vip") == 3 or None, "the router to route vip to tier 3", timeout=10)
    assert time.monotonic() - applied <= 2.0, "live within 2 s of the apply"
    good = _revision(stack)

    env.kubectl("patch", "rpol", "default", "--type=merge", "-p", json.dumps(
        {"spec": {"overrides": {"domains": [{"name": "stars", "domain": "astrology", "minTier": 3}]}}}))
    env.wait_condition("rpol/default", "Accepted", "False", "RejectedByCore")
    time.sleep(1.0)  # what a router would take to pick up a published change
    assert _revision(stack) == good and route_tier(stack, "vip") == 3

    env.kubectl("delete", "rpol", "default")
    time.sleep(1.0)
    ready = httpx.get(f"{stack.http_url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["revision"] == good
    assert route_tier(stack, "vip") == 3, "the routers keep the last config when its policy is deleted"


def test_a_failing_provider_shows_open_in_its_tier_status(env: Env, stack: Fleet) -> None:
    stack.set_faults("sim-fast-a", error_rate=1.0)
    stub = pb_grpc.RouterStub(grpc.insecure_channel(stack.grpc_target))
    for i in range(3):
        stub.Complete(pb.CompleteRequest(tenant="t", messages=[pb.Message(role="user", content=f"Say hi #{i}")]),
                      timeout=20)

    def opened() -> dict[str, object] | None:
        status = env.get("ptier/tier-1-fast").get("status", {})
        rows = {p["name"]: p for p in status.get("providers", [])}
        row = rows.get("sim-fast-a")
        return row if row is not None and row["state"] == "open" and status.get("openBreakers") == 1 else None

    row = wait_for(opened, "sim-fast-a open in the tier's status", timeout=15)
    assert row["replicas"] == {"closed": 0, "halfOpen": 0, "open": 1}
    table = env.kubectl("get", "ptier", "tier-1-fast").stdout.splitlines()
    header, line = table[0].split(), table[1].split()
    assert header[:6] == ["NAME", "TIER", "ACCEPTED", "LIVE", "OPEN", "BREAKERS"] and line[4] == "1"
