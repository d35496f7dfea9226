"""Golden-set report maths: routed decisions against ideal tiers, in quality and cost.

Pure functions over already-made decisions; running the router is the caller's job.
The JSON of `GoldenReport` is what `llm-router eval golden --json` prints (docs/contracts.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, Field

from router_py.complete.catalog import Price
from router_py.providers.types import Usage
from router_tools.eval.domains import DomainEvaluation, domain_evaluation
from router_tools.train.dataset import TIERS, GoldenItem, Tier

UNKNOWN_SOURCE = "unknown"


class TierPrice(Price):
    """USD per 1M tokens, costed as the router costs a request (`Price.cost`)."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class RoutedItem(BaseModel):
    """The router's decision for one golden item."""

    id: str
    # int rather than Literal so callers can pass the core's tier straight through
    tier: int = Field(ge=1, le=3)
    reason: str
    confidence: float
    scores: tuple[float, float, float]  # classifier tier probabilities [p1, p2, p3]
    latency_ms: float = Field(ge=0)
    domain: str | None = None  # the classifier's domain; None (or "") when it gave none, e.g. a cache hit


class Latency(BaseModel):
    p50: float
    p99: float


class Figures(BaseModel):
    """Quality and cost figures for a set of items; rates are shares of n."""

    n: int
    accuracy: float
    under_routed: float
    over_routed: float
    cost_ratio: float
    regret: float
    confusion: list[list[int]]  # rows = ideal tier 1..3, columns = routed tier 1..3


class SliceReport(Figures):
    """Figures plus the decision latency: what the router reports for a set of items."""

    latency_ms: Latency


class ItemReport(BaseModel):
    id: str
    ideal_tier: Tier
    tier: int
    reason: str
    confidence: float
    scores: tuple[float, float, float]
    domain: str | None = None  # the classifier's domain


class GoldenReport(SliceReport):
    tail: SliceReport | None  # None when no item is tagged "tail"
    by_source: dict[str, SliceReport]
    items: list[ItemReport]
    # the classifier's domain against the items' labels (domains.py); None when no item has both
    domains: DomainEvaluation | None = None


def item_cost(prices: Mapping[int, TierPrice], tier: int, input_tokens: int,
              output_tokens: int) -> float:
    return prices[tier].cost(Usage(input_tokens=input_tokens, output_tokens=output_tokens))


def _percentile(values: Sequence[float], q: float) -> float:
    # linear interpolation between order statistics (numpy default)
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def slice_report(
    ideal: Sequence[int],
    routed: Sequence[int],
    input_tokens: Sequence[int],
    latencies: Sequence[float],
    prices: Mapping[int, TierPrice],
    output_tokens: int,
    under_penalty: float = 1.0,
) -> SliceReport:
    """Figures for one slice of items (parallel sequences, one entry per item).

    cost_ratio = sum of routed costs / sum of always-tier-3 costs, on the same
    token counts (input tokens per item, `output_tokens` for every item).

    regret = sum_i r_i / sum_i c3_i, where c(t) is item i's cost at tier t,
    c3_i its always-tier-3 cost, y_i its ideal tier and t_i the routed tier:
      r_i = c(t_i) - c(y_i)                  if t_i >= y_i (money paid above the cheapest adequate tier)
      r_i = c(t_i) + under_penalty * c3_i    if t_i <  y_i (the call bought an inadequate answer,
                                                           plus the quality loss priced as
                                                           `under_penalty` tier-3 calls)
    So an oracle router scores 0, always-tier-3 scores 1 - (oracle cost / tier-3 cost),
    and each under-routed item costs at least `under_penalty` times what
    over-routing that item to tier 3 could.
    """
    n = len(ideal)
    if not (len(routed) == len(input_tokens) == len(latencies) == n):
        raise ValueError("slice sequences differ in length")
    if n == 0:
        raise ValueError("cannot report on zero items")
    confusion = [[0] * len(TIERS) for _ in TIERS]
    routed_cost = tier3_cost = regret = 0.0
    for y, t, tokens in zip(ideal, routed, input_tokens):
        confusion[y - 1][t - 1] += 1
        c_t = item_cost(prices, t, tokens, output_tokens)
        c_3 = item_cost(prices, 3, tokens, output_tokens)
        routed_cost += c_t
        tier3_cost += c_3
        if t >= y:
            regret += c_t - item_cost(prices, y, tokens, output_tokens)
        else:
            regret += c_t + under_penalty * c_3
    if tier3_cost <= 0:
        raise ValueError("always-tier-3 cost is zero: tier-3 prices or token counts must be positive")
    correct = sum(confusion[i][i] for i in range(len(TIERS)))
    under = sum(confusion[i][j] for i in range(len(TIERS)) for j in range(i))
    return SliceReport(
        n=n,
        accuracy=correct / n,
        under_routed=under / n,
        over_routed=(n - correct - under) / n,
        cost_ratio=routed_cost / tier3_cost,
        regret=regret / tier3_cost,
        confusion=confusion,
        latency_ms=Latency(p50=_percentile(latencies, 50), p99=_percentile(latencies, 99)),
    )


