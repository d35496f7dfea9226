"""Cached answers through the whole pipeline, over real HTTP to in-process mock providers: a hit
is served only where the policy would let the request use that tier, region and model, and only
to a request equal in everything that changes the answer (the conversation, the system prompt,
the schema and the sampling parameters)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from router_py.completion import Completion, CompletionRequest
from router_py.config.schema import RouterConfig
from router_py.routing.engine import RoutingEngine
from support.pipelines import mock_pipeline

QUESTION = "How do I reset my password?"

Ask = Callable[..., Awaitable[Completion]]


def _config(default: RouterConfig, urls: dict[str, str]) -> RouterConfig:
    """Every request starts at tier 1 and nothing escalates, so the tier of each answer is known;
    the default's residency rule (requests from `eu` stay in eu-west-1) stays, and tenant
    `scarce` gets one tier-3 request per day."""
    raw = default.model_dump(by_alias=True)
    for tier in raw["tiers"]:
        for p in tier["providers"]:
            p["baseUrl"] = urls[p["name"]]
    policy = raw["policy"]
    policy["classifier"].update(maxUnderrouteRisk=1.0, confidenceThreshold=0.0)
    policy["overrides"]["domains"] = []
    policy["overrides"]["tenants"] = []
    policy["overrides"]["users"] = []
    policy["limits"] = {"tier3": [{"name": "t3-daily", "tenant": "scarce", "requestsPerSecond": 1 / 86400, "burst": 1}]}
    policy["cascade"] = {"maxDepth": 0, "gate": {"rejectRefusals": False, "requireComplete": False,
                                                 "validateJsonSchema": False}}
    return RouterConfig.model_validate(raw)


@asynccontextmanager
async def _pipeline(engine: RoutingEngine, default: RouterConfig) -> AsyncIterator[Ask]:
    async with mock_pipeline(engine, default, lambda urls: _config(default, urls)) as pipeline:
        count = 0

        async def ask(*messages: tuple[str, str], **fields: Any) -> Completion:
            nonlocal count
            count += 1
            chat = [{"role": role, "content": content} for role, content in messages or [("user", QUESTION)]]
            request = CompletionRequest.model_validate({"request_id": f"r{count}", "messages": chat, **fields})
            done = await pipeline.complete(request, time.monotonic() + 30, api="test")
            assert done.accepted
            return done

        yield ask


def _run(engine: RoutingEngine, default: RouterConfig, scenario: Callable[[Ask], Awaitable[None]]) -> None:
    async def main() -> None:
        async with _pipeline(engine, default) as ask:
            await scenario(ask)

    asyncio.run(main())


def test_a_min_tier_3_request_is_not_served_a_tier_1_answer(engine: RoutingEngine, default_config: RouterConfig) -> None:
    async def scenario(ask: Ask) -> None:
        assert (await ask()).tier == 1
        strict = await ask(min_tier=3)
        assert (strict.cached, strict.tier, strict.model) == (False, 3, "sim-reasoning")
        assert strict.decision.trail[0] == "cache_semantic hit refused: tier 1 < policy tier 3"
        assert (await ask()).cached

    _run(engine, default_config, scenario)


def test_an_eu_request_is_not_served_a_us_answer(engine: RoutingEngine, default_config: RouterConfig) -> None:
    async def scenario(ask: Ask) -> None:
        assert (await ask()).provider == "sim-fast-a"  # us-east-1
        eu = await ask(region="eu")
        assert (eu.cached, eu.provider) == (False, "sim-fast-b")
        again = await ask(region="eu")
        assert (again.cached, again.provider) == (True, "sim-fast-b")

    _run(engine, default_config, scenario)


def test_a_pinned_model_is_not_served_another_models_answer(engine: RoutingEngine, default_config: RouterConfig) -> None:
    async def scenario(ask: Ask) -> None:
        assert (await ask()).model == "sim-fast"
        pinned = await ask(pinned_model="sim-reasoning")
        assert (pinned.cached, pinned.model) == (False, "sim-reasoning")
        again = await ask(pinned_model="sim-reasoning")
        assert (again.cached, again.model) == (True, "sim-reasoning")

    _run(engine, default_config, scenario)


def test_a_tier_3_answer_is_not_served_past_the_tier_3_limit(engine: RoutingEngine, default_config: RouterConfig) -> None:
    async def scenario(ask: Ask) -> None:
        first = await ask(tenant="scarce", min_tier=3)
        assert (first.tier, first.cached) == (3, False)
        limited = await ask(tenant="scarce", min_tier=3)
        assert (limited.cached, limited.tier, limited.decision.reason) == (False, 2, "limit:t3-daily")

    _run(engine, default_config, scenario)


LONG_SYSTEM = "You are the support assistant of Acme Bank. Be polite, precise and brief. " * 60
BASE: dict[str, Any] = {"messages": [("system", "Be brief."), ("user", "Earlier question"),
                                     ("assistant", "Earlier answer"), ("user", QUESTION)]}
CHANGES: dict[str, dict[str, Any]] = {
    "history": {"messages": [("system", "Be brief."), ("user", "Another earlier question"),
                             ("assistant", "Earlier answer"), ("user", QUESTION)]},
    "system prompt": {"messages": [("system", "Be thorough."), ("user", "Earlier question"),
                                   ("assistant", "Earlier answer"), ("user", QUESTION)]},
    "temperature": {"temperature": 1.5},
    "top_p": {"top_p": 0.5},
    "stop": {"stop": ["\n"]},
    "seed": {"seed": 7},
    "max_tokens": {"max_tokens": 5},
    "schema": {"response_schema": {"type": "object"}},
    "question under a long system prompt": {"messages": [("system", LONG_SYSTEM), ("user", "Close my account")]},
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_request_differing_in_anything_that_changes_the_answer_misses(
        engine: RoutingEngine, default_config: RouterConfig, change: str) -> None:
    base = {**BASE, "messages": [("system", LONG_SYSTEM), ("user", QUESTION)]} if "long" in change else BASE

    async def scenario(ask: Ask) -> None:
        fields = dict(base)
        messages = fields.pop("messages")
        assert not (await ask(*messages, **fields)).cached
        assert (await ask(*messages, **fields)).cached, "the same request again is a hit"
        changed = {**base, **CHANGES[change]}
        messages = changed.pop("messages")
        assert not (await ask(*messages, **changed)).cached

    _run(engine, default_config, scenario)
