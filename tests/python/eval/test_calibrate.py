"""`llm-router calibrate`: the tier decision's replica, both sweeps on constructed cases, bad
input, the policy it writes, and the command end to end on a small file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_baselines import TIER1, TIER2, TIER3
from test_eval_cli import write_jsonl

from router_py.cli import main
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.routing.engine import RoutingEngine
from router_tools.eval import calibrate as cal
from router_tools.eval.cache_sweep import (
    FunctionChecks,
    PairFileError,
    PairRow,
    PairScores,
    bootstrap_settings,
    index_similarity,
    load_pairs,
    pick_setting,
    score_pairs,
    served,
)
from router_tools.eval.cli import Embedder, evaluation_config
from router_tools.eval.files import load_eval_file
from router_tools.eval.tier_sweep import (
    TierInputs,
    Window,
    _events,
    gate_candidates,
    replica_tiers,
    serve_row,
    sweep_gate,
)
from router_tools.eval.tier_sweep import bootstrap_settings as tier_bootstrap
from router_tools.eval.tier_sweep import pick_setting as pick_tiers

# ---- the tier replica and sweep -------------------------------------------------------------


def reference_tier(scores: Sequence[float], confidence: float, risk: float, gate: float,
                   windows: Sequence[Window], moves: dict[int, int]) -> int:
    """rules.rs choose_tier + route.rs select_providers, written out item by item in f32."""
    p2, p3, r = np.float32(scores[1]), np.float32(scores[2]), np.float32(risk)
    tier = 1 if p2 + p3 <= r else 2 if p3 <= r else 3
    c = np.float32(confidence)
    if np.isnan(c) or c < np.float32(gate):
        tier = min(tier + 1, 3)
    for w in windows:
        tier = w.clamp(tier)
    return moves[tier]


def random_inputs(n: int, seed: int) -> tuple[TierInputs, list[list[Window]], list[dict[int, int]]]:
    rng = np.random.default_rng(seed)
    scores = rng.dirichlet([1.0, 1.0, 1.0], size=n).astype(np.float32)
    scores[:, 2] = np.round(scores[:, 2], 1)  # ties between items, and with thresholds
    confidence = rng.uniform(0, 1, n).astype(np.float32)
    confidence[::17] = np.nan
    choices = [[], [Window(min=3)], [Window(max=2)], [Window(min=3), Window(max=2)], [Window(min=2, max=2)]]
    windows = [choices[k] for k in rng.integers(0, len(choices), n)]
    move_choices = [{1: 1, 2: 2, 3: 3}, {1: 2, 2: 2, 3: 3}]
    moves = [move_choices[k] for k in rng.integers(0, 2, n)]
    tokens = rng.integers(5, 400, n)
    costs = np.stack([tokens * p for p in (0.15, 2.5, 15.0)], axis=1) / 1e6 + np.array([0.6, 10.0, 60.0]) * 256 / 1e6
    inputs = TierInputs(scores=scores, confidence=confidence,
                        serve=np.asarray([serve_row(w, m) for w, m in zip(windows, moves)], dtype=np.int64),
                        ideal=rng.integers(1, 4, n).astype(np.int64), costs=costs)
    return inputs, windows, moves


def test_replica_decides_as_the_rules_do() -> None:
    inputs, windows, moves = random_inputs(300, seed=1)
    for risk, gate in [(0.0, 0.0), (0.3, 0.5), (0.5, 0.45), (0.1, 1.0), (1.0, 0.2)]:
        want = [reference_tier(s, c, risk, gate, w, m)
                for s, c, w, m in zip(inputs.scores, inputs.confidence, windows, moves)]
        assert replica_tiers(inputs, risk, gate).tolist() == want


def test_replica_compares_in_f32() -> None:
    # p2 + p3 rounds down in f32: at a threshold of that f32 sum the core (f32) goes to tier 1,
    # where an f64 comparison would keep tier 2
    p2, p3 = np.float32(0.34), np.float32(0.32)
    bound = float(p2 + p3)
    assert not float(p2) + float(p3) <= bound
    inputs = TierInputs(scores=np.array([[0.34, p2, p3]], dtype=np.float32), confidence=np.ones(1, dtype=np.float32),
                        serve=np.array([[1, 2, 3]]), ideal=np.array([1]), costs=np.array([[1.0, 2.0, 3.0]]))
    assert replica_tiers(inputs, bound, 0.5).tolist() == [1]
    pick = pick_tiers(inputs, 0.5)
    assert pick is not None and pick.risk == bound and pick.cost_ratio == pytest.approx(1 / 3)


def brute_force(inputs: TierInputs, budget: float) -> tuple[float, float, float]:
    """(cost ratio, risk, gate) of the cheapest setting within budget, trying every pair."""
    values = np.concatenate([inputs.scores[:, 2], inputs.scores[:, 1] + inputs.scores[:, 2], [0.0]]).astype(np.float64)
    risks = np.unique(values[(values >= 0) & (values <= 1)])
    best = (np.inf, 0.0, 0.0)
    rows = np.arange(len(inputs.ideal))
    for gate in gate_candidates(inputs.confidence):
        for risk in risks:
            tiers = replica_tiers(inputs, float(risk), float(gate))
            if (inputs.ideal > tiers).mean() <= budget + 1e-12:
                ratio = inputs.costs[rows, tiers - 1].sum() / inputs.costs[:, 2].sum()
                if ratio < best[0] - 1e-12:
                    best = (ratio, float(risk), float(gate))
    return best


def test_every_swept_setting_is_the_replicas() -> None:
    inputs, _, _ = random_inputs(80, seed=6)
    events = _events(inputs.scores)
    rows = np.arange(len(inputs.ideal))
    for gate in (0.0, 0.3, 0.7, 1.0):
        ratio, under = sweep_gate(inputs, events, gate)
        for k, risk in enumerate(events.risks):
            tiers = replica_tiers(inputs, float(risk), gate)
            assert under[k] == pytest.approx((inputs.ideal > tiers).mean())
            assert ratio[k] == pytest.approx(inputs.costs[rows, tiers - 1].sum() / inputs.costs[:, 2].sum())


@pytest.mark.parametrize("budget", [0.05, 0.2, 0.3, 0.5])
def test_sweep_finds_the_cheapest_setting(budget: float) -> None:
    inputs, _, _ = random_inputs(60, seed=2)
    pick = pick_tiers(inputs, budget)
    ratio, _, _ = brute_force(inputs, budget)
    if pick is None:  # the caps under-route more than the budget whatever the setting
        assert ratio == np.inf and budget < 0.2
        return
    assert pick.cost_ratio == pytest.approx(ratio, abs=1e-9)
    tiers = replica_tiers(inputs, pick.risk, pick.gate)
    assert (inputs.ideal > tiers).mean() == pytest.approx(pick.under_routed) and pick.under_routed <= budget
    rows = np.arange(len(tiers))
    assert inputs.costs[rows, tiers - 1].sum() / inputs.costs[:, 2].sum() == pytest.approx(pick.cost_ratio)


def test_the_gate_pays_where_confidence_tells() -> None:
    # Two items with the same scores; the ideal-3 one has low confidence. Only the gate can
    # keep it at tier 3 while the other goes to tier 2: the risk threshold alone cannot split them.
    scores = np.array([[0.1, 0.6, 0.3], [0.1, 0.6, 0.3], [0.9, 0.05, 0.05]], dtype=np.float32)
    inputs = TierInputs(scores=scores, confidence=np.array([0.9, 0.2, 0.9], dtype=np.float32),
                        serve=np.tile([1, 2, 3], (3, 1)), ideal=np.array([2, 3, 1]),
                        costs=np.tile([1.0, 5.0, 20.0], (3, 1)))
    pick = pick_tiers(inputs, budget=0.01)
    assert pick is not None
    assert replica_tiers(inputs, pick.risk, pick.gate).tolist() == [2, 3, 1]
    assert pick.risk == pytest.approx(0.3) and pick.gate == pytest.approx(0.9)  # lowest risk, highest gate of equals
    assert pick.cost_ratio == pytest.approx(26 / 60)


def test_no_setting_when_overrides_cap_below_ideal() -> None:
    inputs = TierInputs(scores=np.array([[0.0, 0.0, 1.0]], dtype=np.float32), confidence=np.ones(1, dtype=np.float32),
                        serve=np.array([[2, 2, 2]]), ideal=np.array([3]), costs=np.array([[1.0, 2.0, 3.0]]))
    assert pick_tiers(inputs, 0.5) is None


def test_tier_intervals_hold_the_point_and_are_reproducible() -> None:
    inputs, _, _ = random_inputs(200, seed=3)
    tiers = [replica_tiers(inputs, 0.5, 0.45), replica_tiers(inputs, 0.2, 0.6)]
    spreads = tier_bootstrap(inputs, tiers, resamples=300, seed=0)
    assert spreads == tier_bootstrap(inputs, tiers, resamples=300, seed=0)
    for t, s in zip(tiers, spreads):
        assert s is not None
        under = (inputs.ideal > t).mean()
        assert s.under_routed[0] <= under <= s.under_routed[1]
    assert tier_bootstrap(inputs, tiers, resamples=0, seed=0) == [None, None]


# ---- the cache sweep ------------------------------------------------------------------------


def pair_scores(rows: Sequence[tuple[str, float, bool, float]]) -> PairScores:
    """(kind, similarity, refused by the guard, verifier score) per pair."""
    return PairScores(near_miss=np.array([k == "near_miss" for k, *_ in rows]),
                      similarity=np.array([s for _, s, _, _ in rows], dtype=np.float32),
                      refused=np.array([r for _, _, r, _ in rows]),
                      verifier=np.array([v for *_, v in rows], dtype=np.float32))


def test_cache_sweep_picks_most_paraphrases_within_budget() -> None:
    scores = pair_scores([
        ("paraphrase", 0.95, False, 0.9), ("paraphrase", 0.85, False, 0.8), ("paraphrase", 0.75, False, 0.7),
        ("paraphrase", 0.65, False, 0.2), ("paraphrase", 0.60, True, 0.9),
        ("near_miss", 0.90, True, 0.9),  # the guard refuses it whatever the thresholds
        ("near_miss", 0.80, False, 0.3),  # the verifier must stop it: it sits above two paraphrases
        ("near_miss", 0.70, False, 0.6),
    ])
    pick = pick_setting(scores, budget=0.01)
    assert pick is not None
    # verifier > 0.6 stops both near misses and keeps 3 paraphrases; similarity 0.75 is the
    # highest threshold that keeps them
    assert (pick.paraphrase_hits, pick.false_hits) == (3, 0)
    assert pick.similarity == pytest.approx(0.75, abs=1e-6) and pick.verifier == pytest.approx(0.7, abs=1e-6)
    hit = served(scores, pick.similarity, pick.verifier)
    assert hit.tolist() == [True, True, True, False, False, False, False, False]
    # one near miss in three buys nothing (the fourth paraphrase needs the verifier below both);
    # two in three do
    one = pick_setting(scores, budget=0.34)
    assert one is not None and (one.paraphrase_hits, one.false_hits) == (3, 0)
    two = pick_setting(scores, budget=0.67)
    assert two is not None and (two.paraphrase_hits, two.false_hits) == (4, 2)
    assert two.similarity == pytest.approx(0.65, abs=1e-6) and two.verifier == pytest.approx(0.2, abs=1e-6)
    # a near miss no check stops, more similar than every paraphrase: nothing meets 0 %
    assert pick_setting(pair_scores([("paraphrase", 0.5, False, 0.5), ("near_miss", 0.99, False, 0.99)]), 0.01) is None
    # a floor keeps the sweep off similarities the pairs cannot vouch for, whatever they gain
    floored = pick_setting(scores, budget=0.67, min_similarity=0.7)
    assert floored is not None and floored.similarity == pytest.approx(0.75, abs=1e-6)
    assert pick_setting(scores, budget=0.01, min_similarity=0.96) is None


def test_cache_sweep_matches_brute_force() -> None:
    rng = np.random.default_rng(4)
    rows = [("near_miss" if rng.random() < 0.5 else "paraphrase", float(rng.uniform(0.5, 1.0)),
             bool(rng.random() < 0.2), float(rng.uniform(0, 1))) for _ in range(80)]
    scores = pair_scores(rows)
    pick = pick_setting(scores, budget=0.05)
    assert pick is not None
    best = -1
    for s in np.unique(scores.similarity):
        for v in np.concatenate([[0.0], np.unique(scores.verifier)]):
            hit = served(scores, float(s), float(v))
            if hit[scores.near_miss].mean() <= 0.05:
                best = max(best, int(hit[~scores.near_miss].sum()))
    assert pick.paraphrase_hits == best
    hit = served(scores, pick.similarity, pick.verifier)
    assert (int(hit[~scores.near_miss].sum()), int(hit[scores.near_miss].sum())) == (pick.paraphrase_hits, pick.false_hits)


def test_cache_intervals_resample_within_each_kind() -> None:
    scores = pair_scores([("paraphrase", 0.9, False, 0.9)] * 30 + [("paraphrase", 0.5, False, 0.9)] * 10
                         + [("near_miss", 0.95, False, 0.9)] * 2 + [("near_miss", 0.5, False, 0.9)] * 98)
    hit = served(scores, 0.8, 0.0)
    (spread,) = bootstrap_settings(scores, [hit], resamples=400, seed=0)
    assert spread is not None
    assert spread.paraphrase_hit_rate[0] < 0.75 < spread.paraphrase_hit_rate[1]
    assert spread.false_hit_rate[0] <= 0.02 <= spread.false_hit_rate[1] < 0.1


def test_similarity_is_the_index_cosine() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(4, 16)).astype(np.float32), rng.normal(size=(4, 16)).astype(np.float32)
    want = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert np.allclose(index_similarity(a, b), want, atol=2e-3)


def test_pairs_are_scored_query_first() -> None:
    seen: list[tuple[str, str]] = []

    def guard(query: str, cached: str) -> str | None:
        seen.append((query, cached))
        return "number" if "2" in query else None

    checks = FunctionChecks(guard=guard, verifier=lambda q, c, s: s / 2)
    pairs = [PairRow(a="cached 1", b="new 2", kind="near_miss"), PairRow(a="x", b="y", kind="paraphrase")]
    vecs = np.eye(2, 4, dtype=np.float32)
    scores = score_pairs(pairs, vecs, vecs, checks)
    assert seen == [("new 2", "cached 1"), ("y", "x")]
    assert scores.refused.tolist() == [True, False] and scores.verifier.tolist() == [0.5, 0.5]


def test_pair_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"a": "x", "b": "y", "kind": "paraphrase"}\n\n{"a": "x", "b": \n')
    with pytest.raises(PairFileError, match=r"p.jsonl:3: malformed JSON"):
        load_pairs(bad)
    bad.write_text('{"a": "x", "b": "y", "kind": "same"}\n')
    with pytest.raises(PairFileError, match=r"p.jsonl:1: field 'kind'"):
        load_pairs(bad)
    bad.write_text('{"a": "x", "kind": "paraphrase"}\n')
    with pytest.raises(PairFileError, match=r"p.jsonl:1: missing field 'b'"):
        load_pairs(bad)
    bad.write_text("\n \n")
    with pytest.raises(PairFileError, match=r"p.jsonl: no pairs"):
        load_pairs(bad)
    bad.write_text('{"a": "x", "b": "y", "kind": "paraphrase", "source": "kept"}\n')
    with pytest.raises(PairFileError, match=r"p.jsonl: no near_miss pairs"):
        load_pairs(bad)


# ---- the command, on the real router ---------------------------------------------------------


def golden_rows(tenant: str | None = None) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for tier, texts in ((1, TIER1), (2, TIER2), (3, TIER3)):
        for i, q in enumerate(texts):
            row: dict[str, object] = {"id": f"t{tier}-{i}", "query": q, "ideal_tier": tier}
            if tenant is not None and i % 3 == 0:
                row["tenant"] = tenant
            rows.append(row)
    return rows


PAIRS: list[dict[str, object]] = [
    {"a": "reset my password", "b": "how do I reset my password", "kind": "paraphrase"},
    {"a": "what is my balance", "b": "show me my account balance", "kind": "paraphrase"},
    {"a": "set an alarm for seven", "b": "wake me up at seven", "kind": "paraphrase"},
    {"a": "turn off the lights", "b": "switch the lights off", "kind": "paraphrase", "note": "extra fields are fine"},
    {"a": "set an alarm for seven", "b": "set an alarm for eight", "kind": "near_miss"},
    {"a": "turn off the lights", "b": "turn on the lights", "kind": "near_miss"},
    {"a": "cancel my card", "b": "do not cancel my card", "kind": "near_miss"},
]


def fake_guard(query: str, cached: str) -> str | None:
    return "negation" if ("not" in query.split()) != ("not" in cached.split()) else None


def fake_verifier(query: str, cached: str, similarity: float) -> float:
    differ = set(query.split()) ^ set(cached.split())
    return 0.1 if differ & {"seven", "eight", "on", "off"} else 0.9


@pytest.fixture()
def seams(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A cheap embedder (vectors by word overlap) and deterministic checks in place of the
    router's: the cache sweep's wiring is under test here, not the models (the golden set
    still goes through the real router)."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        out = []
        for t in texts:
            v = np.zeros(64)
            for w in t.lower().split():
                v[sum(map(ord, w)) % 64] += 1.0
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)

    monkeypatch.setattr(cal, "pair_embedder", lambda max_tokens: Embedder(embed=embed, key="fake", cache_dir=None))
    monkeypatch.setattr(cal, "pair_checks", lambda: FunctionChecks(guard=fake_guard, verifier=fake_verifier))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["calibrate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def fail(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "", out
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", golden_rows())
    pairs = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "policy.yaml"
    w = ["--write-policy", str(out)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "query": "hi", "ideal_tier": 1}\n{"id": "b", "query": \n')
    assert "bad.jsonl:2: malformed JSON" in fail(capsys, str(bad), "--quality-slo", "0.03", *w)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert "empty.jsonl: no items" in fail(capsys, str(empty), "--quality-slo", "0.03", *w)
    typo = write_jsonl(tmp_path / "typo.jsonl", [{"id": "a", "query": "hi", "ideal_tier": 1, "tenat": "x"}])
    assert "typo.jsonl:1: unknown field(s) 'tenat'" in fail(capsys, str(typo), "--quality-slo", "0.03", *w)
    for q in ("0", "1", "1.5", "-0.1", "nan"):
        assert "--quality-slo must be a fraction in (0, 1)" in fail(capsys, str(good), "--quality-slo", q, *w)
    for b in ("0", "1", "3"):
        err = fail(capsys, str(good), "--quality-slo", "0.03", "--pairs", str(pairs), "--false-hit-budget", b, *w)
        assert "--false-hit-budget must be a fraction in (0, 1)" in err
    assert "needs --pairs" in fail(capsys, str(good), "--quality-slo", "0.03", "--false-hit-budget", "0.01")
    for floor in ("0", "1.5", "nan"):
        err = fail(capsys, str(good), "--quality-slo", "0.03", "--pairs", str(pairs), "--min-similarity", floor, *w)
        assert "--min-similarity must be in (0, 1]" in err
    bad_pairs = tmp_path / "bad_pairs.jsonl"
    bad_pairs.write_text('{"a": "x", "b": "y", "kind": "paraphrase"}\n{"a": 1}\n')
    assert "bad_pairs.jsonl:2:" in fail(capsys, str(good), "--quality-slo", "0.03", "--pairs", str(bad_pairs), *w)
    assert "no such file" in fail(capsys, str(good), "--quality-slo", "0.03", "--config", str(tmp_path / "nope"), *w)
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def config_dir(tmp_path: Path, edit: dict[str, object] | None = None) -> Path:
    """A copy of the embedded default, with `edit` merged into the policy's spec."""
    folder = tmp_path / "config"
    shutil.copytree(embedded_default_dir(), folder)
    if edit:
        policy = folder / "20-routing-policy.yaml"
        doc = yaml.safe_load(policy.read_text())
        for key, value in edit.items():
            doc["spec"].setdefault(key, {}).update(value)
        policy.write_text(yaml.safe_dump(doc))
    return folder


