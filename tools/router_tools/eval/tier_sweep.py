"""The tier half of `calibrate`: the router's tier decision replayed in numpy, and a sweep of
the risk threshold and the confidence gate together.

The router decides a request's tier in the core (router_core policy/rules.rs `choose_tier`,
then route.rs `apply_policy`):

1. classifier: the cheapest tier t with P(ideal > t) <= `maxUnderrouteRisk`, i.e. tier 1 if
   p2 + p3 <= risk, else tier 2 if p3 <= risk, else tier 3 (f32 arithmetic; NaN never passes);
2. gate: one tier up (at most 3) when the confidence is below `confidenceThreshold` (or NaN);
3. overrides, least specific first, each clamping the tier into its window: the domain's
   `minTier`, then the tenant's `minTier`/`maxTier` (no request hints or users in a golden set);
4. providers: the first tier at or above that one with a provider the tenant's residency rules
   allow (breakers are all closed in a fresh router, rate limits are off in an evaluation).

Only steps 1 and 2 depend on the two thresholds swept here, so each item's steps 3 and 4 are
computed once, as a table `serve[i, t - 1]`: the tier served when the gate leaves tier t. The
sweep then needs no router call per setting, and `replica_tiers` is checked against the
router's own decisions at the live policy before any figure is believed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from router_tools.eval.curve import CHUNK, EPS, _resample_weights

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B8 = NDArray[np.bool_]

# Gate settings tried at most: one per distinct confidence is exact but costs O(n) each; past
# this many, evenly spaced quantiles of the confidences stand in (still exact decision edges).
MAX_GATES = 2000
TIERS = (1, 2, 3)


@dataclass(frozen=True)
class Window:
    """An override's tier window (router_core compile.rs TierBounds)."""

    min: int = 1
    max: int = 3

    def clamp(self, tier: int) -> int:
        return min(max(tier, self.min), self.max)


def serve_row(windows: Sequence[Window], movable: Mapping[int, int]) -> tuple[int, int, int]:
    """Tier served for each tier 1..3 the gate may leave: windows applied in order, then moved
    up to the first tier with a provider (`movable[t]`)."""
    row = []
    for tier in TIERS:
        for window in windows:
            tier = window.clamp(tier)
        row.append(movable[tier])
    return row[0], row[1], row[2]


@dataclass(frozen=True)
class TierInputs:
    """One routed golden set, as the sweep needs it; row i is item i."""

    scores: F32  # (n, 3) the classifier's P(ideal = 1, 2, 3), as the core holds them (f32)
    confidence: F32  # (n,)
    serve: I64  # (n, 3) tier served when the gate leaves tier 1, 2, 3 (overrides, providers)
    ideal: I64  # (n,)
    costs: F64  # (n, 3) the item's cost at tiers 1..3 (eval golden's pricing)

    def __post_init__(self) -> None:
        n = len(self.ideal)
        shapes = (self.scores.shape, self.confidence.shape, self.serve.shape, self.costs.shape)
        if shapes != ((n, 3), (n,), (n, 3), (n, 3)):
            raise ValueError(f"inputs for {n} items have shapes {shapes}")
        if n == 0:
            raise ValueError("cannot calibrate on zero items")
        if self.costs[:, 2].sum() <= 0:
            raise ValueError("always-tier-3 cost is zero: tier-3 prices or token counts must be positive")


def classifier_levels(scores: F32, risk: float) -> I64:
    """Step 1, in the core's f32 arithmetic: comparing in float64 could flip an item whose
    p2 + p3 sits within rounding of the threshold."""
    s = np.asarray(scores, dtype=np.float32)
    bound = np.float32(risk)
    # NaN compares false, so a NaN risk never lets the tier down, as in rules.rs.
    return np.where(s[:, 1] + s[:, 2] <= bound, 1, np.where(s[:, 2] <= bound, 2, 3)).astype(np.int64)


def gated(confidence: F32, threshold: float) -> B8:
    """Step 2's condition: below the threshold, or NaN (an uncalibrated answer must not save money)."""
    c = np.asarray(confidence, dtype=np.float32)
    out: B8 = np.isnan(c) | (c < np.float32(threshold))
    return out


