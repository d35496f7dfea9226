"""Figures that put routers side by side: the curve, label kinds kept apart, baseline reports.

Spec and outcome labels (data/routing/README.md) answer different questions: `spec_tier`
is what the query is (an FAQ intent, a legal task), `outcome_tier` is what a model of each
tier actually got right (GSM8K and MMLU only). `ideal_tier` merges them (outcome where
present, else spec) and drives the headline figures; here each kind is scored on its own
items against its own label, and never merged, so noise in one cannot hide in the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from router_tools.eval.baselines import Prediction
from router_tools.eval.curve import BUDGETS, RESAMPLES, SEED, Curve, cost_curve
from router_tools.eval.golden import UNKNOWN_SOURCE, Figures, TierPrice, item_cost, slice_report
from router_tools.train.dataset import TIERS, GoldenItem

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Bootstrap:
    budgets: tuple[float, ...] = BUDGETS
    resamples: int = RESAMPLES
    seed: int = SEED


class LabelReport(Figures):
    """Figures against one kind of label, on the items that carry it."""

    by_source: dict[str, Figures]
    curve: Curve


class LabelKinds(BaseModel):
    """`spec`: scored against `spec_tier`; `outcome`: against `outcome_tier`. None where no
    item of the file carries that kind of label."""

    spec: LabelReport | None
    outcome: LabelReport | None


class BaselineReport(Figures):
    """A baseline's figures at its own operating point, and its curve. No latency: baselines
    run in batch, outside the router's decision path."""

    tail: Figures | None
    by_source: dict[str, Figures]
    curve: Curve
    labels: LabelKinds


class TrainingSet(BaseModel):
    """What the baselines were trained on."""

    path: str
    sha256: str
    n: int


@dataclass(frozen=True)
class Pricing:
    prices: Mapping[int, TierPrice]
    input_tokens: Sequence[int]
    output_tokens: int

    def costs(self) -> F64:
        """(n, 3): each item's cost at tiers 1..3, on the same token counts."""
        return np.asarray([[item_cost(self.prices, t, tok, self.output_tokens) for t in TIERS]
                           for tok in self.input_tokens], dtype=np.float64).reshape(-1, 3)


def _figures(ideal: Sequence[int], tiers: Sequence[int], idx: Sequence[int], pricing: Pricing) -> Figures:
    report = slice_report([ideal[i] for i in idx], [int(tiers[i]) for i in idx],
                          [pricing.input_tokens[i] for i in idx], [0.0] * len(idx),
                          pricing.prices, pricing.output_tokens)
    return Figures(**report.model_dump(exclude={"latency_ms"}))


def _by_source(items: Sequence[GoldenItem], idx: Sequence[int]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i in idx:
        groups.setdefault(items[i].source or UNKNOWN_SOURCE, []).append(i)
    return dict(sorted(groups.items()))


def _label_report(items: Sequence[GoldenItem], labels: Sequence[int | None], tiers: I64, scores: F64,
                  pricing: Pricing, costs: F64, boot: Bootstrap) -> LabelReport | None:
    idx = [i for i, y in enumerate(labels) if y is not None]
    if not idx:
        return None
    ideal = [int(y) if y is not None else 0 for y in labels]
    overall = _figures(ideal, tiers.tolist(), idx, pricing)
    sel = np.asarray(idx)
    curve = cost_curve(scores[sel], np.asarray(ideal)[sel], costs[sel], boot.budgets, boot.resamples, boot.seed)
    return LabelReport(**overall.model_dump(), curve=curve,
                       by_source={s: _figures(ideal, tiers.tolist(), g, pricing)
                                  for s, g in _by_source(items, idx).items()})


def label_kinds(items: Sequence[GoldenItem], tiers: I64, scores: F64, pricing: Pricing,
                boot: Bootstrap, costs: F64 | None = None) -> LabelKinds:
    costs = pricing.costs() if costs is None else costs
    return LabelKinds(
        spec=_label_report(items, [it.spec_tier for it in items], tiers, scores, pricing, costs, boot),
        outcome=_label_report(items, [it.outcome_tier for it in items], tiers, scores, pricing, costs, boot),
    )


def curve_for(items: Sequence[GoldenItem], scores: F64, pricing: Pricing, boot: Bootstrap,
              costs: F64 | None = None) -> Curve:
    costs = pricing.costs() if costs is None else costs
    ideal = np.asarray([it.ideal_tier for it in items], dtype=np.int64)
    return cost_curve(scores, ideal, costs, boot.budgets, boot.resamples, boot.seed)


def baseline_report(items: Sequence[GoldenItem], prediction: Prediction, pricing: Pricing,
                    boot: Bootstrap) -> BaselineReport:
    costs = pricing.costs()
    ideal = [it.ideal_tier for it in items]
    tiers = prediction.tiers.tolist()
    everything = list(range(len(items)))
    tail = [i for i, it in enumerate(items) if it.is_tail]
    overall = _figures(ideal, tiers, everything, pricing)
    return BaselineReport(
        **overall.model_dump(),
        tail=_figures(ideal, tiers, tail, pricing) if tail else None,
        by_source={s: _figures(ideal, tiers, g, pricing) for s, g in _by_source(items, everything).items()},
        curve=curve_for(items, prediction.scores, pricing, boot, costs),
        labels=label_kinds(items, prediction.tiers, prediction.scores, pricing, boot, costs),
    )