def test_no_setting_meets_the_slo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # every item of tenant "capped" is held at tier 1, and a third of the tier-2/3 items are theirs
    config = config_dir(tmp_path, {"overrides": {"tenants": [{"name": "cap", "tenant": "capped", "maxTier": 1}]}})
    golden = write_jsonl(tmp_path / "golden.jsonl", golden_rows(tenant="capped"))
    out = tmp_path / "policy.yaml"
    err = fail(capsys, str(golden), "--quality-slo", "0.05", "--config", str(config), "--write-policy", str(out))
    assert "no setting keeps under-routing within 5.00%" in err and "the least any reaches is 22.22%" in err
    assert not out.exists()


def test_writing_beside_the_live_policy_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_dir(tmp_path)
    golden = write_jsonl(tmp_path / "golden.jsonl", golden_rows())
    err = fail(capsys, str(golden), "--quality-slo", "0.05", "--config", str(config),
               "--write-policy", str(config / "30-calibrated.yaml"))
    assert "already holds a RoutingPolicy (20-routing-policy.yaml)" in err
    combined = tmp_path / "all.yaml"
    combined.write_text((config / "10-provider-tiers.yaml").read_text() + "---\n"
                        + (config / "20-routing-policy.yaml").read_text())
    err = fail(capsys, str(golden), "--quality-slo", "0.05", "--config", str(combined), "--write-policy", str(combined))
    assert "holds 3 other manifest(s)" in err
    err = fail(capsys, str(golden), "--quality-slo", "0.05", "--write-policy", str(tmp_path / "nope" / "p.yaml"))
    assert "no such folder" in err


