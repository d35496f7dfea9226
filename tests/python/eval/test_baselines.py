"""Each baseline trains on a tiny file and predicts; the embedding cache; label kinds kept apart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from router_tools.eval.baselines import (
    BASELINES,
    Corpus,
    argmax_tiers,
    cached_embeddings,
    fit_keywords,
    fit_knn,
    fit_length,
    fit_tfidf_lr,
    keyword_score,
    keyword_tier,
    run_baselines,
)
from router_tools.eval.compare import BaselineReport, Bootstrap, Pricing, baseline_report, label_kinds
from router_tools.eval.golden import TierPrice
from router_tools.train.dataset import GoldenItem

PRICES = {1: TierPrice(input_per_mtok=0.15, output_per_mtok=0.6),
          2: TierPrice(input_per_mtok=2.5, output_per_mtok=10.0),
          3: TierPrice(input_per_mtok=15.0, output_per_mtok=60.0)}

TIER1 = ["reset my password", "what is my balance", "set an alarm for seven", "turn off the lights",
         "play some jazz", "cancel my card", "book a table for two", "is the bank open today",
         "what time is it", "call my mother", "lost my card", "change my pin"]
TIER2 = ["write a friendly email to my team about the offsite we are planning for next week in the mountains",
         "draft a short warm note thanking our volunteers for the charity run they organised last weekend",
         "write a cover letter for a junior designer role at a small studio that makes children's books",
         "rewrite this paragraph so it sounds warmer and less formal for the company newsletter please",
         "draft an email to a landlord asking politely about the broken heater in the flat since monday",
         "write a toast for my sister's wedding that is funny but not embarrassing and under two minutes",
         "summarise the meeting notes below into five bullet points for the people who could not attend",
         "draft a short product description for a handmade ceramic mug with a speckled blue glaze finish",
         "write a polite reminder to a client whose invoice is now two weeks overdue without sounding rude",
         "rewrite the following announcement about the office move so that it is shorter and clearer",
         "draft a birthday message for a colleague who is retiring after thirty years at the company",
         "write a short story opening about a lighthouse keeper who finds a message in a bottle"]
TIER3 = ["explain why the halting problem is undecidable and analyze how the diagonal argument proves it rigorously",
         "compare quicksort and mergesort, analyze their worst case complexity and explain when each is preferable",
         "derive the closed form of the fibonacci sequence using generating functions and prove it by induction",
         "explain how does public key cryptography resist attacks and analyze the role of the discrete logarithm",
         "prove that there are infinitely many primes and explain why euclid's argument generalises to other rings",
         "analyze the trade-offs between eventual and strong consistency in distributed databases with examples",
         "explain why the central limit theorem holds and derive the conditions under which it fails to apply",
         "compare the legal doctrines of negligence and strict liability and analyze how courts apply each one",
         "design an algorithm to detect cycles in a directed graph and prove its correctness and complexity bound",
         "explain how does backpropagation compute gradients and analyze why vanishing gradients occur in deep nets",
         "evaluate the argument that free will is incompatible with determinism and critique the main objections",
         "derive the black scholes equation from first principles and explain why the hedging argument works"]


def items_of(groups: Sequence[Sequence[str]], prefix: str = "x") -> list[GoldenItem]:
    return [GoldenItem(id=f"{prefix}{t}-{i}", query=q, ideal_tier=t)  # type: ignore[arg-type]
            for t, texts in enumerate(groups, start=1) for i, q in enumerate(texts)]


def fake_embedding(text: str) -> np.ndarray:
    """A stand-in for the router's embedder: the tier's direction plus text-seeded noise."""
    tier = 1 if text in TIER1 else 2 if text in TIER2 else 3
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    v = rng.normal(0, 0.2, 8)
    v[tier - 1] += 1.0
    return v


def corpus(items: Sequence[GoldenItem]) -> Corpus:
    return Corpus(items=items, tokens=[len(it.query.split()) * 4 // 3 for it in items],
                  embed=lambda: np.stack([fake_embedding(it.query) for it in items]))


TRAIN = items_of([TIER1, TIER2, TIER3])


def check(pred_tiers: np.ndarray, scores: np.ndarray, n: int) -> None:
    assert pred_tiers.shape == (n,) and set(pred_tiers.tolist()) <= {1, 2, 3}
    assert scores.shape == (n, 3) and (scores >= 0).all()
    assert scores.sum(axis=1) == pytest.approx(np.ones(n))


def test_every_baseline_trains_and_predicts() -> None:
    train, test = corpus(TRAIN), corpus(TRAIN[::5])
    predictions = run_baselines(train, test)
    assert list(predictions) == list(BASELINES)
    for pred in predictions.values():
        check(pred.tiers, pred.scores, len(test.items))
    truth = test.tiers
    # the learned ones fit data this separable
    for name in ("tfidf_lr", "knn"):
        assert (predictions[name].tiers == truth).mean() >= 0.75, name
    assert (predictions["always_tier2"].tiers == 2).all()


def test_tfidf_lr_generalises_on_words() -> None:
    model = fit_tfidf_lr(corpus(TRAIN))
    unseen = items_of([["cancel the alarm"], ["write a friendly email to my aunt about the holidays"],
                       ["explain why and analyze how the proof of the theorem works"]], prefix="u")
    pred = model.predict(corpus(unseen))
    assert pred.tiers.tolist() == [1, 2, 3]
    assert model.c in (0.3, 1.0, 3.0, 10.0)


def test_length_is_monotone_in_tokens() -> None:
    model = fit_length(corpus(TRAIN))
    short, long_ = (Corpus(items=[GoldenItem(id="a", query="q", ideal_tier=1)], tokens=[t]) for t in (3, 400))
    assert model.predict(short).tiers.tolist() == [1]
    assert model.predict(long_).scores[0, 2] > model.predict(short).scores[0, 2]


def test_knn_uses_the_embeddings_and_picks_k_on_train() -> None:
    model = fit_knn(corpus(TRAIN), ks=(1, 3, 5))
    assert model.k in (1, 3, 5)
    pred = model.predict(corpus(TRAIN))
    assert (pred.tiers == corpus(TRAIN).tiers).all()
    assert (pred.scores > 0).all()  # smoothed: no tier is ever certain


def test_keyword_rules_as_written() -> None:
    assert keyword_tier(keyword_score("reset my password")) == 1
    assert keyword_tier(keyword_score("Translate 'good morning' into French")) == 1
    assert keyword_tier(keyword_score("Classify the sentiment of this review as positive or negative")) == 1
    assert keyword_tier(keyword_score("Write an email to my landlord about the broken heater in our flat")) == 2
    assert keyword_tier(keyword_score("Explain why the sky is blue and compare it with a sunset")) == 3
    assert keyword_tier(keyword_score("How does a hash map handle collisions in practice?")) == 3
    # the fitted part is only the meaning of each score: tiers stay the rules' own
    model = fit_keywords(corpus(TRAIN))
    pred = model.predict(corpus(items_of([["reset my password"], [], []], prefix="k")))
    assert pred.tiers.tolist() == [1] and pred.scores.sum() == pytest.approx(1.0)


def test_one_tier_training_falls_back_to_that_tier() -> None:
    only1 = corpus(items_of([TIER1]))
    test = corpus(TRAIN[:3])
    for fit in (fit_length, fit_tfidf_lr):
        pred = fit(only1).predict(test)
        assert pred.tiers.tolist() == [1, 1, 1] and pred.scores[:, 0].tolist() == [1.0, 1.0, 1.0]


def test_unknown_baseline_and_empty_training_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown baseline"):
        run_baselines(corpus(TRAIN), corpus(TRAIN), ["nope"])
    with pytest.raises(ValueError, match="empty"):
        run_baselines(Corpus(items=[], tokens=[]), corpus(TRAIN))


def test_argmax_ties_go_up() -> None:
    assert argmax_tiers(np.asarray([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [1.0, 0.0, 0.0]])).tolist() == [2, 3, 1]


def test_embeddings_are_cached_by_file_hash(tmp_path: Path) -> None:
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.stack([fake_embedding(t) for t in texts]).astype(np.float32)

    data = tmp_path / "train.jsonl"
    data.write_text("a\n")
    cache = tmp_path / "cache"
    first = cached_embeddings(data, TIER1, embed, cache, "emb1")
    again = cached_embeddings(data, TIER1, embed, cache, "emb1")
    assert calls == [len(TIER1)] and np.array_equal(first, again)
    data.write_text("b\n")  # another file: embedded afresh
    cached_embeddings(data, TIER1, embed, cache, "emb1")
    cached_embeddings(data, TIER1, embed, cache, "emb2")  # another embedder: likewise
    assert len(calls) == 3
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    assert cached_embeddings(data, TIER1, embed, blocked, "emb1").shape == first.shape  # cache skipped, not fatal


def test_label_kinds_are_scored_apart() -> None:
    items = [GoldenItem(id="s1", query="q", ideal_tier=1, spec_tier=1, source="intent"),
             GoldenItem(id="s2", query="q", ideal_tier=3, spec_tier=3, source="bench"),
             GoldenItem(id="o1", query="q", ideal_tier=2, spec_tier=3, outcome_tier=2, source="bench"),
             GoldenItem(id="n1", query="q", ideal_tier=3, outcome_tier=3, source="bench")]
    tiers = np.asarray([1, 3, 2, 3])
    scores = np.asarray([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2], [0.1, 0.2, 0.7]])
    pricing = Pricing(prices=PRICES, input_tokens=[10, 10, 10, 10], output_tokens=100)
    kinds = label_kinds(items, tiers, scores, pricing, Bootstrap(resamples=20))
    assert kinds.spec is not None and kinds.outcome is not None
    assert kinds.spec.n == 3 and kinds.outcome.n == 2
    # o1 is right by its outcome label (2) and under-routed by its spec label (3)
    assert kinds.outcome.accuracy == 1.0
    assert kinds.spec.under_routed == pytest.approx(1 / 3)
    assert set(kinds.spec.by_source) == {"intent", "bench"} and set(kinds.outcome.by_source) == {"bench"}
    plain = [GoldenItem(id="p", query="q", ideal_tier=1)]
    none = label_kinds(plain, tiers[:1], scores[:1], Pricing(PRICES, [10], 100), Bootstrap(resamples=5))
    assert none.spec is None and none.outcome is None


def test_baseline_report_json() -> None:
    train, test = corpus(TRAIN), corpus(TRAIN[::4])
    pred = run_baselines(train, test, ["keywords"])["keywords"]
    report = baseline_report(test.items, pred, Pricing(PRICES, list(test.tokens), 100), Bootstrap(resamples=20))
    doc = json.loads(report.model_dump_json())
    assert {"n", "accuracy", "under_routed", "cost_ratio", "confusion", "by_source", "curve", "labels"} <= set(doc)
    assert "latency_ms" not in doc
    assert [p["budget"] for p in doc["curve"]["points"]] == [0.01, 0.03, 0.05, 0.1]
    assert BaselineReport.model_validate(doc).n == len(test.items)
