"""Provider faults end in failover or one clear error, and every request gets exactly one answer
or one error: counted over concurrent requests per fault kind."""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections import Counter
from collections.abc import Callable

import grpc
import httpx
import pytest

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_tools.local.fleet import Fleet
from support.probes import route_tier, wait_for

Faults = Callable[..., None]


async def _fire(target: str, n: int, *, stream: bool = False, timeout: float = 20) -> tuple[Counter[str], list[pb.CompleteResponse]]:
    """`n` concurrent requests; outcomes counted as OK or the status code name."""
    outcomes: Counter[str] = Counter()
    answers: list[pb.CompleteResponse] = []
    run = uuid.uuid4().hex[:8]  # fresh text each run: an earlier run's answers are in the cache
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.RouterStub(channel)

        async def one(i: int) -> None:
            request = pb.CompleteRequest(tenant="faults", messages=[pb.Message(role="user", content=f"Say hello #{i} ({run})")])
            try:
                if stream:
                    events = [e async for e in stub.CompleteStream(request, timeout=timeout)]
                    answers.append(events[-1].done)
                else:
                    answers.append(await stub.Complete(request, timeout=timeout))
                outcomes["OK"] += 1
            except grpc.aio.AioRpcError as e:
                outcomes[e.code().name] += 1

        await asyncio.gather(*(one(i) for i in range(n)))
    return outcomes, answers


@pytest.mark.parametrize("fault", [
    {"error_rate": 1.0},
    {"rate_limit_rate": 1.0, "retry_after": 5},
    {"garbage_rate": 1.0},
    {"extra_latency_ms": 4000},  # past the tier's 2.5 s timeout
])
def test_a_failing_provider_fails_over_to_its_twin(calm: Fleet, faults: Faults, fault: dict[str, float]) -> None:
    faults("sim-fast-a", latency_scale=0.02, **fault)
    outcomes, answers = asyncio.run(_fire(calm.grpc_target, 12))
    assert outcomes == Counter({"OK": 12})
    # The twin answers; a cheap model's occasional refusal may still escalate to tier 2.
    tier1 = [(t.provider, t.outcome) for a in answers for t in a.attempts if t.tier == 1 and t.outcome in ("ok", "gate_failed")]
    assert {p for p, _ in tier1} == {"sim-fast-b"} and len(tier1) == 12
    # Either the calls failed over, or an earlier test's faults left the breaker open and the
    # router never tried the provider at all.
    assert any(a.failovers >= 1 for a in answers) or _breaker(calm, "sim-fast-a") == 2.0


def _breaker(fleet: Fleet, provider: str) -> float:
    text = httpx.get(f"{fleet.http_url}/metrics", timeout=5).text
    found = re.search(rf'^llm_router_breaker_state{{[^}}]*provider="{provider}"[^}}]*}} ([0-9.]+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_tier_with_every_provider_down_moves_up_never_down(calm: Fleet, faults: Faults) -> None:
    for name in ("sim-fast-a", "sim-fast-b"):
        faults(name, latency_scale=0.02, error_rate=1.0)
    outcomes, answers = asyncio.run(_fire(calm.grpc_target, 6))
    assert outcomes == Counter({"OK": 6})
    assert all(a.tier >= 2 for a in answers) and all(t.tier >= 1 for a in answers for t in a.attempts)


def test_cut_streams_fail_over_before_the_first_token_or_end_with_an_error(calm: Fleet, faults: Faults) -> None:
    faults("sim-fast-a", latency_scale=0.02, cut_stream_rate=1.0)
    faults("sim-fast-b", latency_scale=0.02, cut_stream_rate=1.0)
    # An earlier test may have opened tier 1's breakers: wait until one admits calls again (the
    # router then picks tier 1, where every request here starts).
    wait_for(lambda: route_tier(calm, "faults-probe") == 1, "a tier-1 breaker admitting calls")
    outcomes, _ = asyncio.run(_fire(calm.grpc_target, 8, stream=True))
    # A cut after the first token cannot be retried: the stream ends with UNAVAILABLE, never silently.
    assert sum(outcomes.values()) == 8
    assert set(outcomes) <= {"OK", "UNAVAILABLE"} and outcomes["UNAVAILABLE"] >= 1


def test_an_open_breaker_shows_in_metrics_and_the_provider_comes_back(calm: Fleet, faults: Faults) -> None:
    faults("sim-smart-a", latency_scale=0.02, error_rate=1.0)
    channel = grpc.insecure_channel(calm.grpc_target)
    stub = pb_grpc.RouterStub(channel)
    for i in range(4):
        stub.Complete(pb.CompleteRequest(tenant="before", messages=[pb.Message(role="user", content=f"hi {i}")],
                                     model="sim-smart"), timeout=20)
    assert _breaker(calm, "sim-smart-a") == 2.0
    faults("sim-smart-a", latency_scale=0.02)
    # Once the tier's openSeconds are over, a probe reaches it, succeeds, and it serves again.
    asked = itertools.count()
    wait_for(lambda: stub.Complete(pb.CompleteRequest(tenant="after", model="sim-smart",
                                                      messages=[pb.Message(role="user", content=f"back {next(asked)}")]),
                                   timeout=20).provider == "sim-smart-a",
             "sim-smart-a serving again")
