"""A response schema is checked offline: a `$ref` a caller names is never fetched, and a schema
the gate cannot resolve is a 400 before any provider is paid for."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from router_tools.local.fleet import Fleet


@pytest.fixture()
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback port that records every connection a schema could make it receive."""
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                received.append(conn.recv(4096))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def _ask(fleet: Fleet, schema: object) -> httpx.Response:
    body = {"model": "auto", "messages": [{"role": "user", "content": "Give me a city as JSON."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": schema}}}
    return httpx.post(f"{fleet.http_url}/v1/chat/completions", json=body, timeout=20)


def _paid(fleet: Fleet) -> float:
    text = httpx.get(f"{fleet.http_url}/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("llm_router_cost_usd_total{"))


SchemaOf = Callable[[int], dict[str, object]]


@pytest.mark.parametrize(("schema_of", "why"), [
    (lambda port: {"$ref": f"http://127.0.0.1:{port}/schema.json"}, "not local"),
    (lambda port: {"type": "object", "properties": {"city": {"$ref": f"http://127.0.0.1:{port}/c.json"}}}, "not local"),
    (lambda _: {"$ref": "#/$defs/nowhere"}, "does not resolve"),
    (lambda _: {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "loops back"),
])
def test_a_schema_the_gate_cannot_check_offline_is_a_400_before_any_provider_call(
        calm: Fleet, listener: tuple[int, list[bytes]], schema_of: SchemaOf, why: str) -> None:
    port, received = listener
    paid = _paid(calm)
    r = _ask(calm, schema_of(port))
    assert r.status_code == 400 and why in r.json()["error"]["message"]
    assert received == []
    assert _paid(calm) == paid
