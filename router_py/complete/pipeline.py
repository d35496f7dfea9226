"""The Complete path: decide (Rust), call the tier with failover, gate the answer, escalate when
the gate fails (up to the policy's cap), file accepted answers in the caches, account the cost."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from router_py import _core
from router_py.accounting.decision_log import log_completion, log_failure
from router_py.accounting.ledger import Ledger
from router_py.complete.catalog import Catalog
from router_py.complete.failover import Failover, TierAnswer, TierStream, TierUnavailableError, ms_since
from router_py.complete.gate import AcceptanceGate, GateVerdict, check_schema
from router_py.complete.verifier import parse_score, verifier_request
from router_py.completion import Attempt, Completion, CompletionRequest, CostBasis
from router_py.config.schema import RouterConfig
from router_py.providers.pool import ProviderPool
from router_py.providers.types import ChatResult, ProviderError, StreamDelta, StreamEnd, Usage
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import DecisionRecord
from router_py.telemetry.decisions import observe_decision
from router_py.telemetry.logs import request_id_var


@dataclass(frozen=True)
class Live:
    """What the pipeline reads from the live config; swapped whole on reload."""

    catalog: Catalog
    gate: AcceptanceGate
    log_prompts: bool

    @classmethod
    def of(cls, config: RouterConfig) -> Live:
        policy = config.policy
        return cls(Catalog(config), AcceptanceGate(policy.cascade.gate), policy.log_prompts)


@dataclass(frozen=True)
class _Plan:
    """Where a request is going: the decision, and the providers to try at its tier."""

    decision: _core.Decision
    record: DecisionRecord
    names: list[str]
    # A pinned model is served by its tier or not at all: no escalation, no moving up.
    pinned: bool


@dataclass
class _Streaming:
    """A stream whose text is reaching the caller: what was sent, should it be cut."""

    provider: str
    parts: list[str] = field(default_factory=list)

    @property
    def chars(self) -> int:
        return sum(len(p) for p in self.parts)


@dataclass
class _Progress:
    attempts: list[Attempt]
    paid: float = 0.0
    escalations: int = 0
    plan: _Plan | None = None
    streaming: _Streaming | None = None


class StreamBrokenError(RuntimeError):
    """The provider failed after the first token reached the caller: the stream ends with this."""


class Pipeline:
    def __init__(self, engine: RoutingEngine, pool: ProviderPool, failover: Failover, ledger: Ledger) -> None:
        self._engine = engine
        self._pool = pool
        self._failover = failover
        self._ledger = ledger
        self._live: Live | None = None

    @property
    def live(self) -> Live:
        if self._live is None:
            raise _core.NotConfiguredError("no routing config is live yet")
        return self._live

    def configure(self, config: RouterConfig) -> _core.PolicyInfo:
        """Apply to the core first: if it refuses the config, nothing here changes either."""
        info = self._engine.apply(config)
        self._pool.update(config.tiers)
        self._live = Live.of(config)
        return info

    async def complete(self, request: CompletionRequest, deadline: float, *, api: str) -> Completion:
        started = time.monotonic()
        request_id_var.set(request.request_id)
        live = self.live
        progress = _Progress(attempts=[])
        try:
            completion = await self._complete(request, live, progress, deadline, started)
        except (Exception, asyncio.CancelledError) as e:
            self._failed(request, live, progress, e, api, started)
            raise
        return self._finish(request, live, completion, api)

    async def _complete(
        self, request: CompletionRequest, live: Live, progress: _Progress, deadline: float, started: float
    ) -> Completion:
        plan = progress.plan = await self._plan(request, live)
        if plan.decision.cached is not None:
            return _from_cache(request, live, plan, plan.decision.cached, started)
        answer, verdict, tier = await self._answer(request, live, plan, progress, deadline)
        if verdict.passed:
            await self._file(plan.decision, tier, answer)
        return self._completion(request, live, plan, answer, tier, progress, verdict.passed, started)

    async def stream(self, request: CompletionRequest, deadline: float, *, api: str) -> AsyncIterator[DecisionRecord | str | Completion]:
        """The decision, then text deltas, then the Completion. Failover happens only before the
        first delta; the gate does not apply (streamed text cannot be taken back)."""
        started = time.monotonic()
        request_id_var.set(request.request_id)
        live = self.live
        progress = _Progress(attempts=[])
        try:
            plan = progress.plan = await self._plan(request, live)
            yield plan.record
            if plan.decision.cached is not None:
                completion = _from_cache(request, live, plan, plan.decision.cached, started)
                yield completion.content
            else:
                opened, tier = await self._open_stream(request, live, plan, progress, deadline)
                cut = progress.streaming = _Streaming(provider=opened.provider)
                end: StreamEnd | None = None
                try:
                    async for event in opened.events:
                        if isinstance(event, StreamDelta):
                            cut.parts.append(event.text)
                            yield event.text
                        else:
                            end = event
                except ProviderError as e:
                    raise StreamBrokenError(f"{e}; the answer was cut after {cut.chars} characters") from e
                if end is None:
                    raise StreamBrokenError(f"{opened.provider}: the stream ended without its final event")
                progress.streaming = None
                result = ChatResult(text="".join(cut.parts), finish_reason=end.finish_reason, usage=end.usage,
                                    model=end.model)
                answer = TierAnswer(result=result, provider=opened.provider, attempts=opened.attempts)
                progress.paid += live.catalog.price(opened.provider).cost(end.usage)
                completion = self._completion(request, live, plan, answer, tier, progress, True, started)
        except (Exception, asyncio.CancelledError, GeneratorExit) as e:
            # GeneratorExit: the caller went away mid-stream; what was bought is still accounted.
            self._failed(request, live, progress, e, api, started)
            raise
        yield self._finish(request, live, completion, api)

    async def _open_stream(
        self, request: CompletionRequest, live: Live, plan: _Plan, progress: _Progress, deadline: float
    ) -> tuple[TierStream, int]:
        opened, tier, names = None, plan.decision.tier, plan.names
        while opened is None:
            try:
                opened = await self._failover.open_stream(live.catalog, tier, names, request.chat_request(logprobs=False), deadline)
            except TierUnavailableError as e:
                progress.attempts += e.attempts
                tier, names = self._move_up(request, plan, tier, e)
        progress.attempts += opened.attempts
        return opened, tier

    async def _plan(self, request: CompletionRequest, live: Live) -> _Plan:
        if request.response_schema is not None:
            check_schema(request.response_schema)
        route = request.route_request()
        names: list[str] | None = None
        if request.pinned_model is not None:
            tier, names = live.catalog.pinned(request.pinned_model)
            route = route.model_copy(update={"min_tier": tier, "max_tier": tier})
        decision = await self._engine.decide_async(route)
        candidates = [c.provider for c in decision.candidates]
        if names is not None:
            candidates = [n for n in candidates if n in names] if decision.tier == live.catalog.tier_of(names[0]) else []
        record = observe_decision(decision)
        return _Plan(decision=decision, record=record, names=candidates, pinned=names is not None)

    async def _answer(
        self, request: CompletionRequest, live: Live, plan: _Plan, progress: _Progress, deadline: float
    ) -> tuple[TierAnswer, GateVerdict, int]:
        tier, names = plan.decision.tier, plan.names
        wants_logprobs = live.gate.min_verifier_score is not None
        while True:
            try:
                answer = await self._failover.call(live.catalog, tier, names, request.chat_request(logprobs=wants_logprobs), deadline)
            except TierUnavailableError as e:
                progress.attempts += e.attempts
                tier, names = self._move_up(request, plan, tier, e)
                continue
            progress.paid += live.catalog.price(answer.provider).cost(answer.result.usage)
            score, rating = await self._verifier_score(request, live, answer, tier, progress, deadline)
            verdict = live.gate.check(answer.result, request.response_schema, score)
            progress.attempts += _gated(answer.attempts, verdict) + rating
            if verdict.passed or plan.pinned or tier >= plan.decision.max_escalation_tier:
                return answer, verdict, tier
            progress.escalations += 1
            tier += 1
            names = self._candidates(request, tier)

    async def _verifier_score(
        self, request: CompletionRequest, live: Live, answer: TierAnswer, tier: int, progress: _Progress, deadline: float
    ) -> tuple[float | None, list[Attempt]]:
        """The provider's logprob score, or a verifier call to the next tier up when it gave none;
        with the verifier call's attempts, logged after the answer they rate."""
        if live.gate.min_verifier_score is None or answer.result.verifier_score is not None:
            return answer.result.verifier_score, []
        judge_tier = min(tier + 1, 3)
        ask = verifier_request(request.routing_text(), answer.result.text)
        try:
            rating = await self._failover.call(live.catalog, judge_tier, self._candidates(request, judge_tier), ask, deadline)
        except TierUnavailableError as e:
            return None, e.attempts
        progress.paid += live.catalog.price(rating.provider).cost(rating.result.usage)
        return parse_score(rating.result), rating.attempts

    def _move_up(self, request: CompletionRequest, plan: _Plan, tier: int, error: TierUnavailableError) -> tuple[int, list[str]]:
        """A tier with no provider left: move up, never down; a pinned model has nowhere to go."""
        if plan.pinned or tier >= 3:
            raise error
        return tier + 1, self._candidates(request, tier + 1)

    def _candidates(self, request: CompletionRequest, tier: int) -> list[str]:
        found = self._engine.core.tier_candidates(tier, request.tenant, region=request.region)
        return [c.provider for c in found]

    async def _file(self, decision: _core.Decision, tier: int, answer: TierAnswer) -> None:
        # With the tokens the answer took: a hit reports its cost and saving on them.
        payload = json.dumps({"content": answer.result.text, "finish_reason": answer.result.finish_reason,
                              "usage": answer.result.usage.model_dump(mode="json")})
        await self._engine.cache_put_async(decision, _core.CachedAnswer(tier, answer.provider, answer.result.model, payload))

    def _completion(
        self, request: CompletionRequest, live: Live, plan: _Plan, answer: TierAnswer, tier: int,
        progress: _Progress, accepted: bool, started: float,
    ) -> Completion:
        cost = live.catalog.cost(progress.paid, answer.result.usage, "actual")
        return Completion(
            request_id=request.request_id, decision=plan.record, content=answer.result.text,
            finish_reason=answer.result.finish_reason, tier=tier, provider=answer.provider, model=answer.result.model,
            usage=answer.result.usage, cost_usd=cost.cost_usd, tier3_cost_usd=cost.tier3_cost_usd,
            saved_usd=cost.saved_usd, cost_basis=cost.basis, escalations=progress.escalations, failovers=_failovers(progress.attempts), attempts=progress.attempts,
            cached=False, accepted=accepted, latency_ms=ms_since(started),
        )

    def _finish(self, request: CompletionRequest, live: Live, completion: Completion, api: str) -> Completion:
        self._ledger.record(request.tenant, completion)
        log_completion(request, completion, api=api, log_prompts=live.log_prompts)
        return completion

    def _failed(self, request: CompletionRequest, live: Live, progress: _Progress, error: BaseException, api: str,
                started: float) -> None:
        """Every request lands in the ledger and the decision log, answered or not."""
        usage = Usage(input_tokens=0, output_tokens=0)
        basis: CostBasis = "actual"
        if progress.streaming is not None and progress.plan is not None:
            # A cut stream is billed for what it sent; the provider's own count never came, so it
            # is estimated at four characters a token.
            usage = Usage(input_tokens=progress.plan.decision.input_tokens,
                          output_tokens=math.ceil(progress.streaming.chars / 4))
            progress.paid += live.catalog.price(progress.streaming.provider).cost(usage)
            basis = "estimated"
        self._ledger.record_failure(request.tenant, progress.paid, usage)
        log_failure(request.request_id, request.tenant, progress.plan.record if progress.plan else None,
                    progress.attempts, usage=usage, cost_usd=progress.paid, cost_basis=basis, error=error, api=api,
                    latency_ms=ms_since(started))


