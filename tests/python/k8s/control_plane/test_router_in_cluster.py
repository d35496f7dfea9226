"""The whole control plane with a real router: `kubectl apply` -> operator -> published
ConfigMap -> `llm-router serve` (Kubernetes source, the router's least RBAC) -> decisions; and
back: the router's breaker states -> its status report -> the ProviderTier's status. Also config
formats across a rolling upgrade, with the ConfigMap written by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import yaml
from control_plane_env import CONFIGMAP, Env

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.config.kube_source import FORMAT_ANNOTATION, REVISION_ANNOTATION, status_configmap_name
from router_py.config.manifests import load_config
from router_tools.local.fleet import Fleet
from support.admission import router_args
from support.manifests import write_manifests
from support.probes import route_tier, wait_for

POLICY = "20-routing-policy.yaml"


def _router(env: Env, manifests: Path, logs: Path) -> Fleet:
    """Six simulated providers and a router that reads its config from the cluster."""
    cluster = {"KUBECONFIG": str(env.router_kubeconfig), "LLM_ROUTER_NAMESPACE": env.namespace,
               "LLM_ROUTER_CONFIGMAP": CONFIGMAP, "POD_NAME": "router-0"}
    return Fleet(manifests, logs, cluster_env=cluster, router_args=router_args())


@pytest.fixture()
def stack(env: Env, tmp_path: Path) -> Iterator[Fleet]:
    """Operator, policies and tiers applied and live, then the router."""
    manifests = write_manifests(tmp_path / "manifests")
    env.operator()
    env.kubectl("apply", "-f", str(manifests))
    env.wait_condition("rpol/default", "Live", "True")
    with _router(env, manifests, tmp_path / "logs") as fleet:
        yield fleet


def _readyz(fleet: Fleet) -> dict[str, Any]:
    answer = httpx.get(f"{fleet.http_url}/readyz", timeout=5)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _revision(fleet: Fleet) -> str:
    return str(_readyz(fleet)["revision"])


def _published_revision(env: Env) -> str:
    configmap = env.configmap()
    assert configmap is not None
    return str(configmap["metadata"]["annotations"][REVISION_ANNOTATION])


def _apply_policy(env: Env, fleet: Fleet, tenants: list[dict[str, object]]) -> None:
    doc = yaml.safe_load((fleet.manifests / POLICY).read_text())
    doc["spec"]["overrides"]["tenants"] = tenants
    env.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))


def test_decisions_follow_an_apply_and_a_bad_change_leaves_them(env: Env, stack: Fleet) -> None:
    # How soon a change is live is measured by `benches/apply_to_live.py`, not asserted here.
    assert route_tier(stack, "vip") == 1
    _apply_policy(env, stack, [{"name": "vip-gets-reasoning", "tenant": "vip", "minTier": 3}])
    wait_for(lambda: route_tier(stack, "vip") == 3 or None, "the router to route vip to tier 3", timeout=30)
    good = _revision(stack)

    # The operator decides what to publish before it writes the verdict: once Accepted=False
    # shows, the ConfigMap the router follows is known to be the good one still.
    env.kubectl("patch", "rpol", "default", "--type=merge", "-p", json.dumps(
        {"spec": {"overrides": {"domains": [{"name": "stars", "domain": "astrology", "minTier": 3}]}}}))
    env.wait_condition("rpol/default", "Accepted", "False", "RejectedByCore")
    assert _published_revision(env) == good
    assert _revision(stack) == good and route_tier(stack, "vip") == 3

    env.kubectl("delete", "rpol", "default")
    wait_for(lambda: "llmrouter.io/orphaned" in (env.configmap() or {})["metadata"]["annotations"],
             "the published config to be marked orphaned")
    assert _published_revision(env) == good and _revision(stack) == good
    assert route_tier(stack, "vip") == 3, "the routers keep the last config when its policy is deleted"


def _publish(env: Env, revision: str, content: str, config_format: str | None) -> None:
    """The ConfigMap as an operator of a given release writes it; None: a release from before
    formats were marked."""
    annotations = {REVISION_ANNOTATION: revision} | ({FORMAT_ANNOTATION: config_format} if config_format else {})
    env.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP, "annotations": annotations}, "data": {"config.json": content}}))


def test_config_formats_across_a_rolling_upgrade(env: Env, tmp_path: Path) -> None:
    """Both directions, no operator: a router of this release meets the previous release's
    ConfigMap (no format annotation: read as v1, accepted) and then a newer operator's (format
    v2: refused by name, the last good config kept, ready, the refusal on /readyz and in its
    status report)."""
    manifests = write_manifests(tmp_path / "manifests")
    _publish(env, "1", load_config(manifests).to_core_json(), config_format=None)
    with _router(env, manifests, tmp_path / "logs") as router:
        assert _readyz(router)["revision"] == "1" and _readyz(router)["last_error"] is None

        _publish(env, "2", json.dumps({"policy": {"fieldOfConfigV2": 1}}), config_format="v2")
        refused = wait_for(lambda: (r := _readyz(router))["last_error"] and r, "the router to refuse format v2")
        assert refused["ready"] is True and refused["revision"] == "1"
        assert refused["last_error"] == (
            f"revision 2: ConfigMap {env.namespace}/{CONFIGMAP} is in config format 'v2'; this router reads 'v1' "
            "only (published by a newer operator? upgrade the routers)"
        )
        assert route_tier(router, "anyone") == 1

        def reported_error() -> str | None:
            report = env.get("configmap", status_configmap_name(CONFIGMAP, "router-0"))
            return json.loads(report["data"]["status.json"])["last_error"]  # type: ignore[no-any-return]

        # The report follows each update (`RouterService.follow`), a moment after /readyz.
        wait_for(lambda: reported_error() == refused["last_error"], "the refusal in the router's status report")


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

    row = wait_for(opened, "sim-fast-a open in the tier's status")
    assert row["replicas"] == {"closed": 0, "halfOpen": 0, "open": 1}
    table = env.kubectl("get", "ptier", "tier-1-fast").stdout.splitlines()
    header, line = table[0].split(), table[1].split()
    assert header[:6] == ["NAME", "TIER", "ACCEPTED", "LIVE", "OPEN", "BREAKERS"] and line[4] == "1"
