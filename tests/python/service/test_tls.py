"""`serve --tls-cert --tls-key`: both ports speak TLS only, with the certificate given (a
self-signed one made here with the openssl CLI), and a renewed certificate is served to new
connections without a restart. Route needs no provider, so no mock providers run here."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.service.auth import digest, new_key
from router_tools.local.fleet import Process, free_port
from support.admission import router_args
from support.probes import wait_for

KEY = new_key()


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path

    def trust(self) -> ssl.SSLContext:
        """A client context that trusts this certificate and nothing else."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_pair(folder: Path, name: str) -> Pair:
    pair = Pair(folder / f"{name}.crt", folder / f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(pair.key), "-out", str(pair.cert), "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return pair


@dataclass(frozen=True)
class Router:
    process: Process
    http_port: int
    grpc_port: int
    live: Pair  # the files the router was told to read
    first: Pair  # what they held at the start

    @property
    def https_url(self) -> str:
        return f"https://localhost:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"localhost:{self.grpc_port}"


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, make_manifests: Callable[[Path], Path]) -> Iterator[Router]:
    root = tmp_path_factory.mktemp("tls")
    first = make_pair(root, "first")
    live = Pair(root / "tls.crt", root / "tls.key")
    live.cert.write_bytes(first.cert.read_bytes())
    live.key.write_bytes(first.key.read_bytes())
    keys = root / "api-keys.yaml"
    keys.write_text(f"keys:\n- tenant: acme\n  sha256: {digest(KEY)}\n")
    http_port, grpc_port = free_port(), free_port()
    argv = [sys.executable, "-m", "router_py.cli", "serve", "--config", str(make_manifests(root / "manifests")),
            "--host", "127.0.0.1", "--http-port", str(http_port), "--grpc-port", str(grpc_port),
            "--api-keys", str(keys), "--tls-cert", str(live.cert), "--tls-key", str(live.key), *router_args()]
    process = Process("router", argv, root / "router.log")
    r = Router(process, http_port, grpc_port, live, first)
    try:
        wait_for(lambda: _ready(r, first), "the router ready over https", timeout=120, every=0.2)
        yield r
    finally:
        process.stop()


def _ready(r: Router, pair: Pair) -> bool:
    r.process.check_alive()
    try:
        return httpx.get(f"{r.https_url}/readyz", verify=pair.trust(), timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _route(r: Router, pair: Pair, key: str | None) -> pb.RouteResponse:
    with grpc.secure_channel(r.grpc_target, grpc.ssl_channel_credentials(pair.cert.read_bytes())) as channel:
        metadata = (("authorization", f"Bearer {key}"),) if key else None
        request = pb.RouteRequest(messages=[pb.Message(role="user", content="How do I reset my password?")])
        response: pb.RouteResponse = pb_grpc.RouterStub(channel).Route(request, metadata=metadata, timeout=10)
        return response


def _served_by(port: int, pair: Pair, alpn: str) -> bool:
    """Whether a TLS handshake that trusts only `pair` succeeds on `port`."""
    context = pair.trust()
    context.set_alpn_protocols([alpn])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="localhost"):
            return True
    except ssl.SSLError:
        return False


def test_https_serves_the_certificate_and_plain_http_is_not_answered(router: Router) -> None:
    first = router.first
    ready = httpx.get(f"{router.https_url}/readyz", verify=first.trust(), timeout=5)
    assert ready.status_code == 200 and ready.json()["auth"] == "on"
    chat = httpx.post(f"{router.https_url}/v1/chat/completions", verify=first.trust(), timeout=5,
                      json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 401
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{router.http_port}/readyz", timeout=5)


def test_grpc_over_tls_with_health_open_and_router_calls_keyed(router: Router) -> None:
    first = router.first
    with grpc.secure_channel(router.grpc_target, grpc.ssl_channel_credentials(first.cert.read_bytes())) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert _route(router, first, KEY).decision.tier >= 1
    with pytest.raises(grpc.RpcError) as refused:
        _route(router, first, None)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    with grpc.insecure_channel(router.grpc_target) as plain, pytest.raises(grpc.RpcError) as unreadable:
        health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert unreadable.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def test_a_renewed_certificate_is_served_without_a_restart(router: Router, tmp_path: Path) -> None:
    renewed = make_pair(tmp_path, "renewed")
    assert not _served_by(router.http_port, renewed, "http/1.1")
    # Key first, then certificate: in between the pair does not match, and must not be taken.
    router.live.key.write_bytes(renewed.key.read_bytes())
    router.live.cert.write_bytes(renewed.cert.read_bytes())
    wait_for(lambda: _served_by(router.http_port, renewed, "http/1.1"), "https serving the renewed certificate", every=0.1)
    wait_for(lambda: _served_by(router.grpc_port, renewed, "h2"), "gRPC serving the renewed certificate", every=0.1)
    assert _route(router, renewed, KEY).decision.tier >= 1
    assert httpx.get(f"{router.https_url}/readyz", verify=renewed.trust(), timeout=5).status_code == 200
    assert router.process.popen.poll() is None
