"""The simulated models behind `llm-router mock-provider`, and the faults a test can switch on.

A profile is a model's character: how fast it starts and types (time to first token is
lognormal, as measured on real APIs: a long right tail) and how hard a query it still answers
well (`capability`, on the scale of `difficulty.assess`). Answers succeed or fail with a
probability that rises steeply past the capability, decided per query text, so the same
question always gets the same outcome.
"""

from __future__ import annotations

import math
import random
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Frozen):
    ttft_median_ms: NonNegative
    # Spread of ln(time to first token); 0 makes it fixed.
    ttft_sigma: NonNegative
    per_token_ms: NonNegative

    def first_token_s(self, rng: random.Random) -> float:
        return (
            self.ttft_median_ms * math.exp(rng.gauss(0.0, self.ttft_sigma)) / 1000
            if self.ttft_sigma
            else self.ttft_median_ms / 1000
        )


class Profile(_Frozen):
    name: str
    model: str
    tier: int
    latency: Latency
    # Difficulty at which half the answers fail, and how sharp that edge is.
    capability: float
    edge: float = Field(gt=0.0)
    # Planned answer length in tokens for the easiest and the hardest query.
    answer_tokens: tuple[int, int]
    # The same short text for every prose answer (benchmarks: nothing to generate, little to send).
    canned_answer: str | None = None

    def failure_probability(self, difficulty: float) -> float:
        z = (difficulty - self.capability) / self.edge
        return 1.0 / (1.0 + math.exp(-min(max(z, -60.0), 60.0)))


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="fast",
            model="sim-fast",
            tier=1,
            latency=Latency(ttft_median_ms=180, ttft_sigma=0.35, per_token_ms=6),
            capability=0.33,
            edge=0.04,
            answer_tokens=(20, 90),
        ),
        Profile(
            name="smart",
            model="sim-smart",
            tier=2,
            latency=Latency(ttft_median_ms=450, ttft_sigma=0.4, per_token_ms=14),
            capability=0.82,
            edge=0.04,
            answer_tokens=(40, 220),
        ),
        Profile(
            name="reasoning",
            model="sim-reasoning",
            tier=3,
            # Time to first token includes the hidden thinking.
            latency=Latency(ttft_median_ms=1800, ttft_sigma=0.5, per_token_ms=22),
            capability=1.2,
            edge=0.05,
            answer_tokens=(60, 320),
        ),
        Profile(
            name="fixed",
            model="sim-fixed",
            tier=1,
            latency=Latency(ttft_median_ms=20, ttft_sigma=0.0, per_token_ms=0),
            capability=math.inf,
            edge=1.0,
            answer_tokens=(4, 4),
            canned_answer="OK.",
        ),
    )
}


class Faults(_Frozen):
    """What can go wrong, drawn per request; changeable at run time through `POST /_mock/faults`."""

    error_rate: Probability = 0.0  # HTTP 500
    rate_limit_rate: Probability = 0.0  # HTTP 429 with `Retry-After: retry_after`
    retry_after: NonNegative | None = 1.0  # seconds; None sends no header
    garbage_rate: Probability = 0.0  # 200 with a body (or a stream event) that is not the API's JSON
    cut_stream_rate: Probability = 0.0  # a stream that stops before its terminal event
    latency_scale: NonNegative = 1.0  # multiplies the profile's latency (0: answer at once)
    latency_ms: NonNegative | None = None  # a fixed whole-answer latency in place of the profile's
    extra_latency_ms: NonNegative = 0.0  # waited before anything is sent: a stalled provider
    token_delay_ms: NonNegative = 0.0  # added before each streamed token: a provider that trickles
