"""Caller identity on real ports: `serve --api-keys FILE` admits only callers with a listed key,
takes the tenant from the key (a tenant header or field naming another is refused), follows
the file as it changes (rotation, revocation, a bad file keeping the last good keys), and leaves
probes and metrics open. Without --api-keys the tenant header is used as before."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.service.auth import digest, new_key
from router_tools.local.fleet import Fleet
from support.admission import router_args
from support.probes import wait_for

VIP_KEY, ACME_KEY = new_key(), new_key()
QUESTION = "What time is it in Oslo?"


def keys_doc(*entries: tuple[str, str, str | None]) -> str:
    """(key, tenant, id) -> the keys file's text (hashes only)."""
    keys = [{"tenant": t, "sha256": digest(k), **({"id": i} if i else {})} for k, t, i in entries]
    return yaml.safe_dump({"keys": keys}, sort_keys=False)


BASELINE = keys_doc((VIP_KEY, "vip", "vip-app"), (ACME_KEY, "acme", None))


def revision(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def keys_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "api-keys.yaml"
    path.write_text(BASELINE)
    return path


@pytest.fixture(scope="module")
def authed(tmp_path_factory: pytest.TempPathFactory, make_manifests: Callable[[Path], Path],
           keys_path: Path) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("authed")
    manifests = make_manifests(root / "manifests")
    # Tenant `vip` is routed to tier 3: the tier a request lands on says which tenant it ran as.
    policy = manifests / "20-routing-policy.yaml"
    doc = yaml.safe_load(policy.read_text())
    doc["spec"]["overrides"]["tenants"] = [{"name": "vip-gets-reasoning", "tenant": "vip", "minTier": 3}]
    policy.write_text(yaml.safe_dump(doc, sort_keys=False))
    with Fleet(manifests, root / "logs", router_args=("--api-keys", str(keys_path), *router_args())) as f:
        for name in (p.name for t in f.config.tiers for p in t.providers):
            f.set_faults(name, latency_scale=0.02)
        yield f


def readyz(keyed: Fleet) -> dict[str, object]:
    body: dict[str, object] = httpx.get(f"{keyed.http_url}/readyz", timeout=5).json()
    return body


@pytest.fixture()
def keyed(authed: Fleet, keys_path: Path) -> Fleet:
    """The authed fleet with the baseline keys live (a test that rewrote the file is undone)."""
    keys_path.write_text(BASELINE)
    wait_for(lambda: readyz(authed).get("auth_revision") == revision(BASELINE) and "auth_error" not in readyz(authed),
             "the baseline keys live", every=0.05)
    return authed


def chat(keyed: Fleet, key: str | None = None, tenant: str | None = None) -> httpx.Response:
    headers = {**({"authorization": f"Bearer {key}"} if key else {}), **({"x-llm-router-tenant": tenant} if tenant else {})}
    body = {"model": "auto", "messages": [{"role": "user", "content": QUESTION}]}
    return httpx.post(f"{keyed.http_url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def route(target: str, key: str | None = None, tenant: str = "",
          credentials: grpc.ChannelCredentials | None = None) -> pb.RouteResponse:
    metadata = (("authorization", f"Bearer {key}"),) if key else None
    channel = (grpc.secure_channel(target, credentials) if credentials is not None else grpc.insecure_channel(target))
    with channel:
        request = pb.RouteRequest(tenant=tenant, messages=[pb.Message(role="user", content=QUESTION)])
        response: pb.RouteResponse = pb_grpc.RouterStub(channel).Route(request, metadata=metadata, timeout=10)
        return response


def grpc_code(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    code: grpc.StatusCode = caught.value.code()  # type: ignore[attr-defined]
    return code


# -- HTTP -------------------------------------------------------------------------------------


def test_http_without_a_key_or_with_an_unknown_one_is_401(keyed: Fleet) -> None:
    for key in (None, "llmr_not-a-key"):
        refused = chat(keyed, key, tenant="vip")
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["error"]["code"] == "unauthenticated"
    basic = httpx.post(f"{keyed.http_url}/v1/chat/completions", json={}, timeout=5,
                       headers={"authorization": f"Basic {ACME_KEY}"})
    assert basic.status_code == 401
    assert httpx.get(f"{keyed.http_url}/v1/models", timeout=5).status_code == 401


def test_http_tenant_header_that_disagrees_with_the_key_is_403(keyed: Fleet) -> None:
    refused = chat(keyed, ACME_KEY, tenant="vip")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "permission_denied"


def test_http_the_keys_tenant_is_used_with_or_without_the_header(keyed: Fleet) -> None:
    for tenant in (None, "vip"):
        ok = chat(keyed, VIP_KEY, tenant=tenant)
        assert ok.status_code == 200, ok.text
        assert ok.headers["x-llm-router-tier"] == "3"
    acme = chat(keyed, ACME_KEY)
    assert acme.status_code == 200 and acme.headers["x-llm-router-tier"] == "1"
    models = httpx.get(f"{keyed.http_url}/v1/models", headers={"authorization": f"Bearer {ACME_KEY}"}, timeout=5)
    assert models.status_code == 200 and models.json()["data"]


def test_probes_and_metrics_need_no_key_and_readyz_says_auth_is_on(keyed: Fleet) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{keyed.http_url}{path}", timeout=5).status_code == 200, path
    ready = readyz(keyed)
    assert ready["auth"] == "on" and ready["auth_keys"] == 2
    with grpc.insecure_channel(keyed.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_refusals_log_the_key_id_never_the_key(keyed: Fleet) -> None:
    assert chat(keyed, VIP_KEY, tenant="acme").status_code == 403
    assert chat(keyed, "llmr_unknown-key-material").status_code == 401
    # Logged before the refusal is sent, and the handler flushes each line.
    log = (keyed.logs / "router.log").read_text()
    assert '"key":"vip-app"' in log and "unknown api key" in log
    assert VIP_KEY not in log and ACME_KEY not in log and "unknown-key-material" not in log


# -- gRPC -------------------------------------------------------------------------------------


def test_grpc_without_a_key_or_with_an_unknown_one_is_unauthenticated(keyed: Fleet) -> None:
    assert grpc_code(lambda: route(keyed.grpc_target)) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_code(lambda: route(keyed.grpc_target, "llmr_nope")) == grpc.StatusCode.UNAUTHENTICATED
    with grpc.insecure_channel(keyed.grpc_target) as channel:
        stub = pb_grpc.RouterStub(channel)
        request = pb.CompleteRequest(messages=[pb.Message(role="user", content=QUESTION)])
        stream = stub.CompleteStream(request, timeout=10)
        assert grpc_code(lambda: list(stream)) == grpc.StatusCode.UNAUTHENTICATED
        assert grpc_code(lambda: stub.Complete(request, timeout=10)) == grpc.StatusCode.UNAUTHENTICATED


def test_grpc_tenant_field_that_disagrees_with_the_key_is_permission_denied(keyed: Fleet) -> None:
    assert grpc_code(lambda: route(keyed.grpc_target, ACME_KEY, tenant="vip")) == grpc.StatusCode.PERMISSION_DENIED


def test_grpc_the_keys_tenant_is_used_with_or_without_the_field(keyed: Fleet) -> None:
    assert route(keyed.grpc_target, VIP_KEY).decision.tier == 3
    assert route(keyed.grpc_target, VIP_KEY, tenant="vip").decision.tier == 3
    assert route(keyed.grpc_target, ACME_KEY).decision.tier == 1
    with grpc.insecure_channel(keyed.grpc_target) as channel:
        request = pb.CompleteRequest(messages=[pb.Message(role="user", content=QUESTION)])
        events = list(pb_grpc.RouterStub(channel).CompleteStream(
            request, metadata=(("authorization", f"Bearer {VIP_KEY}"),), timeout=30))
    assert events[0].decision.tier == 3 and events[-1].done.tier == 3


# -- the keys file changes --------------------------------------------------------------------


def test_rotation_admits_the_new_key_and_refuses_the_old_without_a_restart(keyed: Fleet, keys_path: Path) -> None:
    pid = keyed.router.popen.pid if keyed.router else None
    rotated_key = new_key()
    rotated = keys_doc((rotated_key, "vip", "vip-app-2"), (ACME_KEY, "acme", None))
    keys_path.write_text(rotated)
    wait_for(lambda: readyz(keyed).get("auth_revision") == revision(rotated), "the rotated keys live",
             every=0.05)
    assert chat(keyed, VIP_KEY).status_code == 401
    assert grpc_code(lambda: route(keyed.grpc_target, VIP_KEY)) == grpc.StatusCode.UNAUTHENTICATED
    assert chat(keyed, rotated_key).headers["x-llm-router-tier"] == "3"
    assert route(keyed.grpc_target, rotated_key).decision.tier == 3
    assert chat(keyed, ACME_KEY).status_code == 200
    assert keyed.router is not None and keyed.router.popen.pid == pid and keyed.router.popen.poll() is None


def test_a_bad_keys_file_keeps_the_last_good_keys_and_is_reported(keyed: Fleet, keys_path: Path) -> None:
    keys_path.unlink()
    wait_for(lambda: "unreadable" in str(readyz(keyed).get("auth_error", "")), "the missing file reported", every=0.05)
    assert chat(keyed, ACME_KEY).status_code == 200
    # The same content back: taken again, and the error cleared.
    keys_path.write_text(BASELINE)
    wait_for(lambda: "auth_error" not in readyz(keyed), "the error cleared", every=0.05)
    for bad in ("keys: [unclosed", "keys:\n- tenant: vip\n  sha256: not-hex\n",
                keys_doc((ACME_KEY, "acme", None), (ACME_KEY, "other", None))):
        keys_path.write_text(bad)
        wait_for(lambda: str(readyz(keyed).get("auth_error", "")).startswith(f"revision {revision(bad)}"),
                 f"the bad file reported: {bad!r}", every=0.05)
        ready = readyz(keyed)
        assert ready["auth_revision"] == revision(BASELINE) and ready["auth_keys"] == 2
        assert chat(keyed, VIP_KEY).status_code == 200
        assert route(keyed.grpc_target, ACME_KEY).decision.tier == 1


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router_py.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_keys_new_prints_a_key_once_and_the_entry_that_admits_it(keyed: Fleet, keys_path: Path) -> None:
    made = cli("keys", "new", "--tenant", "vip", "--id", "vip-batch")
    assert made.returncode == 0, made.stderr
    key = next(line for line in made.stdout.splitlines() if line.startswith("llmr_"))
    entry = yaml.safe_load(made.stdout.split("keys file:\n", 1)[1])
    assert entry == [{"tenant": "vip", "sha256": digest(key), "id": "vip-batch"}]
    assert cli("keys", "hash", stdin=key + "\n").stdout.strip() == digest(key)
    doc = yaml.safe_load(BASELINE)
    doc["keys"] += entry
    keys_path.write_text(text := yaml.safe_dump(doc))
    checked = cli("keys", "check", str(keys_path))
    assert checked.returncode == 0 and "3 keys for 2 tenants" in checked.stdout
    wait_for(lambda: readyz(keyed).get("auth_revision") == revision(text), "the new key live", every=0.05)
    assert chat(keyed, key).headers["x-llm-router-tier"] == "3"


def test_a_keys_file_that_does_not_load_stops_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "keys.yaml"
    bad.write_text(json.dumps({"keys": [{"tenant": "t", "sha256": "00"}], "extra": 1}))
    for path in (bad, tmp_path / "missing.yaml"):
        done = subprocess.run([sys.executable, "-m", "router_py.cli", "serve", "--api-keys", str(path),
                               "--config", "unused", "--http-port", "0", "--grpc-port", "0"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert f"api keys {path}" in done.stderr


# -- auth off ---------------------------------------------------------------------------------


def test_without_api_keys_the_tenant_header_is_used_and_readyz_says_auth_is_off(calm: Fleet) -> None:
    ready = httpx.get(f"{calm.http_url}/readyz", timeout=5).json()
    assert ready["auth"] == "off" and "auth_keys" not in ready
    answered = httpx.post(f"{calm.http_url}/v1/chat/completions", timeout=30, headers={"x-llm-router-tenant": "anyone"},
                          json={"model": "auto", "messages": [{"role": "user", "content": QUESTION}]})
    assert answered.status_code == 200
