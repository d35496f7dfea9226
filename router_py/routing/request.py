"""A routing request and the decision record the CLI prints and the decision log stores."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from router_py import _core


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: Annotated[str, Field(min_length=1)] = "default"
    # The question: what is embedded and classified (a conversation's last user message).
    text: Annotated[str, Field(min_length=1)]
    # Everything else that changes the answer, canonically serialised (earlier turns, system
    # prompt, schema, sampling parameters; see CompletionRequest.routing_context): cached
    # answers are shared only between requests with the same context. Empty for a lone question.
    context: str = ""
    user: str | None = None
    region: str | None = None
    min_tier: Annotated[int, Field(ge=1, le=3)] | None = None
    max_tier: Annotated[int, Field(ge=1, le=3)] | None = None
    # A model or provider name the caller pinned: a cached answer is served only if it came from it.
    pinned_model: str | None = None


class CandidateRecord(BaseModel):
    tier: int
    provider: str
    model: str
    region: str


class StageRecord(BaseModel):
    """Per-stage decision latency in milliseconds."""

    limits: float
    exact_cache: float
    embed: float
    semantic_cache: float
    classify: float
    policy: float
    total: float


class DecisionRecord(BaseModel):
    """The decision fields of docs/contracts.md; never the prompt text."""

    tier: int
    provider: str
    model: str
    reason: str
    confidence: float
    scores: list[float]
    domain: str
    policy_name: str
    policy_version: int
    estimated_cost_usd: float
    tier3_cost_usd: float
    saved_usd: float
    input_tokens: int
    embedded_tokens: int
    candidates: list[CandidateRecord]
    max_escalation_tier: int
    cache_similarity: float | None
    trail: list[str]
    latency_ms: StageRecord

    @classmethod
    def from_core(cls, d: _core.Decision) -> DecisionRecord:
        s = d.stages
        return cls(
            tier=d.tier,
            provider=d.provider,
            model=d.model,
            reason=d.reason,
            confidence=round(d.confidence, 6),
            scores=[round(p, 6) for p in d.scores],
            domain=d.domain,
            policy_name=d.policy_name,
            policy_version=d.policy_version,
            estimated_cost_usd=d.estimated_cost_usd,
            tier3_cost_usd=d.tier3_cost_usd,
            saved_usd=d.saved_usd,
            input_tokens=d.input_tokens,
            embedded_tokens=d.embedded_tokens,
            candidates=[CandidateRecord(tier=c.tier, provider=c.provider, model=c.model, region=c.region) for c in d.candidates],
            max_escalation_tier=d.max_escalation_tier,
            cache_similarity=d.similarity,
            trail=d.trail,
            latency_ms=StageRecord(
                limits=s.limits_us / 1000,
                exact_cache=s.exact_cache_us / 1000,
                embed=s.embed_us / 1000,
                semantic_cache=s.semantic_cache_us / 1000,
                classify=s.classify_us / 1000,
                policy=s.policy_us / 1000,
                total=s.total_us / 1000,
            ),
        )
