"""A length-only router, the floor any learned router must beat.

The routing data mixes short chatty intent utterances (tier 1) with long formal
benchmark items (tiers 2-3), so prompt length alone already separates much of
it; a classifier that does no better than this has learnt style, not need.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field, model_validator

from router_py.eval.golden import RoutedItem
from router_py.train.dataset import GoldenItem, Tier

REASON = "baseline:length"
MAX_CANDIDATES = 512  # thresholds tried per cut; quantiles beyond that


class LengthBaseline(BaseModel):
    """Tier 1 up to `max_tier1_tokens` input tokens, tier 2 up to `max_tier2_tokens`, else tier 3."""

    max_tier1_tokens: int = Field(ge=-1)
    max_tier2_tokens: int = Field(ge=-1)

    @model_validator(mode="after")
    def _ordered(self) -> LengthBaseline:
        if self.max_tier2_tokens < self.max_tier1_tokens:
            raise ValueError("max_tier2_tokens must be >= max_tier1_tokens")
        return self

    def tier_for(self, tokens: int) -> Tier:
        if tokens <= self.max_tier1_tokens:
            return 1
        if tokens <= self.max_tier2_tokens:
            return 2
        return 3

    def route(self, items: Sequence[GoldenItem], input_tokens: Sequence[int]) -> list[RoutedItem]:
        """Decisions in the router's shape, so `golden_report` scores the baseline like the model."""
        if len(items) != len(input_tokens):
            raise ValueError(f"{len(input_tokens)} token counts for {len(items)} items")
        routed = []
        for it, tokens in zip(items, input_tokens):
            tier = self.tier_for(tokens)
            scores = (float(tier == 1), float(tier == 2), float(tier == 3))
            routed.append(RoutedItem(id=it.id, tier=tier, reason=REASON, confidence=1.0,
                                     scores=scores, latency_ms=0.0))
        return routed


def _candidates(tokens: NDArray[np.int64]) -> NDArray[np.int64]:
    """Cut points: -1 (the tier is empty) and observed counts, thinned to quantiles if many."""
    unique = np.unique(tokens)
    if len(unique) > MAX_CANDIDATES:
        unique = np.unique(np.quantile(unique, np.linspace(0, 1, MAX_CANDIDATES)).astype(np.int64))
    return np.concatenate([[-1], unique])


def fit_length_baseline(items: Sequence[GoldenItem], input_tokens: Sequence[int]) -> LengthBaseline:
    """Thresholds maximising accuracy on `items`; ties go to fewer under-routed items, then lower cuts.

    Fit on the training split only: the point of the baseline is to be scored
    on the hold-out like the model.
    """
    if not items or len(items) != len(input_tokens):
        raise ValueError("need one token count per item, and at least one item")
    tokens = np.asarray(input_tokens, dtype=np.int64)
    ideal = np.asarray([it.ideal_tier for it in items], dtype=np.int64)
    cuts = _candidates(tokens)
    # at_most[t][k] = items of ideal tier t with tokens <= cuts[k]
    at_most = {t: np.searchsorted(np.sort(tokens[ideal == t]), cuts, side="right") for t in (1, 2, 3)}
    n3 = int((ideal == 3).sum())
    c1, c2 = np.meshgrid(np.arange(len(cuts)), np.arange(len(cuts)), indexing="ij")
    valid = c2 >= c1
    correct = at_most[1][c1] + (at_most[2][c2] - at_most[2][c1]) + (n3 - at_most[3][c2])
    under = at_most[2][c1] + at_most[3][c1] + (at_most[3][c2] - at_most[3][c1])
    # lexicographic: accuracy first, then fewer under-routed; invalid pairs never win
    score = np.where(valid, correct * (len(items) + 1) - under, np.iinfo(np.int64).min)
    best = np.unravel_index(int(np.argmax(score)), score.shape)
    return LengthBaseline(max_tier1_tokens=int(cuts[best[0]]), max_tier2_tokens=int(cuts[best[1]]))
