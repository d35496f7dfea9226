"""The decision log: one JSON line per request on the `llm_router.decisions` logger.

It never holds prompt or answer text unless the policy sets `logPrompts`."""

from __future__ import annotations

import logging

from router_py.completion import Attempt, Completion, CompletionRequest, CostBasis
from router_py.providers.types import Usage
from router_py.routing.request import DecisionRecord

log = logging.getLogger("llm_router.decisions")


def log_decision(request_id: str, tenant: str, decision: DecisionRecord, *, api: str) -> None:
    """A decision only (`Route`): its costs are the core's estimate, nothing was bought."""
    log.info("decision", extra={"request_id": request_id, "tenant": tenant, "api": api,
                                "decision": decision.model_dump(mode="json"), "cost_basis": "estimated"})


def log_completion(request: CompletionRequest, completion: Completion, *, api: str, log_prompts: bool) -> None:
    decision = completion.decision
    entry: dict[str, object] = {
        "request_id": request.request_id,
        "tenant": request.tenant,
        "api": api,
        # The decision reasons of docs/contracts.md: an escalated request is logged as such, with the first reason kept.
        "reason": "escalated" if completion.escalations else decision.reason,
        "decision": decision.model_dump(mode="json"),
        "served": {"tier": completion.tier, "provider": completion.provider, "model": completion.model,
                   "cached": completion.cached, "accepted": completion.accepted,
                   "finish_reason": completion.finish_reason},
        "attempts": [a.model_dump(mode="json") for a in completion.attempts],
        "escalations": completion.escalations,
        "failovers": completion.failovers,
        "usage": completion.usage.model_dump(mode="json"),
        "cost_usd": completion.cost_usd,
        "tier3_cost_usd": completion.tier3_cost_usd,
        "saved_usd": completion.saved_usd,
        # "actual" (the providers' token counts for this request) or "estimated" (a cache hit).
        "cost_basis": completion.cost_basis,
        "latency_ms": completion.latency_ms,
    }
    if log_prompts:
        entry["messages"] = [m.model_dump(mode="json") for m in request.messages]
        entry["answer"] = completion.content
    log.info("completion", extra=entry)


def log_failure(request_id: str, tenant: str, decision: DecisionRecord | None, attempts: list[Attempt], *,
                usage: Usage, cost_usd: float, error: BaseException, api: str, latency_ms: float,
                cost_basis: CostBasis = "actual") -> None:
    """A request that was not answered (failed, refused by a limit, cut mid-stream or abandoned by
    its caller): what was decided, tried and paid for, with its request id."""
    log.info("failure", extra={
        "request_id": request_id,
        "tenant": tenant,
        "api": api,
        "reason": decision.reason if decision is not None else None,
        "decision": decision.model_dump(mode="json") if decision is not None else None,
        "attempts": [a.model_dump(mode="json") for a in attempts],
        "usage": usage.model_dump(mode="json"),
        "cost_usd": cost_usd,
        "cost_basis": cost_basis,
        "error": type(error).__name__,
        "detail": str(error)[:300],
        "latency_ms": latency_ms,
    })
