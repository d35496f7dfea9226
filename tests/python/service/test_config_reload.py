"""`serve --config FOLDER` follows the folder: a valid change is live within 2 s; a bad one is
refused, reported on /readyz, and decisions stay on the last good config."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import yaml

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.local.fleet import Fleet

POLICY = "20-routing-policy.yaml"


@pytest.fixture()
def own_fleet(tmp_path: Path, make_manifests: Callable[[Path], Path]) -> Iterator[Fleet]:
    with Fleet(make_manifests(tmp_path / "manifests"), tmp_path / "logs") as f:
        yield f


def _tier(fleet: Fleet, tenant: str) -> int:
    stub = pb_grpc.RouterStub(grpc.insecure_channel(fleet.grpc_target))
    request = pb.RouteRequest(tenant=tenant, messages=[pb.Message(role="user", content="What time is it in Oslo?")])
    return stub.Route(request, timeout=10).decision.tier


def _edit_policy(fleet: Fleet, edit: Callable[[dict[str, object]], None]) -> None:
    path = fleet.manifests / POLICY
    doc = yaml.safe_load(path.read_text())
    edit(doc["spec"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _wait_for(predicate: Callable[[], bool], within_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {within_s} s")


def test_a_valid_change_is_live_within_two_seconds(own_fleet: Fleet) -> None:
    assert _tier(own_fleet, "vip") == 1
    _edit_policy(own_fleet, lambda spec: spec["overrides"].update(  # type: ignore[attr-defined]
        tenants=[{"name": "vip-gets-reasoning", "tenant": "vip", "minTier": 3}]))
    _wait_for(lambda: _tier(own_fleet, "vip") == 3, within_s=2.0)
    assert _tier(own_fleet, "someone-else") == 1


def test_a_bad_change_is_refused_and_the_last_good_config_stays(own_fleet: Fleet) -> None:
    before = httpx.get(f"{own_fleet.http_url}/readyz").json()["revision"]
    _edit_policy(own_fleet, lambda spec: spec["classifier"].update(maxUnderrouteRisk=7))  # type: ignore[attr-defined]
    _wait_for(lambda: httpx.get(f"{own_fleet.http_url}/readyz").json()["last_error"] is not None, within_s=3.0)
    ready = httpx.get(f"{own_fleet.http_url}/readyz")
    assert ready.status_code == 200 and ready.json()["revision"] == before
    assert "maxUnderrouteRisk" in ready.json()["last_error"]
    assert _tier(own_fleet, "vip") == 1
    (own_fleet.manifests / POLICY).write_text("kind: [unclosed")
    _wait_for(lambda: "revision" in (httpx.get(f"{own_fleet.http_url}/readyz").json()["last_error"] or "")
              and httpx.get(f"{own_fleet.http_url}/readyz").json()["last_error"] != ready.json()["last_error"], 3.0)
    assert _tier(own_fleet, "vip") == 1
