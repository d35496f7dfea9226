"""The cost-vs-safety curve: how cheap a router gets within an under-routing budget.

Every router here (the classifier head and each baseline) gives tier probabilities
[p1, p2, p3]. The policy turns them into a tier with one knob, the risk threshold
`maxUnderrouteRisk` (router_core policy/rules.rs `classifier_tier`): the cheapest tier t
with P(ideal > t) <= threshold, i.e. tier 1 if p2 + p3 <= threshold, else tier 2 if
p3 <= threshold, else tier 3. Sweeping that threshold over [0, 1] traces the router's
trade-off between cost and under-routing; for each budget we report the lowest cost ratio
among thresholds whose under-routed share stays within it, which is what `calibrate`
would pick. Comparing routers at equal under-routing is fair where comparing their
default operating points is not (each sits at a different point of its own curve).

The pick is made on the evaluated file itself, so a point is the best the router's
scores allow there, not a promise for new traffic; the bootstrap interval (items
resampled, the whole sweep-and-pick redone per resample) says how much that best moves
with the sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

BUDGETS: tuple[float, ...] = (0.01, 0.03, 0.05, 0.10)
RESAMPLES = 1000
SEED = 0
# Resamples processed together: bounds memory at ~CHUNK x 2n floats per array.
CHUNK = 100
# Shares are ratios of integer counts; this absorbs float error in `under <= budget`.
EPS = 1e-12

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class CurvePoint(BaseModel):
    """The cheapest setting within one under-routing budget; None where no threshold meets it."""

    budget: float
    cost_ratio: float | None
    ci95: tuple[float, float] | None  # bootstrap percentile interval of cost_ratio
    under_routed: float | None  # the under-routed share the picked threshold reaches
    threshold: float | None  # the picked maxUnderrouteRisk


class Curve(BaseModel):
    resamples: int = Field(ge=0)
    seed: int
    points: list[CurvePoint]


def classifier_tiers(scores: F64, threshold: float) -> I64:
    """Tiers by the core's rule (rules.rs `classifier_tier`), for `scores` of shape (n, 3)."""
    scores = np.asarray(scores, dtype=np.float64)
    risk1 = scores[:, 1] + scores[:, 2]
    return np.where(risk1 <= threshold, 1, np.where(scores[:, 2] <= threshold, 2, 3)).astype(np.int64)


@dataclass(frozen=True)
class Events:
    """Each item's tier as a step function of the threshold, as sorted change points.

    Below p3 an item goes to tier 3; from p3 it drops to tier 2; from p2 + p3 to tier 1.
    Each drop is an event with the cost and under-routing it adds. A setting (threshold)
    applies every event at or below it, so the sweep over all settings is one cumulative
    sum, and a bootstrap resample is the same sum with items weighted by how often they
    were drawn.
    """

    item: I64  # the item each event belongs to, sorted by event value
    d_cost: F64  # cost change when it fires
    d_under: F64  # 1 where the item becomes under-routed by it, else 0
    thresholds: F64  # candidate settings: 0 and every distinct event value, ascending
    applied: I64  # events applied at each setting (prefix length into the sorted events)