def replica_tiers(inputs: TierInputs, risk: float, gate: float) -> I64:
    """The tier the router serves each item at this setting: steps 1 to 4, item by item."""
    level = classifier_levels(inputs.scores, risk)
    after_gate = np.minimum(level + gated(inputs.confidence, gate), 3)
    tiers: I64 = inputs.serve[np.arange(len(level)), after_gate - 1].astype(np.int64)
    return tiers


@dataclass(frozen=True)
class TierPick:
    """The cheapest setting within the budget, with the figures the sweep saw there."""

    risk: float
    gate: float
    cost_ratio: float
    under_routed: float
    settings: int  # (risk, gate) pairs evaluated


@dataclass(frozen=True)
class _Events:
    """Where each item's classifier level drops as the risk threshold rises (as in curve.py):
    3 -> 2 at p3, 2 -> 1 at p2 + p3. Independent of the gate, so sorted once."""

    item: I64  # sorted by value
    to_level: I64  # the level the item reaches: 2 or 1
    risks: F64  # candidate thresholds: 0 and each distinct event value in [0, 1], ascending
    applied: I64  # events at or below each candidate threshold


def _events(scores: F32) -> _Events:
    s = np.asarray(scores, dtype=np.float32)
    to1 = s[:, 1] + s[:, 2]  # f32 sum, as compared in the core
    to2 = s[:, 2]
    # A NaN never passes: its event never fires. An item with p2 < 0 (not a probability, but
    # tolerated) reaches tier 1 as soon as tier 2, so its 3 -> 2 drop cannot come later.
    to1 = np.where(np.isnan(to1), np.inf, to1)
    to2 = np.minimum(np.where(np.isnan(to2), np.inf, to2), to1)
    n = len(s)
    values = np.concatenate([to2, to1]).astype(np.float64)  # f32 -> f64 is exact
    item = np.concatenate([np.arange(n), np.arange(n)])
    to_level = np.concatenate([np.full(n, 2), np.full(n, 1)])
    # Stable, 3 -> 2 drops first: an item whose two drops tie still passes through level 2.
    order = np.argsort(values, kind="stable")
    values = values[order]
    # A threshold is a probability: events above 1 (a sum of 1 + 1e-7) are out of reach.
    risks = np.unique(np.concatenate([[0.0], values[(values >= 0.0) & (values <= 1.0)]]))
    applied = np.searchsorted(values, risks, side="right").astype(np.int64)
    return _Events(item=item[order], to_level=to_level[order].astype(np.int64), risks=risks, applied=applied)


def gate_candidates(confidence: F32, limit: int = MAX_GATES) -> F64:
    """Confidence thresholds worth trying: 0 (gate off) and each distinct confidence c, which
    gates every item below c; 1 gates all but certain items. Each is the highest threshold of
    the range that gates the same items on this file, so the safest of its equals elsewhere."""
    c = np.asarray(confidence, dtype=np.float32).astype(np.float64)
    c = c[np.isfinite(c) & (c >= 0.0) & (c <= 1.0)]
    values = np.unique(np.concatenate([[0.0, 1.0], c]))
    if len(values) > limit:
        keep = np.unique(np.round(np.linspace(0, len(values) - 1, limit)).astype(np.int64))
        values = values[keep]
    return values


def _level_tables(inputs: TierInputs, gate: float) -> tuple[F64, F64]:
    """(n, 3) cost and under-routed flag of each item when the classifier leaves level 1, 2, 3."""
    rows = np.arange(len(inputs.ideal))[:, None]
    bumped = gated(inputs.confidence, gate).astype(np.int64)[:, None]
    after_gate = np.minimum(np.array([[1, 2, 3]]) + bumped, 3)
    tiers = inputs.serve[rows, after_gate - 1]
    cost = inputs.costs[rows, tiers - 1]
    under = (inputs.ideal[:, None] > tiers).astype(np.float64)
    return cost, under


