"""What the front ends turn requests into (a `Conversation` to route, a `CompletionRequest` to
answer), and what the pipeline returns (a `Completion`). Below the pipeline (complete/) and the
accounting, which both speak it, so neither has to import the other's package for it."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from router_py.providers.types import ChatMessage, ChatRequest, Usage
from router_py.routing.request import DecisionRecord, RouteRequest

# "actual": the tokens providers counted for this request; "estimated": tokens the router
# assumed (a cached answer's, counted when it was bought; a cut stream's, from its characters).
CostBasis = Literal["estimated", "actual"]

# Far above the gate's own bound (complete/gate.py), which gives the precise refusal; this one
# only keeps a hostile schema away from recursive code that runs before the gate.
MAX_SCHEMA_NESTING = 128


class Conversation(BaseModel):
    """Who asks, the conversation and the tier hints: what routing reads from a request. A gRPC
    `Route` call is one as it stands; `CompletionRequest` adds what the answer is asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(default="default", min_length=1, max_length=128)
    user: str | None = Field(default=None, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    min_tier: int | None = Field(default=None, ge=1, le=3)
    max_tier: int | None = Field(default=None, ge=1, le=3)
    region: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("messages")
    @classmethod
    def _needs_content(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.content.strip() for m in messages):
            raise ValueError("at least one message must have non-empty content")
        if any(m.role == "tool" for m in messages):
            # A tool result needs the call it answers, and no provider is given tools yet:
            # refused here rather than sent on as plain text the model would misread.
            raise ValueError("tool messages are not supported (the router does not pass tools to providers yet)")
        return messages

    @field_validator("tenant", "region", "user")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        # Whitespace would be a tenant (or region) of its own in limits, metrics and the ledger.
        if value is not None and (not value.strip() or value != value.strip()):
            raise ValueError("must not be blank or have surrounding whitespace")
        return value

    def question(self) -> str:
        """What the router embeds and classifies: the last user message with content (the last
        message with content when no user message has any). Embedding the conversation instead
        would let a long system prompt fill the embedder's window and drown the question."""
        return self.messages[self._question_at()].content

    def _question_at(self) -> int:
        spoken = [i for i, m in enumerate(self.messages) if m.content.strip()]
        asked = [i for i in spoken if self.messages[i].role == "user"]
        return (asked or spoken)[-1]

    def answer_settings(self) -> dict[str, Any]:
        """What, besides the conversation, changes the answer: nothing for a bare conversation."""
        return {}

    def routing_context(self) -> str:
        """Everything but the question that changes the answer, canonically serialised: every
        turn in place and in full (the question's own slot keeps only its role), plus
        `answer_settings()`. Cached answers are shared only between requests whose contexts are
        equal, so it is "" for a lone user question with default parameters, the same as a
        `Route` call or a warm-loaded FAQ entry for that question."""
        at = self._question_at()
        turns = [[m.role, None if i == at else m.content] for i, m in enumerate(self.messages)]
        settings = {k: v for k, v in self.answer_settings().items() if v is not None}
        if turns == [["user", None]] and not settings:
            return ""
        return json.dumps({"turns": turns, **settings}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def route_request(self) -> RouteRequest:
        return RouteRequest(tenant=self.tenant, text=self.question(), context=self.routing_context(), user=self.user,
                            region=self.region, min_tier=self.min_tier, max_tier=self.max_tier)


class CompletionRequest(Conversation):
    """A conversation to answer: what the gRPC `Complete`/`CompleteStream` and HTTP front ends
    both turn their requests into."""

    request_id: str = Field(min_length=1, max_length=128)
    response_schema: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    # OpenAI's bound; an empty sequence would stop every answer before its first token.
    stop: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(default=None, max_length=4)
    # int64, as OpenAI's API and the proto carry it.
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    # A concrete model or provider name the caller pinned; None lets the router choose.
    pinned_model: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("response_schema")
    @classmethod
    def _shallow(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        """Iteratively, before anything recursive (the cache key's json.dumps, the gate's
        compiler) walks it: a deep one blows Python's stack. The gate keeps the tighter bound."""
        stack: list[tuple[Any, int]] = [(schema, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_SCHEMA_NESTING:
                raise ValueError(f"nests deeper than {MAX_SCHEMA_NESTING} levels")
            if isinstance(node, dict):
                stack.extend((v, depth + 1) for v in node.values())
            elif isinstance(node, list):
                stack.extend((v, depth + 1) for v in node)
        return schema

    def routing_text(self) -> str:
        """The whole request as one text, for a verifier to read: the conversation, plus the
        schema when one is asked for. Routing uses `question` and `routing_context` instead."""
        lines = [m.content if m.role == "user" and len(self.messages) == 1 else f"{m.role}: {m.content}"
                 for m in self.messages]
        if self.response_schema is not None:
            lines.append("response schema: " + json.dumps(self.response_schema, sort_keys=True, separators=(",", ":")))
        return "\n".join(lines)

    def answer_settings(self) -> dict[str, Any]:
        """The response schema and the sampling parameters. The pinned model is left out: the
        router serves a pinned request only answers that model gave, whichever request filed
        them."""
        return {
            "response_schema": self.response_schema,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            # A set to the provider: order and repeats do not change the answer.
            "stop": sorted(set(self.stop)) if self.stop else None,
            "seed": self.seed,
        }

    def route_request(self) -> RouteRequest:
        return super().route_request().model_copy(update={"pinned_model": self.pinned_model})

    def chat_request(self, *, logprobs: bool) -> ChatRequest:
        return ChatRequest(messages=self.messages, max_tokens=self.max_tokens, temperature=self.temperature,
                           top_p=self.top_p, stop=self.stop, seed=self.seed,
                           response_schema=self.response_schema, logprobs=logprobs)


class Attempt(BaseModel):
    """One provider call, or one provider skipped; the decision log and the API report them."""

    model_config = ConfigDict(frozen=True)

    tier: int
    provider: str
    # ok | gate_failed | breaker_open | cooling_down | a providers.types.FailureKind value
    outcome: str
    gate_failures: list[str] = []
    latency_ms: float = 0.0


class Completion(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    decision: DecisionRecord
    content: str
    finish_reason: str
    tier: int
    provider: str
    model: str
    usage: Usage
    cost_usd: float
    tier3_cost_usd: float
    saved_usd: float
    # Whether the three figures above stand on tokens a provider counted for this request
    # ("actual") or on tokens assumed for it ("estimated": a cache hit); see catalog.Cost.
    cost_basis: CostBasis
    escalations: int
    failovers: int
    attempts: list[Attempt]
    cached: bool
    accepted: bool
    latency_ms: float
