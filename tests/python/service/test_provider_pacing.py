"""Faults that used to cost throughput or money unseen: a provider's 429 paces it without
opening its breaker, a stream ends at the request's deadline, and every request (answered,
failed or cut) lands in the ledger and the decision log with its request id."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable

import grpc
import httpx

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_tools.local.fleet import Fleet
from support.probes import wait_for

Faults = Callable[..., None]
TIER1 = ("sim-fast-a", "sim-fast-b")
EVERYONE = (*TIER1, "sim-smart-a", "sim-smart-b", "sim-reasoning-a", "sim-reasoning-b")


def _metric(fleet: Fleet, name: str, **labels: str) -> float:
    text = httpx.get(f"{fleet.http_url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _ask(fleet: Fleet, text: str, tenant: str = "pacing") -> pb.CompleteResponse:
    with grpc.insecure_channel(fleet.grpc_target) as channel:
        return pb_grpc.RouterStub(channel).Complete(
            pb.CompleteRequest(tenant=tenant, messages=[pb.Message(role="user", content=text)]), timeout=20)


def test_429s_set_a_provider_aside_without_opening_its_breaker(calm: Fleet, faults: Faults) -> None:
    run = uuid.uuid4().hex[:8]
    # An earlier test may have left the breaker open: wait until a healthy provider closed it.
    wait_for(lambda: _ask(calm, f"warm up {uuid.uuid4().hex}") is not None
             and _metric(calm, "llm_router_breaker_state", provider="sim-fast-a") == 0.0,
             "sim-fast-a's breaker closed", every=0.3)
    opened = _metric(calm, "llm_router_breaker_transitions_total", provider="sim-fast-a", to="open")
    # Retry-After: 0, so every request tries it again and meets another 429.
    faults("sim-fast-a", latency_scale=0.02, rate_limit_rate=1.0, retry_after=0)
    answers = [_ask(calm, f"Say hello #{i} ({run})") for i in range(12)]
    assert all(a.tier >= 1 for a in answers)
    rate_limited = [t for a in answers for t in a.attempts if t.provider == "sim-fast-a"]
    assert len(rate_limited) >= 6 and {t.outcome for t in rate_limited} == {"rate_limited"}
    assert _metric(calm, "llm_router_breaker_transitions_total", provider="sim-fast-a", to="open") == opened
    assert _metric(calm, "llm_router_breaker_state", provider="sim-fast-a") == 0.0


def _sse_events(response: httpx.Response) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for line in response.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line.removeprefix("data: ")))
    return out


def test_a_stream_ends_at_the_requests_deadline_not_at_each_chunks(calm: Fleet, faults: Faults) -> None:
    for name in TIER1:  # the first token at once, then one every 200 ms: 20 to 90 tokens, 4 to 18 s
        faults(name, latency_scale=0.02, token_delay_ms=200)
    body = {"model": "sim-fast", "stream": True,
            "messages": [{"role": "user", "content": f"Describe a sunny day {uuid.uuid4().hex}"}]}
    with httpx.stream("POST", f"{calm.http_url}/v1/chat/completions", json=body, timeout=30,
                      headers={"x-llm-router-timeout-ms": "1500"}) as response:
        assert response.status_code == 200
        events = _sse_events(response)
    errors = [e["error"] for e in events if "error" in e]
    assert len(errors) == 1 and errors[0]["code"] == "deadline_exceeded", events[-1]  # type: ignore[index]


def _log_entries(fleet: Fleet) -> list[dict[str, object]]:
    lines = (fleet.logs / "router.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_every_request_answered_failed_or_cut_is_accounted_and_logged(calm: Fleet, faults: Faults) -> None:
    run = uuid.uuid4().hex[:8]
    tenant = f"ledger-{run}"
    for name in TIER1:
        faults(name, latency_scale=0.02, cut_stream_rate=1.0)

    async def cut_streams() -> list[str]:
        async with grpc.aio.insecure_channel(calm.grpc_target) as channel:
            stub = pb_grpc.RouterStub(channel)
            codes = []
            for i in range(4):
                request = pb.CompleteRequest(request_id=f"{run}-cut-{i}", tenant=tenant, model="sim-fast",
                                             messages=[pb.Message(role="user", content=f"Tell me a story {i} {run}")])
                try:
                    _ = [e async for e in stub.CompleteStream(request, timeout=20)]
                    codes.append("OK")
                except grpc.aio.AioRpcError as e:
                    codes.append(e.code().name)
            return codes

    assert asyncio.run(cut_streams()) == ["UNAVAILABLE"] * 4
    for name in EVERYONE:
        faults(name, latency_scale=0.02, error_rate=1.0)
    with grpc.insecure_channel(calm.grpc_target) as channel:
        stub = pb_grpc.RouterStub(channel)
        for i in range(3):
            request = pb.CompleteRequest(request_id=f"{run}-failed-{i}", tenant=tenant,
                                         messages=[pb.Message(role="user", content=f"Say hi {i} {run}")])
            try:
                stub.Complete(request, timeout=20)
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    ids = {f"{run}-cut-{i}" for i in range(4)} | {f"{run}-failed-{i}" for i in range(3)}

    def logged() -> dict[str, list[dict[str, object]]]:
        found: dict[str, list[dict[str, object]]] = {}
        for entry in _log_entries(calm):
            if entry.get("logger") == "llm_router.decisions" and entry.get("request_id") in ids:
                found.setdefault(str(entry["request_id"]), []).append(entry)
        return found

    wait_for(lambda: set(logged()) == ids, "a decision-log line for every request", every=0.1)
    assert all(len(entries) == 1 and entries[0]["msg"] == "failure" for entries in logged().values())
    # The cut streams bought tokens: their cost is in the tenant's spend.
    assert _metric(calm, "llm_router_cost_usd_total", tenant=tenant) > 0
    # Provider failures logged deep in failover carry the request id too.
    failures = [e for e in _log_entries(calm) if e.get("msg") == "provider call failed"
                and str(e.get("request_id", "")).startswith(f"{run}-failed-")]
    assert failures
    assert re.fullmatch(r"[0-9a-f]{8}-failed-\d", str(failures[0]["request_id"]))
