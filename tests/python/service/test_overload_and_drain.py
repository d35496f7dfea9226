"""Past capacity the router refuses at once (RESOURCE_EXHAUSTED / 429 with Retry-After) instead
of queueing; on SIGTERM it stops taking work, finishes what it has and exits cleanly.

Capacity here is the count of requests in flight, the one signal a test can drive exactly: the
providers hold every call, so the admitted requests keep their places until the test lets them
go (or the router's 60 s cap on a request's deadline ends them), and a refusal that waited for
capacity would not come back before them. The signals that measure how busy the machine is are
off (`support.admission`); test_admission.py drives them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import httpx
import pytest
import yaml

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_tools.local.fleet import Fleet
from support.admission import router_args
from support.probes import wait_for

T = TypeVar("T")

# How long a provider holds a call, and the tiers' timeout: past the router's 60 s cap on a
# request's deadline, so an admitted request stays at its first provider until it is cancelled.
HELD_MS = 600_000
SLOW_MS = 1500


@pytest.fixture()
def small_fleet(tmp_path: Path, make_manifests: Callable[[Path], Path]) -> Iterator[Fleet]:
    manifests = make_manifests(tmp_path / "manifests")
    for path in manifests.glob("*.yaml"):
        docs = list(yaml.safe_load_all(path.read_text()))
        for doc in docs:
            if doc["kind"] == "ProviderTier":
                doc["spec"]["timeoutMs"] = HELD_MS
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    with Fleet(manifests, tmp_path / "logs", router_args=router_args(max_in_flight=4)) as f:
        yield f


def _providers_answer_after(fleet: Fleet, **faults: float) -> None:
    for spec in (p for t in fleet.config.tiers for p in t.providers):
        fleet.set_faults(spec.name, **faults)


def _ask(i: int) -> pb.CompleteRequest:
    return pb.CompleteRequest(tenant="load", messages=[pb.Message(role="user", content=f"Say hello #{i}")])


async def _first_back(calls: list[Awaitable[T]], n: int) -> tuple[list[asyncio.Task[T]], int]:
    """Sends every call at once and waits for `n` of them to come back (however long that takes:
    no timing is asserted); those `n`, and how many were still out then, cancelled."""
    out = {asyncio.ensure_future(c) for c in calls}
    back: list[asyncio.Task[T]] = []
    while len(back) < n:
        done, out = await asyncio.wait(out, return_when=asyncio.FIRST_COMPLETED)
        back.extend(done)
    for call in out:
        call.cancel()
    await asyncio.gather(*out, return_exceptions=True)
    return back, len(out)


def test_past_capacity_requests_are_refused_at_once(small_fleet: Fleet) -> None:
    _providers_answer_after(small_fleet, extra_latency_ms=HELD_MS)

    async def burst() -> tuple[list[asyncio.Task[pb.CompleteResponse]], int]:
        async with grpc.aio.insecure_channel(small_fleet.grpc_target) as channel:
            stub = pb_grpc.RouterStub(channel)
            return await _first_back([stub.Complete(_ask(i), timeout=HELD_MS / 1000) for i in range(12)], 8)

    back, still_out = asyncio.run(burst())
    # Eight answered while the four admitted requests still held every place: no refusal waited.
    assert still_out == 4
    errors = [call.exception() for call in back]
    assert all(isinstance(e, grpc.aio.AioRpcError) and e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
               for e in errors), errors
    retry_after = [v for e in errors if isinstance(e, grpc.aio.AioRpcError)
                   for k, v in (e.trailing_metadata() or ()) if k == "retry-after"]
    assert len(retry_after) == 8 and all(float(v) >= 1 for v in retry_after)
    assert len(set(retry_after)) > 1, "refused together, told to come back together: no jitter"


def test_http_overload_is_a_429_with_retry_after(small_fleet: Fleet) -> None:
    _providers_answer_after(small_fleet, extra_latency_ms=HELD_MS)

    async def burst() -> tuple[list[asyncio.Task[httpx.Response]], int]:
        async with httpx.AsyncClient(base_url=small_fleet.http_url, timeout=HELD_MS / 1000) as client:
            body = {"model": "auto", "messages": [{"role": "user", "content": "hello"}]}
            return await _first_back([client.post("/v1/chat/completions", json=body) for _ in range(10)], 6)

    back, still_out = asyncio.run(burst())
    assert still_out == 4
    refused = [call.result() for call in back]
    assert [r.status_code for r in refused] == [429] * 6
    assert all(int(r.headers["retry-after"]) >= 1 and r.json()["error"]["type"] == "rate_limit_error" for r in refused)
    assert {(labels["api"], labels["signal"]): value
            for labels, value in _samples(small_fleet.http_url, "llm_router_overload_rejections_total")} == {
        ("http.chat", "in_flight"): 6.0}


def _samples(http_url: str, name: str) -> list[tuple[dict[str, str], float]]:
    """A metric's samples from the Prometheus text: labels and value."""
    found = []
    for line in httpx.get(f"{http_url}/metrics").text.splitlines():
        sample = re.fullmatch(rf"{name}(?:{{(.*)}})? (\S+)", line)
        if sample:
            found.append((dict(re.findall(r'(\w+)="([^"]*)"', sample.group(1) or "")), float(sample.group(2))))
    return found


def test_sigterm_drains_in_flight_requests_then_exits_zero(small_fleet: Fleet) -> None:
    _providers_answer_after(small_fleet, latency_ms=SLOW_MS)

    async def scenario() -> tuple[str, int]:
        async with grpc.aio.insecure_channel(small_fleet.grpc_target) as channel:
            call = pb_grpc.RouterStub(channel).Complete(_ask(0), timeout=20)
            await asyncio.to_thread(wait_for, lambda: sum(v for _, v in _samples(small_fleet.http_url, "llm_router_in_flight")),
                                    "the request in flight")
            assert small_fleet.router is not None
            code = await asyncio.to_thread(small_fleet.router.stop)
            response = await call
            return response.content, code

    content, code = asyncio.run(scenario())
    assert content.startswith("[simulated") and code == 0