def test_over_the_live_policy_in_a_watched_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_dir(tmp_path)
    golden = write_jsonl(tmp_path / "golden.jsonl", golden_rows())
    target = config / "20-routing-policy.yaml"
    code, text, err = run(capsys, str(golden), "--quality-slo", "0.2", "--config", str(config), "--write-policy",
                          str(target), "--resamples", "0", "--json")
    assert code == 0, err
    doc = json.loads(text)
    assert doc["tier"]["calibrated"]["cost_ratio_ci95"] is None and doc["cache"] is None
    loaded = load_config(config)  # what `serve --config` reads, one RoutingPolicy still
    assert loaded.policy.classifier.max_underroute_risk == doc["tier"]["calibrated"]["max_underroute_risk"]
    assert sorted(p.name for p in config.iterdir()) == ["10-provider-tiers.yaml", "20-routing-policy.yaml"]


def test_replica_agrees_with_the_router_under_overrides(tmp_path: Path) -> None:
    """Domain and tenant overrides and a residency move, decided by the router and by the
    replica at several settings (the router re-run with each applied)."""
    config = config_dir(tmp_path, {"overrides": {
        "tenants": [{"name": "cap", "tenant": "capped", "maxTier": 2}, {"name": "floor", "tenant": "vip", "minTier": 2}],
        "residency": [{"name": "eu", "tenant": "eu-co", "allowedRegions": ["eu-west-1"]}]}})
    tiers_file = config / "10-provider-tiers.yaml"
    docs = list(yaml.safe_load_all(tiers_file.read_text()))
    docs[0]["spec"]["providers"] = docs[0]["spec"]["providers"][:1]  # tier 1: us-east-1 only
    tiers_file.write_text(yaml.safe_dump_all(docs))
    rows = golden_rows()
    for i, row in enumerate(rows):
        row["tenant"] = ("capped", "vip", "eu-co", None)[i % 4]
    rows.append({"id": "legal", "query": "is this clause of my lease enforceable under contract law", "ideal_tier": 3})
    golden = write_jsonl(tmp_path / "golden.jsonl", rows)
    items = load_eval_file(golden)
    base = evaluation_config(config)
    engine = RoutingEngine.load(sessions=1)
    engine.apply(base)
    routed = cal.route_golden(engine, items)
    inputs = cal.tier_inputs(engine, base, items, routed)
    assert set(inputs.serve[:, 0].tolist()) >= {2}  # eu-co's tier 1 moves up
    for risk, gate in [(0.5, 0.45), (0.05, 0.9), (0.9, 0.0)]:
        classifier = base.policy.classifier.model_copy(update={"max_underroute_risk": risk, "confidence_threshold": gate})
        policy = base.policy.model_copy(update={"classifier": classifier})
        engine.apply(base.model_copy(update={"policy": policy}))
        again = cal.route_golden(engine, items)
        assert replica_tiers(inputs, risk, gate).tolist() == again.tiers.tolist(), (risk, gate)


