"""The cost-vs-safety curve: the threshold sweep, the per-budget pick, and its bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router_tools.eval.curve import classifier_tiers, cost_curve, sweep

# Every item costs 1 at tier 1, 10 at tier 2, 100 at tier 3: cost ratios are easy to read.
FLAT = np.asarray([[1.0, 10.0, 100.0]] * 4)
# (scores, ideal): risk of tier 1 = p2 + p3, risk of tier 2 = p3.
HAND = [
    ((0.90, 0.08, 0.02), 1),  # A: tier 2 from 0.02, tier 1 from 0.10
    ((0.60, 0.30, 0.10), 2),  # B: tier 2 from 0.10, tier 1 (under-routed) from 0.40
    ((0.10, 0.30, 0.60), 3),  # C: tier 2 (under) from 0.60, tier 1 from 0.90
    ((0.50, 0.30, 0.20), 1),  # D: tier 2 from 0.20, tier 1 from 0.50
]


def hand() -> tuple[np.ndarray, np.ndarray]:
    return np.asarray([s for s, _ in HAND]), np.asarray([y for _, y in HAND])


def test_sweep_walks_every_setting_of_the_hand_example() -> None:
    scores, ideal = hand()
    s = sweep(scores, ideal, FLAT)
    assert s.thresholds.tolist() == pytest.approx([0.0, 0.02, 0.1, 0.2, 0.4, 0.5, 0.6, 0.9])
    # costs at each setting: 400, 310, 211, 121, 112, 103, 13, 4 (of 400)
    assert s.cost_ratio.tolist() == pytest.approx([1.0, 0.775, 0.5275, 0.3025, 0.28, 0.2575, 0.0325, 0.01])
    assert s.under_routed.tolist() == pytest.approx([0, 0, 0, 0, 0.25, 0.25, 0.5, 0.5])


def test_curve_picks_the_cheapest_setting_within_each_budget() -> None:
    scores, ideal = hand()
    curve = cost_curve(scores, ideal, FLAT, budgets=(0.0, 0.25, 0.5), resamples=50, seed=1)
    got = [v for p in curve.points for v in (p.budget, p.cost_ratio, p.under_routed, p.threshold)]
    assert got == pytest.approx([0.0, 0.3025, 0.0, 0.2, 0.25, 0.2575, 0.25, 0.5, 0.5, 0.01, 0.5, 0.9])


def test_a_budget_no_threshold_meets_is_null() -> None:
    # Scores that never leave tier 2 (always-tier-2): the tier-3 item is always under-routed.
    scores = np.asarray([[0.0, 1.0, 0.0]] * 4)
    ideal = np.asarray([1, 2, 3, 2])
    curve = cost_curve(scores, ideal, FLAT, budgets=(0.1, 0.25), resamples=30)
    none, ok = curve.points
    assert none.cost_ratio is None and none.ci95 is None and none.threshold is None
    assert ok.cost_ratio == pytest.approx(40 / 400) and ok.under_routed == pytest.approx(0.25)


def random_case(seed: int, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.dirichlet([1.0, 1.0, 1.0], size=n)
    ideal = rng.integers(1, 4, size=n)
    tokens = rng.integers(1, 400, size=n).astype(float)
    costs = np.stack([tokens * 0.15 + 180, tokens * 2.5 + 3000, tokens * 15 + 18000], axis=1)
    return scores, ideal, costs


def test_bootstrap_is_deterministic_and_contains_the_point() -> None:
    scores, ideal, costs = random_case(7)
    a = cost_curve(scores, ideal, costs, resamples=300, seed=3)
    b = cost_curve(scores, ideal, costs, resamples=300, seed=3)
    assert a == b
    for p in a.points:
        assert p.cost_ratio is not None and p.ci95 is not None
        assert p.ci95[0] <= p.cost_ratio <= p.ci95[1]
        assert p.ci95[0] < p.ci95[1]  # 120 items: resampling moves the pick
    other = cost_curve(scores, ideal, costs, resamples=300, seed=4)
    assert [p.cost_ratio for p in other.points] == [p.cost_ratio for p in a.points]  # the point is not resampled


def test_no_resamples_gives_no_interval() -> None:
    scores, ideal = hand()
    curve = cost_curve(scores, ideal, FLAT, budgets=(0.0,), resamples=0)
    assert curve.points[0].cost_ratio == pytest.approx(0.3025) and curve.points[0].ci95 is None


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40))
def test_sweep_matches_the_policy_rule_at_every_setting(seed: int, n: int) -> None:
    scores, ideal, costs = random_case(seed, n)
    # Ties between items and exact 0/1 scores: where the cumulative bookkeeping could slip.
    scores[: n // 3] = np.round(scores[: n // 3], 1)
    scores /= scores.sum(axis=1, keepdims=True)
    s = sweep(scores, ideal, costs)
    rows = np.arange(n)
    for threshold, ratio, under in zip(s.thresholds, s.cost_ratio, s.under_routed):
        tiers = classifier_tiers(scores, float(threshold))
        assert ratio == pytest.approx(costs[rows, tiers - 1].sum() / costs[:, 2].sum())
        assert under == pytest.approx((tiers < ideal).mean())
    # and the pick is the brute-force best over those settings
    curve = cost_curve(scores, ideal, costs, resamples=0)
    for p in curve.points:
        feasible = s.under_routed <= p.budget + 1e-12
        if not feasible.any():  # a score of exactly 0 for tier 3 keeps tier 3 out of reach
            assert p.cost_ratio is None
        else:
            assert p.cost_ratio == pytest.approx(s.cost_ratio[feasible].min())


def test_classifier_tiers_is_the_cores_rule() -> None:
    scores = np.asarray([[0.8, 0.15, 0.05], [0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    # risk(tier 1) = p2 + p3, risk(tier 2) = p3; cheapest tier whose risk <= threshold
    assert classifier_tiers(scores, 0.3).tolist() == [1, 2, 3]
    assert classifier_tiers(scores, 0.2).tolist() == [1, 2, 3]
    assert classifier_tiers(scores, 0.19).tolist() == [2, 3, 3]
    assert classifier_tiers(scores, 1.0).tolist() == [1, 1, 1]


def test_frontier_is_monotone() -> None:
    scores, ideal, costs = random_case(11)
    under, cost = sweep(scores, ideal, costs).frontier()
    assert (np.diff(under) > 0).all() and (np.diff(cost) <= 1e-12).all()