def build_events(scores: F64, ideal: I64, costs: F64) -> Events:
    """`scores` (n, 3) tier probabilities, `ideal` (n,) tiers 1..3, `costs` (n, 3) each
    item's cost at tiers 1..3."""
    scores = np.asarray(scores, dtype=np.float64)
    ideal = np.asarray(ideal, dtype=np.int64)
    costs = np.asarray(costs, dtype=np.float64)
    n = len(ideal)
    if scores.shape != (n, 3) or costs.shape != (n, 3):
        raise ValueError(f"need (n, 3) scores and costs for {n} items, got {scores.shape} and {costs.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    # Clipped to the threshold's range [0, 1]: a sum of 1 + 1e-7 must still reach tier 1 at 1.
    to2 = np.clip(scores[:, 2], 0.0, 1.0)
    to1 = np.clip(scores[:, 1] + scores[:, 2], 0.0, 1.0)
    # p3 <= p2 + p3, so for each item the 3->2 event fires no later than 2->1.
    values = np.concatenate([to2, to1])
    item = np.concatenate([np.arange(n), np.arange(n)])
    d_cost = np.concatenate([costs[:, 1] - costs[:, 2], costs[:, 0] - costs[:, 1]])
    d_under = np.concatenate([(ideal > 2), (ideal > 1) & ~(ideal > 2)]).astype(np.float64)
    # Stable, with the 3->2 events first: equal values keep each item's drops in order.
    order = np.argsort(values, kind="stable")
    values = values[order]
    thresholds = np.unique(np.concatenate([[0.0], values]))
    applied = np.searchsorted(values, thresholds, side="right").astype(np.int64)
    return Events(item=item[order], d_cost=d_cost[order], d_under=d_under[order],
                  thresholds=thresholds, applied=applied)


def _settings(events: Events, weights: F64, base_cost: F64) -> tuple[F64, F64]:
    """Cost ratio and under-routed share at every setting, for each row of `weights` (m, n)."""
    w = weights[:, events.item]
    zero = np.zeros((len(weights), 1))
    cost = np.concatenate([zero, np.cumsum(w * events.d_cost, axis=1)], axis=1)[:, events.applied]
    under = np.concatenate([zero, np.cumsum(w * events.d_under, axis=1)], axis=1)[:, events.applied]
    total3 = weights @ base_cost
    n = weights.sum(axis=1)
    cost_ratio = (total3[:, None] + cost) / total3[:, None]
    return cost_ratio, under / n[:, None]


def _pick(cost_ratio: F64, under: F64, budget: float) -> I64:
    """Per row, the setting with the lowest cost ratio within the budget (ties: lowest
    threshold, the safer one); -1 where none is within it."""
    feasible = under <= budget + EPS
    masked = np.where(feasible, cost_ratio, np.inf)
    best = np.argmin(masked, axis=1)  # first minimum = lowest threshold
    return np.where(feasible.any(axis=1), best, -1).astype(np.int64)


@dataclass(frozen=True)
class Sweep:
    """Every setting on the full file: for plotting and for the point estimates."""

    thresholds: F64
    cost_ratio: F64
    under_routed: F64

    def frontier(self) -> tuple[F64, F64]:
        """(under-routed share, lowest cost ratio at or below it): the curve to plot."""
        order = np.lexsort((self.cost_ratio, self.under_routed))
        under = self.under_routed[order]
        best = np.minimum.accumulate(self.cost_ratio[order])
        keep = np.r_[under[1:] != under[:-1], True]  # the last (cheapest so far) per share
        return under[keep], best[keep]


def sweep(scores: F64, ideal: I64, costs: F64) -> Sweep:
    events = build_events(scores, ideal, costs)
    weights = np.ones((1, len(ideal)))
    cost_ratio, under = _settings(events, weights, np.asarray(costs, dtype=np.float64)[:, 2])
    return Sweep(thresholds=events.thresholds, cost_ratio=cost_ratio[0], under_routed=under[0])


def _resample_weights(rng: np.random.Generator, m: int, n: int) -> F64:
    """How often each item is drawn in each of m resamples of n items with replacement."""
    draws = rng.integers(0, n, size=(m, n))
    flat = (draws + (np.arange(m) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=m * n).reshape(m, n).astype(np.float64)


def cost_curve(scores: F64, ideal: I64, costs: F64, budgets: Sequence[float] = BUDGETS,
               resamples: int = RESAMPLES, seed: int = SEED) -> Curve:
    """For each budget the lowest cost ratio within it, with a bootstrap 95 % interval.

    The interval is the 2.5-97.5 percentile range of the per-resample picks, widened to
    include the point estimate when it falls outside: the pick is a minimum over settings,
    so on small files the resampled picks can all sit on one side of it, and an interval
    that excludes the figure it qualifies would only mislead. Resamples where no setting
    meets a budget (possible only if a router can never reach tier 3) are left out of that
    budget's interval. Deterministic for a given seed.
    """
    costs = np.asarray(costs, dtype=np.float64)
    ideal = np.asarray(ideal, dtype=np.int64)
    n = len(ideal)
    if n == 0:
        raise ValueError("cannot draw a curve for zero items")
    if costs[:, 2].sum() <= 0:
        raise ValueError("always-tier-3 cost is zero: tier-3 prices or token counts must be positive")
    events = build_events(scores, ideal, costs)
    full_ratio, full_under = _settings(events, np.ones((1, n)), costs[:, 2])
    picked = {b: int(_pick(full_ratio, full_under, b)[0]) for b in budgets}

    rng = np.random.default_rng(seed)
    boot: dict[float, list[F64]] = {b: [] for b in budgets}
    for start in range(0, resamples, CHUNK):
        weights = _resample_weights(rng, min(CHUNK, resamples - start), n)
        ratio, under = _settings(events, weights, costs[:, 2])
        for b in budgets:
            best = _pick(ratio, under, b)
            ok = best >= 0
            boot[b].append(ratio[np.flatnonzero(ok), best[ok]])

    points = []
    for b in budgets:
        k = picked[b]
        if k < 0:
            points.append(CurvePoint(budget=b, cost_ratio=None, ci95=None, under_routed=None, threshold=None))
            continue
        point = float(full_ratio[0, k])
        values = np.concatenate(boot[b]) if boot[b] else np.empty(0)
        ci: tuple[float, float] | None = None
        if len(values):
            lo, hi = np.percentile(values, [2.5, 97.5])
            ci = (min(float(lo), point), max(float(hi), point))
        points.append(CurvePoint(budget=b, cost_ratio=point, ci95=ci, under_routed=float(full_under[0, k]),
                                 threshold=float(events.thresholds[k])))
    return Curve(resamples=resamples, seed=seed, points=points)
