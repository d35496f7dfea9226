"""The pipeline in-process, over real HTTP to in-process mock providers: the verifier part of the
gate (a provider's logprob score below `minVerifierScore` escalates; without logprobs the score
comes from a rating call to the next tier), and the spans a request leaves."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from router_py.complete.verifier import parse_score
from router_py.completion import Completion, CompletionRequest
from router_py.config.schema import RouterConfig
from router_py.providers.types import ChatMessage, ChatResult, Usage
from router_py.routing.engine import RoutingEngine
from router_py.telemetry.tracing import add_processor
from support.pipelines import mock_pipeline


def _config(default: RouterConfig, urls: dict[str, str], gate: dict[str, Any], tier1_api: str) -> RouterConfig:
    raw = default.model_dump(by_alias=True)
    for tier in raw["tiers"]:
        for p in tier["providers"]:
            p["baseUrl"] = urls[p["name"]]
            p["api"] = tier1_api if tier["tier"] == 1 else "openai"
    raw["policy"]["classifier"].update(maxUnderrouteRisk=1.0, confidenceThreshold=0.0)
    raw["policy"]["overrides"] = {}
    raw["policy"]["cascade"] = {"maxDepth": 1, "gate": gate}
    return RouterConfig.model_validate(raw)


async def _complete(engine: RoutingEngine, default: RouterConfig, gate: dict[str, Any], text: str,
                    tier1_api: str = "openai") -> Completion:
    async with mock_pipeline(engine, default, lambda urls: _config(default, urls, gate, tier1_api)) as pipeline:
        request = CompletionRequest(request_id="v", tenant="verifier",
                                    messages=[ChatMessage(role="user", content=text)])
        return await pipeline.complete(request, time.monotonic() + 30, api="test")


def test_a_low_logprob_score_escalates(engine: RoutingEngine, default_config: RouterConfig) -> None:
    done = asyncio.run(_complete(engine, default_config, {"minVerifierScore": 0.9999}, "Say hello to the team"))
    assert done.escalations == 1 and done.tier == 2
    assert done.attempts[0].outcome == "gate_failed"
    assert done.attempts[0].gate_failures[0].startswith("verifier: ")


def test_a_permissive_threshold_accepts_the_cheap_answer(engine: RoutingEngine, default_config: RouterConfig) -> None:
    done = asyncio.run(_complete(engine, default_config, {"minVerifierScore": 0.01}, "Say hello to the team"))
    assert (done.tier, done.escalations, done.accepted) == (1, 0, True)


def test_without_logprobs_the_next_tier_is_asked_for_a_score(engine: RoutingEngine, default_config: RouterConfig) -> None:
    """The Anthropic API gives no logprobs: a tier-2 call rates the tier-1 answer. The simulated
    tier 2 writes prose, not a number, so the score is missing and the gate escalates."""
    done = asyncio.run(_complete(engine, default_config, {"minVerifierScore": 0.5}, "Say hello to the team",
                                 tier1_api="anthropic"))
    first, rating, *_ = done.attempts
    assert (first.tier, first.outcome, first.gate_failures) == (1, "gate_failed", ["verifier: no score"])
    assert (rating.tier, rating.outcome) == (2, "ok")
    assert done.tier == 2 and done.escalations == 1


def test_parse_score_takes_the_first_number_in_range() -> None:
    def rated(text: str) -> float | None:
        return parse_score(ChatResult(text=text, finish_reason="stop", usage=Usage(input_tokens=1, output_tokens=1),
                                      model="m"))

    assert rated("0.85") == 0.85
    assert rated("Score: 1") == 1.0
    assert rated("I'd say 0.3, maybe 0.4") == 0.3
    assert rated("7 out of 10") is None
    assert rated("no idea") is None


def test_a_completion_leaves_decision_stage_and_provider_call_spans(
    engine: RoutingEngine, default_config: RouterConfig
) -> None:
    spans = InMemorySpanExporter()
    add_processor(SimpleSpanProcessor(spans))
    done = asyncio.run(_complete(engine, default_config, {}, "Say hello to the team"))
    finished = spans.get_finished_spans()
    names = [s.name for s in finished]
    assert {"decide", "decide.embed", "decide.classify", "provider.call"} <= set(names)
    decide = next(s for s in finished if s.name == "decide")
    assert decide.attributes is not None and decide.attributes["llm_router.tier"] == done.decision.tier
    stages = [s for s in finished if s.name.startswith("decide.")]
    assert all(s.parent is not None and s.parent.span_id == decide.context.span_id for s in stages)
    call = next(s for s in finished if s.name == "provider.call")
    assert call.attributes is not None and call.attributes["llm_router.provider"] == done.provider
    spans.shutdown()


def test_a_cache_hit_is_costed_as_a_miss_is_and_labelled_estimated(
    engine: RoutingEngine, default_config: RouterConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """One cost computation: the always-tier-3 cost of an answer on the tokens it took. A hit used
    to report the core's pre-call estimate (the request's input and `expectedOutputTokens`)
    while the miss that filed it reported the providers' count; the same answer had two
    prices. Each figure now says which tokens it stands on."""

    async def twice() -> tuple[Completion, Completion]:
        async with mock_pipeline(engine, default_config, lambda urls: _config(default_config, urls, {}, "openai")) as pipeline:
            ask = CompletionRequest(request_id="c", tenant="costs",
                                    messages=[ChatMessage(role="user", content="How do I reset my password?")])
            bought = await pipeline.complete(ask, time.monotonic() + 30, api="test")
            served = await pipeline.complete(ask.model_copy(update={"request_id": "d"}), time.monotonic() + 30,
                                             api="test")
            return bought, served

    with caplog.at_level("INFO", logger="llm_router.decisions"):
        bought, served = asyncio.run(twice())
    assert (bought.cached, served.cached, served.decision.reason) == (False, True, "cache_exact")
    assert bought.cost_basis == "actual" and served.cost_basis == "estimated"
    assert bought.usage.output_tokens > 0 and bought.cost_usd > 0
    assert served.tier3_cost_usd == pytest.approx(bought.tier3_cost_usd)
    assert (served.cost_usd, served.saved_usd) == (0.0, pytest.approx(served.tier3_cost_usd))
    logged = [r.__dict__ for r in caplog.records if r.getMessage() == "completion" and r.__dict__["tenant"] == "costs"]
    assert [(e["cost_basis"], e["tier3_cost_usd"]) for e in logged] == [
        ("actual", bought.tier3_cost_usd), ("estimated", served.tier3_cost_usd)]