def _from_cache(request: CompletionRequest, live: Live, plan: _Plan, cached: _core.CachedAnswer,
                started: float) -> Completion:
    """A cached answer: nothing bought (usage 0, cost 0). Its saving is what always-tier-3 would
    have paid on the tokens the answer took when it was bought, by the same computation as a
    bought answer's, labelled estimated. (An entry filed before answers carried their tokens,
    e.g. from an older snapshot, is costed on the core's estimate: the request's input tokens
    and the policy's `expectedOutputTokens`.)"""
    payload = json.loads(cached.payload)
    filed = payload.get("usage")
    tokens = Usage.model_validate(filed) if filed is not None else live.catalog.expected_usage(plan.decision.input_tokens)
    cost = live.catalog.cost(0.0, tokens, "estimated")
    return Completion(
        request_id=request.request_id, decision=plan.record, content=payload["content"],
        finish_reason=payload.get("finish_reason", "stop"), tier=cached.tier, provider=cached.provider,
        model=cached.model, usage=Usage(input_tokens=0, output_tokens=0), cost_usd=cost.cost_usd,
        tier3_cost_usd=cost.tier3_cost_usd, saved_usd=cost.saved_usd, cost_basis=cost.basis, escalations=0,
        failovers=0, attempts=[], cached=True, accepted=True, latency_ms=ms_since(started),
    )


def _gated(attempts: list[Attempt], verdict: GateVerdict) -> list[Attempt]:
    """The successful attempt (the last) marked gate_failed with the checks that failed."""
    if verdict.passed:
        return attempts
    *before, last = attempts
    return [*before, last.model_copy(update={"outcome": "gate_failed", "gate_failures": verdict.failures})]


def _failovers(attempts: list[Attempt]) -> int:
    return sum(1 for a in attempts if a.outcome not in ("ok", "gate_failed"))
