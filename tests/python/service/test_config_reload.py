"""`serve --config FOLDER` follows the folder: a valid change goes live; a bad one is refused,
reported on /readyz, and decisions stay on the last good config. How soon is not asserted: a
busy machine would fail that, whatever the router does; benches/apply_to_live.py measures it
(through the cluster source)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from router_tools.local.fleet import Fleet
from support.admission import router_args
from support.probes import route_tier, wait_for

POLICY = "20-routing-policy.yaml"


@pytest.fixture()
def own_fleet(tmp_path: Path, make_manifests: Callable[[Path], Path]) -> Iterator[Fleet]:
    with Fleet(make_manifests(tmp_path / "manifests"), tmp_path / "logs", router_args=router_args()) as f:
        yield f


def _edit_policy(fleet: Fleet, edit: Callable[[dict[str, object]], None]) -> None:
    path = fleet.manifests / POLICY
    doc = yaml.safe_load(path.read_text())
    edit(doc["spec"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_valid_change_goes_live(own_fleet: Fleet) -> None:
    assert route_tier(own_fleet, "vip") == 1
    _edit_policy(own_fleet, lambda spec: spec["overrides"].update(  # type: ignore[attr-defined]
        tenants=[{"name": "vip-gets-reasoning", "tenant": "vip", "minTier": 3}]))
    wait_for(lambda: route_tier(own_fleet, "vip") == 3, "vip routed to tier 3", every=0.05)
    assert route_tier(own_fleet, "someone-else") == 1


def test_a_bad_change_is_refused_and_the_last_good_config_stays(own_fleet: Fleet) -> None:
    before = httpx.get(f"{own_fleet.http_url}/readyz").json()["revision"]
    _edit_policy(own_fleet, lambda spec: spec["classifier"].update(maxUnderrouteRisk=7))  # type: ignore[attr-defined]
    wait_for(lambda: httpx.get(f"{own_fleet.http_url}/readyz").json()["last_error"] is not None, "a refusal", every=0.05)
    ready = httpx.get(f"{own_fleet.http_url}/readyz")
    assert ready.status_code == 200 and ready.json()["revision"] == before
    assert "maxUnderrouteRisk" in ready.json()["last_error"]
    assert route_tier(own_fleet, "vip") == 1
    (own_fleet.manifests / POLICY).write_text("kind: [unclosed")
    wait_for(lambda: "revision" in (httpx.get(f"{own_fleet.http_url}/readyz").json()["last_error"] or "")
             and httpx.get(f"{own_fleet.http_url}/readyz").json()["last_error"] != ready.json()["last_error"],
             "a second refusal", every=0.05)
    assert route_tier(own_fleet, "vip") == 1


def _readyz(fleet: Fleet) -> dict[str, object]:
    body: dict[str, object] = httpx.get(f"{fleet.http_url}/readyz").json()
    return body


@pytest.mark.parametrize(("content", "why"), [
    (b"apiVersion: llmrouter.io/v1alpha1\nkind: RoutingPolicy\x00\xff\xfe\n", "not UTF-8"),
    (b"spec: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested too deeply"),
    (b"kind: RoutingPolicy\nspec: " + b"{x: " * 3000 + b"1" + b"}" * 3000, "nested too deeply"),
])
def test_any_bytes_in_a_watched_file_are_a_refused_change_not_an_exit(
        own_fleet: Fleet, content: bytes, why: str) -> None:
    before = _readyz(own_fleet)["revision"]
    (own_fleet.manifests / POLICY).write_bytes(content)
    wait_for(lambda: _readyz(own_fleet)["last_error"] is not None, "a refusal", every=0.05)
    ready = _readyz(own_fleet)
    assert why in str(ready["last_error"]) and ready["revision"] == before
    assert own_fleet.router is not None and own_fleet.router.popen.poll() is None
    assert route_tier(own_fleet, "vip") == 1
