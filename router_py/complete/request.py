"""The request the gRPC and HTTP front ends both turn into, and what the pipeline returns."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from router_py.providers.types import ChatMessage, ChatRequest, Usage
from router_py.routing.request import DecisionRecord, RouteRequest


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str = Field(min_length=1, max_length=128)
    tenant: str = Field(default="default", min_length=1, max_length=128)
    user: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    min_tier: int | None = Field(default=None, ge=1, le=3)
    max_tier: int | None = Field(default=None, ge=1, le=3)
    region: str | None = None
    response_schema: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = Field(default=None, max_length=4)
    seed: int | None = None
    # A concrete model or provider name the caller pinned; None lets the router choose.
    pinned_model: str | None = None

    @field_validator("messages")
    @classmethod
    def _needs_content(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.content.strip() for m in messages):
            raise ValueError("at least one message must have non-empty content")
        return messages

    def routing_text(self) -> str:
        """What the caches and classifier see: the conversation, plus the schema when one is
        asked for and the pinned model, so an answer cached for one output shape or model is
        never served for another."""
        lines = [m.content if m.role == "user" and len(self.messages) == 1 else f"{m.role}: {m.content}"
                 for m in self.messages]
        if self.pinned_model is not None:
            lines.append(f"model: {self.pinned_model}")
        if self.response_schema is not None:
            lines.append("response schema: " + json.dumps(self.response_schema, sort_keys=True, separators=(",", ":")))
        return "\n".join(lines)

    def route_request(self) -> RouteRequest:
        return RouteRequest(tenant=self.tenant, text=self.routing_text(), user=self.user, region=self.region,
                            min_tier=self.min_tier, max_tier=self.max_tier)

    def chat_request(self, *, logprobs: bool) -> ChatRequest:
        return ChatRequest(messages=self.messages, max_tokens=self.max_tokens, temperature=self.temperature,
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
    escalations: int
    failovers: int
    attempts: list[Attempt]
    cached: bool
    accepted: bool
    latency_ms: float