def _check_inputs(items: Sequence[GoldenItem], routed: Sequence[RoutedItem],
                  input_tokens: Sequence[int], prices: Mapping[int, TierPrice],
                  output_tokens: int) -> dict[str, RoutedItem]:
    if not items:
        raise ValueError("empty golden set")
    if len(input_tokens) != len(items):
        raise ValueError(f"{len(input_tokens)} token counts for {len(items)} items")
    if any(tok < 0 for tok in input_tokens) or output_tokens < 0:
        raise ValueError("token counts must be non-negative")
    missing_tiers = [t for t in TIERS if t not in prices]
    if missing_tiers:
        raise ValueError(f"no price for tier(s) {missing_tiers}")
    by_id = {r.id: r for r in routed}
    if len(by_id) != len(routed):
        raise ValueError("routed results repeat an id")
    wanted = {it.id for it in items}
    if len(wanted) != len(items):
        raise ValueError("golden items repeat an id")
    if wanted != by_id.keys():
        lacking = sorted(wanted - by_id.keys())[:3]
        extra = sorted(by_id.keys() - wanted)[:3]
        raise ValueError(f"routed ids do not match golden ids (missing {lacking}, unexpected {extra})")
    return by_id


def golden_report(
    items: Sequence[GoldenItem],
    routed: Sequence[RoutedItem],
    prices: Mapping[int, TierPrice],
    input_tokens: Sequence[int],
    output_tokens: int,
    under_penalty: float = 1.0,
) -> GoldenReport:
    """The full report: overall figures, the `tail` slice, `by_source`, per-item rows, and
    `domains`: the classifier's domain against the items' domain labels.

    `routed` is matched to `items` by id (order free); `input_tokens[i]` is the
    caller's token count for `items[i]`; every item is assumed to produce
    `output_tokens` output tokens whatever its tier. Items keep the file order.
    See `slice_report` for cost_ratio and regret.
    """
    by_id = _check_inputs(items, routed, input_tokens, prices, output_tokens)
    decisions = [by_id[it.id] for it in items]

    def figures(indices: Sequence[int]) -> SliceReport:
        return slice_report(
            [items[i].ideal_tier for i in indices],
            [decisions[i].tier for i in indices],
            [input_tokens[i] for i in indices],
            [decisions[i].latency_ms for i in indices],
            prices, output_tokens, under_penalty,
        )

    sources: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        sources.setdefault(it.source or UNKNOWN_SOURCE, []).append(i)
    tail = [i for i, it in enumerate(items) if it.is_tail]
    overall = figures(range(len(items)))
    return GoldenReport(
        **overall.model_dump(),
        tail=figures(tail) if tail else None,
        by_source={name: figures(idx) for name, idx in sorted(sources.items())},
        items=[
            ItemReport(id=it.id, ideal_tier=it.ideal_tier, tier=d.tier, reason=d.reason,
                       confidence=d.confidence, scores=d.scores, domain=d.domain or None)
            for it, d in zip(items, decisions)
        ],
        domains=domain_evaluation([it.domain for it in items], [d.domain for d in decisions],
                                  [it.source for it in items]),
    )