def test_end_to_end_writes_a_policy_serve_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                seams: None) -> None:
    golden = write_jsonl(tmp_path / "golden.jsonl", golden_rows())
    pairs = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "deploy" / "policy.yaml"
    out.parent.mkdir()
    args = [str(golden), "--quality-slo", "0.1", "--pairs", str(pairs), "--false-hit-budget", "0.2",
            "--resamples", "50", "--write-policy", str(out)]
    code, text, err = run(capsys, *args, "--json")
    assert code == 0, err
    doc = json.loads(text)
    assert set(doc) == {"file", "sha256", "policy", "resamples", "seed", "tier", "cache", "written_policy"}
    tier, cache = doc["tier"], doc["cache"]
    assert tier["n"] == len(golden_rows()) and tier["quality_slo"] == 0.1
    assert tier["calibrated"]["under_routed"] <= 0.1 and tier["calibrated"]["cost_ratio"] <= 1.0
    assert tier["current"]["max_underroute_risk"] == 0.5 and tier["current"]["confidence_threshold"] == 0.45
    lo, hi = tier["calibrated"]["under_routed_ci95"]
    assert lo <= tier["calibrated"]["under_routed"] <= hi
    assert (cache["paraphrases"], cache["near_misses"]) == (4, 3)
    assert cache["calibrated"]["false_hit_rate"] <= 0.2
    live_semantic = load_config(embedded_default_dir()).policy.cache.semantic
    assert cache["current"]["similarity_threshold"] == pytest.approx(live_semantic.similarity_threshold)

    # the policy written loads through serve's loader beside the tiers, with the picked thresholds
    shutil.copy(embedded_default_dir() / "10-provider-tiers.yaml", out.parent)
    config = load_config(out.parent)
    assert config.policy.name == "default"
    assert config.policy.classifier.max_underroute_risk == tier["calibrated"]["max_underroute_risk"]
    assert config.policy.classifier.confidence_threshold == tier["calibrated"]["confidence_threshold"]
    assert config.policy.cache.semantic.similarity_threshold == cache["calibrated"]["similarity_threshold"]
    assert config.policy.cache.semantic.verifier_threshold == cache["calibrated"]["verifier_threshold"]
    live = load_config(embedded_default_dir()).policy
    assert config.policy.overrides == live.overrides and config.policy.limits == live.limits
    written = out.read_text()
    assert written.startswith("# Calibrated by `llm-router calibrate`")
    assert yaml.safe_load(written)["apiVersion"] == "llmrouter.io/v1alpha1"

    # the table: current beside calibrated, the same figures
    code, table, _ = run(capsys, *args[:-2])
    assert code == 0
    assert "current" in table and "calibrated" in table and "maxUnderrouteRisk" in table
    assert "false hits" in table and f"{tier['calibrated']['under_routed']:.1%}" in table
    assert "not written" in table


def test_the_routers_own_checks_on_a_few_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The real embedder, guard and verifier: every near miss here is one the guard refuses
    (another number, an opposite action, a negation), so all paraphrases can be served once the
    similarity floor is lowered (two of them, reworded, sit below the default one)."""
    real = cal.pair_embedder
    monkeypatch.setattr(cal, "pair_embedder", lambda max_tokens: Embedder(
        embed=real(max_tokens).embed, key="real", cache_dir=None))  # no cache file in the models folder
    golden = write_jsonl(tmp_path / "golden.jsonl", golden_rows())
    pairs = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    code, text, err = run(capsys, str(golden), "--quality-slo", "0.2", "--pairs", str(pairs), "--resamples", "20",
                          "--min-similarity", "0.1", "--json")
    assert code == 0, err
    cache = json.loads(text)["cache"]
    assert cache["calibrated"]["false_hits"] == 0 and cache["calibrated"]["paraphrase_hits"] == 4
    assert cache["min_similarity"] == 0.1
    assert cache["enabled"] and cache["current"]["false_hits"] == 0
