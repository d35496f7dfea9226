"""Golden-set report maths and the length-only baseline."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router_tools.eval.golden import GoldenReport, RoutedItem, TierPrice, golden_report, slice_report
from router_tools.train.dataset import TIERS, GoldenItem

PRICES = {1: TierPrice(input_per_mtok=0.15, output_per_mtok=0.6),
          2: TierPrice(input_per_mtok=2.5, output_per_mtok=10.0),
          3: TierPrice(input_per_mtok=15.0, output_per_mtok=60.0)}
OUT_TOKENS = 300

tiers = st.sampled_from(TIERS)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[GoldenItem], list[RoutedItem], list[int]]:
    n = draw(st.integers(1, 40))
    items, routed, tokens = [], [], []
    for i in range(n):
        tail = draw(st.booleans())
        items.append(GoldenItem(id=f"q{i}", query="text", ideal_tier=draw(tiers),
                                source=draw(st.sampled_from(["a", "b", "c", None])),
                                tags=("tail",) if tail else ()))
        p = draw(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3))
        scores = tuple(v / sum(p) for v in p)
        routed.append(RoutedItem(id=f"q{i}", tier=draw(tiers), reason="classifier",
                                 confidence=max(scores), scores=scores,  # type: ignore[arg-type]
                                 latency_ms=draw(st.floats(0, 50))))
        tokens.append(draw(st.integers(0, 4000)))
    return items, routed, tokens


@st.composite
def prices(draw: st.DrawFn) -> dict[int, TierPrice]:
    """Positive prices, non-decreasing with the tier like real ones."""
    ins = sorted(draw(st.lists(st.floats(0.01, 100), min_size=3, max_size=3)))
    outs = sorted(draw(st.lists(st.floats(0.01, 100), min_size=3, max_size=3)))
    return {t: TierPrice(input_per_mtok=ins[t - 1], output_per_mtok=outs[t - 1]) for t in (1, 2, 3)}


def with_tiers(routed: list[RoutedItem], tier_of: dict[str, int]) -> list[RoutedItem]:
    return [r.model_copy(update={"tier": tier_of[r.id]}) for r in routed]


@settings(max_examples=100, deadline=None)
@given(cases(), prices())
def test_report_invariants(case: tuple[list[GoldenItem], list[RoutedItem], list[int]],
                           price: dict[int, TierPrice]) -> None:
    items, routed, tokens = case
    report = golden_report(items, routed, price, tokens, OUT_TOKENS)
    n = len(items)
    assert report.n == n
    assert report.accuracy + report.under_routed + report.over_routed == pytest.approx(1.0)
    assert sum(map(sum, report.confusion)) == n
    for t in (1, 2, 3):
        assert sum(report.confusion[t - 1]) == sum(it.ideal_tier == t for it in items)
    assert sum(s.n for s in report.by_source.values()) == n
    n_tail = sum(it.is_tail for it in items)
    assert (report.tail is None) == (n_tail == 0)
    if report.tail is not None:
        assert report.tail.n == n_tail
    assert report.regret >= -1e-12
    assert report.cost_ratio > 0
    assert report.latency_ms.p50 <= report.latency_ms.p99
    assert [row.id for row in report.items] == [it.id for it in items]


@settings(max_examples=60, deadline=None)
@given(cases(), prices())
def test_always_tier_3_and_oracle(case: tuple[list[GoldenItem], list[RoutedItem], list[int]],
                                  price: dict[int, TierPrice]) -> None:
    items, routed, tokens = case
    all3 = golden_report(items, with_tiers(routed, {it.id: 3 for it in items}), price, tokens,
                         OUT_TOKENS)
    assert all3.cost_ratio == pytest.approx(1.0)
    assert all3.under_routed == 0
    oracle = golden_report(items, with_tiers(routed, {it.id: it.ideal_tier for it in items}),
                           price, tokens, OUT_TOKENS)
    assert oracle.accuracy == 1.0
    assert oracle.regret == pytest.approx(0.0, abs=1e-12)
    # always-tier-3 regret is exactly the saving the oracle would have made
    assert all3.regret == pytest.approx(1.0 - oracle.cost_ratio)
    assert all3.regret <= 1.0 + 1e-12


def test_regret_worked_example() -> None:
    items = [GoldenItem(id="a", query="q", ideal_tier=2), GoldenItem(id="b", query="q", ideal_tier=1)]
    flat = {t: TierPrice(input_per_mtok=0.0, output_per_mtok=float(p)) for t, p in
            ((1, 1), (2, 10), (3, 100))}
    routed = [RoutedItem(id="a", tier=1, reason="classifier", confidence=0.9,
                         scores=(0.9, 0.05, 0.05), latency_ms=1.0),
              RoutedItem(id="b", tier=3, reason="classifier", confidence=0.5,
                         scores=(0.2, 0.3, 0.5), latency_ms=3.0)]
    report = golden_report(items, routed, flat, [10, 10], output_tokens=1_000_000, under_penalty=1.0)
    # a: under-routed -> 1 (wasted tier-1 call) + 100 (penalty); b: over-routed -> 100 - 1
    assert report.regret == pytest.approx((1 + 100 + 99) / 200)
    assert report.cost_ratio == pytest.approx(101 / 200)
    assert report.confusion == [[0, 0, 1], [1, 0, 0], [0, 0, 0]]
    assert report.latency_ms.p50 == pytest.approx(2.0)


def test_json_has_the_documented_fields() -> None:
    items = [GoldenItem(id="a", query="q", ideal_tier=1, source="s", tags=("tail",))]
    routed = [RoutedItem(id="a", tier=1, reason="cache_exact", confidence=1.0,
                         scores=(1.0, 0.0, 0.0), latency_ms=0.4)]
    doc = json.loads(golden_report(items, routed, PRICES, [12], OUT_TOKENS).model_dump_json())
    figures = {"n", "accuracy", "under_routed", "over_routed", "cost_ratio", "regret",
               "confusion", "latency_ms"}
    assert set(doc) == figures | {"tail", "by_source", "items", "domains"}
    assert set(doc["tail"]) == figures and set(doc["by_source"]["s"]) == figures
    assert set(doc["latency_ms"]) == {"p50", "p99"}
    assert doc["items"] == [{"id": "a", "ideal_tier": 1, "tier": 1, "reason": "cache_exact",
                             "confidence": 1.0, "scores": [1.0, 0.0, 0.0], "domain": None}]
    assert doc["domains"] is None  # a cache hit has no classifier domain, and the item no label
    assert GoldenReport.model_validate(doc).n == 1


def test_domains_are_scored_against_labels() -> None:
    items = [GoldenItem(id="a", query="q", ideal_tier=3, source="s", domain="legal"),
             GoldenItem(id="b", query="q", ideal_tier=1, source="s", domain="general"),
             GoldenItem(id="c", query="q", ideal_tier=1, source="t")]
    routed = [RoutedItem(id=i, tier=1, reason="classifier", confidence=1.0, scores=(1.0, 0.0, 0.0),
                         latency_ms=0.1, domain="general") for i in "abc"]
    doc = json.loads(golden_report(items, routed, PRICES, [5, 5, 5], OUT_TOKENS).model_dump_json())
    assert doc["domains"]["n"] == 2 and doc["domains"]["accuracy"] == 0.5
    assert doc["domains"]["per_domain"]["legal"] == {"support": 1, "predicted": 0, "precision": None,
                                                     "recall": 0.0}
    assert list(doc["domains"]["by_source"]) == ["s"]  # "t" has no labelled item
    assert [it["domain"] for it in doc["items"]] == ["general"] * 3


def test_mismatched_ids_are_rejected() -> None:
    items = [GoldenItem(id="a", query="q", ideal_tier=1)]
    routed = [RoutedItem(id="b", tier=1, reason="classifier", confidence=1.0,
                         scores=(1.0, 0.0, 0.0), latency_ms=0.0)]
    with pytest.raises(ValueError, match="missing \\['a'\\], unexpected \\['b'\\]"):
        golden_report(items, routed, PRICES, [1], OUT_TOKENS)


def test_bad_inputs_are_rejected() -> None:
    items = [GoldenItem(id="a", query="q", ideal_tier=1)]
    routed = [RoutedItem(id="a", tier=1, reason="classifier", confidence=1.0,
                         scores=(1.0, 0.0, 0.0), latency_ms=0.0)]
    with pytest.raises(ValueError, match="token counts"):
        golden_report(items, routed, PRICES, [1, 2], OUT_TOKENS)
    with pytest.raises(ValueError, match="no price"):
        golden_report(items, routed, {1: PRICES[1]}, [1], OUT_TOKENS)
    with pytest.raises(ValueError, match="empty"):
        golden_report([], [], PRICES, [], OUT_TOKENS)
    with pytest.raises(ValueError, match="zero items"):
        slice_report([], [], [], [], PRICES, OUT_TOKENS)
