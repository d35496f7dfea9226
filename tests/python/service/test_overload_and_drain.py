"""Past capacity the router refuses at once (RESOURCE_EXHAUSTED / 429 with Retry-After) instead
of queueing; on SIGTERM it stops taking work, finishes what it has and exits cleanly."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.local.fleet import Fleet

SLOW_MS = 1500


@pytest.fixture()
def small_fleet(tmp_path: Path, make_manifests: Callable[[Path], Path]) -> Iterator[Fleet]:
    with Fleet(make_manifests(tmp_path / "manifests"), tmp_path / "logs", router_args=("--max-in-flight", "4")) as f:
        for spec in (p for t in f.config.tiers for p in t.providers):
            f.set_faults(spec.name, latency_ms=SLOW_MS)
        yield f


def _ask(i: int) -> pb.CompleteRequest:
    return pb.CompleteRequest(tenant="load", messages=[pb.Message(role="user", content=f"Say hello #{i}")])


async def _burst(target: str, n: int) -> tuple[Counter[str], float, list[str]]:
    outcomes: Counter[str] = Counter()
    retry_after: list[str] = []
    refused_in: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.RouterStub(channel)

        async def one(i: int) -> None:
            started = time.monotonic()
            try:
                await stub.Complete(_ask(i), timeout=20)
                outcomes["OK"] += 1
            except grpc.aio.AioRpcError as e:
                outcomes[e.code().name] += 1
                refused_in.append(time.monotonic() - started)
                retry_after.extend(v for k, v in (e.trailing_metadata() or ()) if k == "retry-after")

        await asyncio.gather(*(one(i) for i in range(n)))
    return outcomes, max(refused_in, default=0.0), retry_after


def test_past_capacity_requests_are_refused_at_once(small_fleet: Fleet) -> None:
    outcomes, slowest_refusal_s, retry_after = asyncio.run(_burst(small_fleet.grpc_target, 12))
    assert outcomes == Counter({"OK": 4, "RESOURCE_EXHAUSTED": 8})
    assert slowest_refusal_s < SLOW_MS / 1000, "a refusal must not wait for capacity"
    assert retry_after and all(float(v) >= 1 for v in retry_after)
    assert len(set(retry_after)) > 1, "refused together, told to come back together: no jitter"


def test_http_overload_is_a_429_with_retry_after(small_fleet: Fleet) -> None:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=small_fleet.http_url, timeout=20) as client:
            body = {"model": "auto", "messages": [{"role": "user", "content": "hello"}]}
            return list(await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(10))))

    responses = asyncio.run(burst())
    assert Counter(r.status_code for r in responses) == Counter({200: 4, 429: 6})
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1 and refused.json()["error"]["type"] == "rate_limit_error"
    assert _refusals(small_fleet.http_url) == {("http.chat", "in_flight"): 6.0}


def _refusals(http_url: str) -> dict[tuple[str, str], float]:
    """`llm_router_overload_rejections_total` by (api, signal), from the Prometheus text."""
    found = {}
    for line in httpx.get(f"{http_url}/metrics").text.splitlines():
        if line.startswith("llm_router_overload_rejections_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            found[(labels["api"], labels["signal"])] = float(line.rsplit(" ", 1)[1])
    return found


def test_sigterm_drains_in_flight_requests_then_exits_zero(small_fleet: Fleet) -> None:
    async def scenario() -> tuple[str, int]:
        async with grpc.aio.insecure_channel(small_fleet.grpc_target) as channel:
            call = pb_grpc.RouterStub(channel).Complete(_ask(0), timeout=20)
            await asyncio.sleep(0.5)  # the request is at the provider
            assert small_fleet.router is not None
            code = await asyncio.to_thread(small_fleet.router.stop)
            response = await call
            return response.content, code

    content, code = asyncio.run(scenario())
    assert content.startswith("[simulated") and code == 0
