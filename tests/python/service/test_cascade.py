"""Cascade: a tier-1 answer that fails the acceptance gate escalates once (the policy's cap is
depth 1), and the decision log says why. Queries are picked with the simulator's own
deterministic outcome function, so the test knows which answers will fail."""

from __future__ import annotations

import json

import grpc
import pytest

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_tools.local.fleet import Fleet
from router_tools.mock.answers import Outcome, compose
from router_tools.mock.profiles import PROFILES
from support.probes import wait_for

SCHEMA = {"type": "object", "properties": {"verdict": {"type": "string"}, "steps": {"type": "array"}},
          "required": ["verdict", "steps"]}
SUBJECTS = ["the sum of the first n odd numbers is n squared", "sqrt(2) is irrational", "there are infinitely many primes",
            "every tree with n nodes has n-1 edges", "the harmonic series diverges", "a^2+b^2=c^2 for right triangles"]
HARD = [f"Prove by induction, step by step, that {s}; derive each lemma and write a python function that checks it."
        for s in SUBJECTS] + [f"Explain why {s}." for s in SUBJECTS]


def _fails(profile: str, query: str) -> bool:
    return compose(PROFILES[profile], query, schema=SCHEMA).outcome is not Outcome.ANSWER


def _pick(fast_fails: bool, smart_fails: bool) -> str:
    found = [q for q in HARD if _fails("fast", q) == fast_fails and _fails("smart", q) == smart_fails]
    if not found:
        pytest.fail(f"no test query with fast_fails={fast_fails}, smart_fails={smart_fails}: extend HARD")
    return found[0]


def _complete(fleet: Fleet, query: str, request_id: str) -> pb.CompleteResponse:
    stub = pb_grpc.RouterStub(grpc.insecure_channel(fleet.grpc_target))
    request = pb.CompleteRequest(request_id=request_id, tenant=request_id,
                                 messages=[pb.Message(role="user", content=query)],
                                 response_json_schema=json.dumps(SCHEMA))
    return stub.Complete(request, timeout=30)


def _logged(fleet: Fleet, request_id: str) -> dict[str, object]:
    def found() -> str | None:
        return next((line for line in (fleet.logs / "router.log").read_text().splitlines()
                     if line.startswith("{") and f'"request_id":"{request_id}"' in line
                     and '"msg":"completion"' in line), None)

    entry: dict[str, object] = json.loads(wait_for(found, f"the decision log line for {request_id}"))
    return entry


def test_a_gate_failure_escalates_once_and_is_logged(calm: Fleet) -> None:
    r = _complete(calm, _pick(fast_fails=True, smart_fails=False), "cascade-once")
    assert r.decision.tier == 1 and r.decision.max_escalation_tier == 2
    assert (r.tier, r.escalations, r.accepted) == (2, 1, True)
    assert [a.outcome for a in r.attempts] == ["gate_failed", "ok"]
    assert r.cost_usd > 0 and json.loads(r.content)["verdict"]
    entry = _logged(calm, "cascade-once")
    assert entry["reason"] == "escalated"
    attempts = entry["attempts"]
    assert isinstance(attempts, list) and attempts[0]["outcome"] == "gate_failed" and attempts[0]["gate_failures"]
    assert "messages" not in entry and "answer" not in entry  # no prompt text unless the policy says so


def test_escalation_stops_at_the_cap(calm: Fleet) -> None:
    r = _complete(calm, _pick(fast_fails=True, smart_fails=True), "cascade-capped")
    assert (r.tier, r.escalations, r.accepted) == (2, 1, False)
    assert [a.outcome for a in r.attempts] == ["gate_failed", "gate_failed"]
    assert [a.tier for a in r.attempts] == [1, 2]


def test_an_answer_that_failed_the_gate_is_not_cached(calm: Fleet) -> None:
    query = _pick(fast_fails=True, smart_fails=True)
    _complete(calm, query, "cascade-nocache")
    assert not _complete(calm, query, "cascade-nocache").cached
