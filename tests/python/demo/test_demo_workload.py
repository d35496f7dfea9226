"""The demo's workload has the shape its table describes."""

from __future__ import annotations

import json
from collections import Counter

from router_tools.demo.report import Tally, breaker_transitions, failure
from router_tools.demo.workload import GAP, PARAPHRASES, build


def test_the_workload_mixes_fresh_repeated_rephrased_and_json_requests() -> None:
    requests = build(600, seed=7)
    assert len(requests) == 600
    texts = [(r.tenant, r.messages[0].content) for r in requests]
    seen = Counter(texts)
    repeats = sum(n - 1 for n in seen.values())
    assert 40 <= repeats <= 60  # ~8%
    assert sum(1 for r in requests if r.response_json_schema) == 48
    first = {t: i for i, t in reversed(list(enumerate(texts)))}
    gaps = sorted(i - first[t] for i, t in enumerate(texts) if i != first[t])
    assert gaps[0] > 0 and gaps[len(gaps) // 2] >= GAP  # answered (and cached) before it is asked again


def test_a_paraphrase_comes_after_its_question_from_the_same_tenant() -> None:
    requests = build(600, seed=7)
    where = {r.messages[0].content: (i, r.tenant) for i, r in reversed(list(enumerate(requests)))}
    pairs = [json.loads(line) for line in PARAPHRASES.read_text().splitlines() if line.strip()]
    used = [p for p in pairs if p["kind"] == "paraphrase" and p["a"] in where and p["b"] in where]
    assert len(used) >= 30
    for p in used:
        (i, tenant_a), (j, tenant_b) = where[p["a"]], where[p["b"]]
        assert j > i and tenant_a == tenant_b


def test_breaker_transitions_are_read_from_prometheus_text() -> None:
    text = ('llm_router_breaker_transitions_total{otel_scope_name="llm_router",provider="a",to="open"} 3.0\n'
            'llm_router_breaker_transitions_total{provider="a",to="half-open"} 2.0\n')
    assert breaker_transitions(text) == Counter({"a -> open": 3, "a -> half-open": 2})


def test_a_demo_run_with_refusals_or_errors_is_not_a_result() -> None:
    tally = Tally()
    assert failure(tally, 600) is None
    tally.fail("RESOURCE_EXHAUSTED")
    tally.fail("RESOURCE_EXHAUSTED")
    tally.fail("UNAVAILABLE")
    assert failure(tally, 600) == ("3 of 600 requests failed (2 refused as overload); "
                                          "the figures above leave them out")