def sweep_gate(inputs: TierInputs, events: _Events, gate: float) -> tuple[F64, F64]:
    """Cost ratio and under-routed share at every risk threshold, for one gate setting: all
    items at level 3, plus the cost and under-routing each drop adds (one cumulative sum)."""
    cost, under = _level_tables(inputs, gate)
    # Level L is column L - 1: an event to level L leaves level L + 1, column L.
    src = events.to_level
    dst = events.to_level - 1
    d_cost = cost[events.item, dst] - cost[events.item, src]
    d_under = under[events.item, dst] - under[events.item, src]
    zero = np.zeros(1)
    cum_cost = np.concatenate([zero, np.cumsum(d_cost)])[events.applied]
    cum_under = np.concatenate([zero, np.cumsum(d_under)])[events.applied]
    total3 = inputs.costs[:, 2].sum()
    return (cost[:, 2].sum() + cum_cost) / total3, (under[:, 2].sum() + cum_under) / len(inputs.ideal)


def pick_setting(inputs: TierInputs, budget: float, gates: F64 | None = None) -> TierPick | None:
    """The cheapest (risk, gate) whose under-routed share is within `budget`; None if none is.

    Ties (equal cost to 1e-12) go to the lower under-routed share, then the lower risk
    threshold, then the higher confidence threshold: among settings equal on this file, the
    one that lets the fewest new items down.
    """
    events = _events(inputs.scores)
    gates = gate_candidates(inputs.confidence) if gates is None else gates
    best: tuple[float, float, float, float] | None = None  # (cost, under, risk, -gate)
    for gate in gates:
        ratio, under = sweep_gate(inputs, events, float(gate))
        feasible = under <= budget + EPS
        if not feasible.any():
            continue
        key = np.where(feasible, np.round(ratio, 12), np.inf)
        cheapest = key == key.min()
        # Risks ascend, so the first cheapest-and-least-under-routed one is also the lowest risk.
        k = int(np.flatnonzero(cheapest & (under == under[cheapest].min()))[0])
        candidate = (float(key[k]), float(under[k]), float(events.risks[k]), -float(gate))
        if best is None or candidate < best:
            best = candidate
    if best is None:
        return None
    cost, under_share, risk, neg_gate = best
    return TierPick(risk=risk, gate=-neg_gate, cost_ratio=cost, under_routed=under_share,
                    settings=len(gates) * len(events.risks))


def lowest_under_routing(inputs: TierInputs) -> float:
    """The least under-routing any setting reaches (risk 0, every item gated; each step only
    raises tiers as these do), for the message when a budget is out of reach."""
    return float((inputs.ideal > replica_tiers(inputs, 0.0, 1.0)).mean())


@dataclass(frozen=True)
class Spread:
    """Bootstrap 95 % percentile intervals of one fixed setting's figures."""

    cost_ratio: tuple[float, float]
    under_routed: tuple[float, float]


def bootstrap_settings(inputs: TierInputs, settings: Sequence[I64], resamples: int, seed: int) -> list[Spread | None]:
    """Each fixed setting's figures (`settings`: the tier served to each item) on the same
    resampled files, so current and calibrated are compared on equal draws; None for each when
    `resamples` is 0.

    Fixed, not re-picked per resample as eval golden's curve does: the question here is how
    the setting about to be deployed fares on traffic like this file, which is how the
    under-routing it meets in production spreads.
    """
    if resamples <= 0:
        return [None for _ in settings]
    n = len(inputs.ideal)
    rows = np.arange(n)
    costs = [inputs.costs[rows, tiers - 1] for tiers in settings]
    unders = [(inputs.ideal > tiers).astype(np.float64) for tiers in settings]
    ratio: list[list[F64]] = [[] for _ in settings]
    share: list[list[F64]] = [[] for _ in settings]
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, CHUNK):
        weights = _resample_weights(rng, min(CHUNK, resamples - start), n)
        total3 = weights @ inputs.costs[:, 2]
        for k in range(len(settings)):
            ratio[k].append((weights @ costs[k]) / total3)
            share[k].append((weights @ unders[k]) / n)
    return [Spread(cost_ratio=percentile_interval(np.concatenate(r)), under_routed=percentile_interval(np.concatenate(u)))
            for r, u in zip(ratio, share)]


def percentile_interval(values: F64) -> tuple[float, float]:
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)
