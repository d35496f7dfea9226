"""Head training, calibration and ONNX export on synthetic embeddings (no real embedder)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from numpy.typing import NDArray

from router_tools.train.dataset import DOMAINS, TIERS, GoldenItem
from router_tools.train.export import DOMAIN_OUTPUT, INPUT, TIER_OUTPUT, export_head
from router_tools.train.head import (
    MISSING,
    HeadConfig,
    expected_calibration_error,
    fit_head,
    fit_temperature,
    forward,
    nll,
    predict_proba,
    softmax,
    tier_cost_matrix,
)
from router_tools.train.train import domain_scale, label_arrays, train_head

DIM = 384
FAST = HeadConfig(hidden=32, epochs=30, batch_size=64)


def unit(x: NDArray[np.float64]) -> NDArray[np.float32]:
    out: NDArray[np.float32] = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


def blobs(n: int, noise: float, seed: int) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.int64]]:
    """Tier and domain each shift the embedding along their own direction."""
    rng = np.random.default_rng(seed)
    tier_dirs = rng.standard_normal((len(TIERS), DIM))
    dom_dirs = rng.standard_normal((len(DOMAINS), DIM))
    tier = rng.integers(0, len(TIERS), n)
    domain = rng.integers(0, len(DOMAINS), n)
    x = tier_dirs[tier] + 0.7 * dom_dirs[domain] + noise * rng.standard_normal((n, DIM))
    return unit(x), tier.astype(np.int64), domain.astype(np.int64)


def overlapping(n: int, seed: int) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.int64]]:
    """Tiers on one noisy axis, so neighbouring tiers overlap and some errors are unavoidable."""
    rng = np.random.default_rng(seed)
    axis = unit(rng.standard_normal((1, DIM)))[0]
    tier = rng.integers(0, len(TIERS), n)
    score = tier + rng.normal(0, 0.8, n)
    x = score[:, None] * axis + 0.05 * rng.standard_normal((n, DIM))
    return x.astype(np.float32), tier.astype(np.int64), rng.integers(0, len(DOMAINS), n).astype(np.int64)


def synthetic_items(n: int, seed: int = 0) -> list[GoldenItem]:
    rng = np.random.default_rng(seed)
    return [
        GoldenItem(id=f"i{i}", query=f"query {i} {'x' * int(rng.integers(0, 50))}",
                   ideal_tier=TIERS[i % 3], domain=DOMAINS[i % len(DOMAINS)] if i % 7 else None)
        for i in range(n)
    ]


def hash_embed(texts: Sequence[str]) -> NDArray[np.float32]:
    """Deterministic stand-in embedder: tier-dependent direction recovered from the item number."""
    centres = np.random.default_rng(42).standard_normal((3, DIM))
    rows = []
    for text in texts:
        number = int(text.split()[1])
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        rows.append(centres[number % 3] + 0.8 * np.random.default_rng(seed).standard_normal(DIM))
    return unit(np.array(rows))


def test_cost_matrix_penalises_under_routing_more() -> None:
    cost = tier_cost_matrix(HeadConfig(under_cost=1.0, over_cost=0.25))
    assert np.allclose(np.diag(cost), 0)
    assert cost[2, 0] == 2.0 and cost[0, 2] == 0.5 and cost[1, 0] == 1.0


def test_learns_separable_data() -> None:
    x, tier, domain = blobs(600, noise=0.3, seed=1)
    params = fit_head(x[:500], tier[:500], domain[:500], len(DOMAINS), FAST, seed=0)
    tier_logits, dom_logits = forward(params, x[500:])
    assert (tier_logits.argmax(1) == tier[500:]).mean() > 0.95
    assert (dom_logits.argmax(1) == domain[500:]).mean() > 0.9


def test_missing_domains_are_ignored() -> None:
    x, tier, domain = blobs(300, noise=0.3, seed=2)
    domain[:] = MISSING
    params = fit_head(x, tier, domain, len(DOMAINS), FAST, seed=0)
    assert np.isfinite(params.w_domain).all()
    assert (forward(params, x)[0].argmax(1) == tier).mean() > 0.95


def test_training_is_deterministic() -> None:
    x, tier, domain = blobs(300, noise=0.5, seed=3)
    a = fit_head(x, tier, domain, len(DOMAINS), FAST, seed=7)
    b = fit_head(x, tier, domain, len(DOMAINS), FAST, seed=7)
    c = fit_head(x, tier, domain, len(DOMAINS), FAST, seed=8)
    assert np.array_equal(a.w1, b.w1) and np.array_equal(a.w_tier, b.w_tier)
    assert not np.array_equal(a.w1, c.w1)


def test_cost_term_reduces_under_routing() -> None:
    x, tier, domain = overlapping(900, seed=4)
    plain = replace(FAST, cost_weight=0.0)
    costly = replace(FAST, cost_weight=3.0, under_cost=2.0)
    rates = []
    for config in (plain, costly):
        params = fit_head(x[:600], tier[:600], domain[:600], len(DOMAINS), config, seed=0)
        pred = forward(params, x[600:])[0].argmax(1)
        rates.append((pred < tier[600:]).mean())
    assert rates[1] < 0.5 * rates[0]


def test_temperature_reduces_nll_of_overconfident_logits() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 2000)
    logits = rng.standard_normal((2000, 3))
    logits[np.arange(2000), labels] += 1.0
    overconfident = logits * 6.0
    t = fit_temperature(overconfident, labels)
    assert t > 1.5
    assert nll(overconfident, labels, t) < nll(overconfident, labels) - 0.1
    # T is the minimiser: nudging it either way does not help
    assert nll(overconfident, labels, t) <= min(nll(overconfident, labels, t * 1.05),
                                                nll(overconfident, labels, t / 1.05)) + 1e-9
    after = expected_calibration_error(softmax(overconfident / t), labels)
    assert after < expected_calibration_error(softmax(overconfident), labels)


def test_temperature_on_trained_head_does_not_raise_validation_nll() -> None:
    x, tier, domain = blobs(800, noise=1.5, seed=6)
    params = fit_head(x[:600], tier[:600], domain[:600], len(DOMAINS), FAST, seed=0)
    logits = forward(params, x[600:])[0]
    t = fit_temperature(logits, tier[600:])
    assert nll(logits, tier[600:], t) <= nll(logits, tier[600:]) + 1e-12


def test_ece_is_zero_for_calibrated_one_hot() -> None:
    labels = np.array([0, 1, 2, 1])
    assert expected_calibration_error(np.eye(3)[labels], labels) == pytest.approx(0.0)
    assert expected_calibration_error(np.eye(3)[(labels + 1) % 3], labels) == pytest.approx(1.0)


def test_onnx_export_matches_numpy(tmp_path: Path) -> None:
    x, tier, domain = blobs(200, noise=0.8, seed=7)
    params = fit_head(x, tier, domain, len(DOMAINS), FAST, seed=0)
    onnx_path, meta_path = export_head(params, DOMAINS, 1.7, 0.6, {"n": 200}, tmp_path)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [INPUT]
    assert [o.name for o in session.get_outputs()] == [TIER_OUTPUT, DOMAIN_OUTPUT]
    for batch in (x[:1], x):  # the batch dimension is dynamic
        tier_onnx, dom_onnx = session.run([TIER_OUTPUT, DOMAIN_OUTPUT], {INPUT: batch})
        tier_np, dom_np = predict_proba(params, batch, 1.7, 0.6)
        assert tier_onnx.dtype == np.float32 and tier_onnx.shape == (len(batch), 3)
        assert dom_onnx.shape == (len(batch), len(DOMAINS))
        assert np.abs(tier_onnx - tier_np).max() < 1e-5
        assert np.abs(dom_onnx - dom_np).max() < 1e-5
    meta = json.loads(meta_path.read_text())
    assert meta == {"format": 1, "dim": DIM, "tiers": [1, 2, 3], "domains": list(DOMAINS),
                    "temperature_tier": 1.7, "temperature_domain": 0.6, "train": {"n": 200}}


def test_train_head_end_to_end(tmp_path: Path) -> None:
    items = synthetic_items(240)
    report = train_head(items, hash_embed, tmp_path / "a", seed=3, config=FAST)
    assert report.n == 240 and report.n_train + report.n_val == 240
    assert report.val_accuracy > 0.8
    assert report.val_nll_after <= report.val_nll_before + 1e-12
    assert report.val_accuracy == pytest.approx(1 - report.val_under_routed - report.val_over_routed)
    meta = json.loads(report.metadata_path.read_text())
    assert meta["train"] == {"n": 240, "data_sha256": report.data_sha256,
                             "val_ece_before": report.val_ece_before,
                             "val_ece_after": report.val_ece_after,
                             "val_accuracy": report.val_accuracy}
    assert meta["temperature_tier"] == report.temperature_tier
    again = train_head(items, hash_embed, tmp_path / "b", seed=3, config=FAST)
    assert report.onnx_path.read_bytes() == again.onnx_path.read_bytes()
    assert report.data_sha256 == again.data_sha256


def test_train_head_rejects_unknown_domain(tmp_path: Path) -> None:
    items = synthetic_items(30)
    items[4] = items[4].model_copy(update={"domain": "astrology"})
    with pytest.raises(ValueError, match="unknown domain"):
        train_head(items, hash_embed, tmp_path, config=FAST)


def test_train_head_rejects_bad_embedder_output(tmp_path: Path) -> None:
    def short(texts: Sequence[str]) -> NDArray[np.float32]:
        return np.zeros((len(texts) - 1, DIM), np.float32)

    with pytest.raises(ValueError, match="embedder returned shape"):
        train_head(synthetic_items(30), short, tmp_path, config=FAST)


def test_domain_scale_weights_read_items_up_to_their_share() -> None:
    items = [GoldenItem(id=f"i{i}", query="q", ideal_tier=1, domain="general",
                        source="authored_domains" if i < 10 else "clinc150") for i in range(100)]
    items[99] = items[99].model_copy(update={"domain": None})  # unlabelled: counts on neither side
    _, domain = label_arrays(items)
    scale = domain_scale(items, domain, 0.5)
    assert scale is not None
    assert scale[:10] == pytest.approx([89 / 10] * 10) and (scale[10:] == 1).all()
    weight = scale * (domain != MISSING)
    assert weight[:10].sum() == pytest.approx(weight[10:].sum())  # half of the labelled weight
    assert domain_scale(items, domain, 0.05) is None  # 10 of 99 already count for more than 5 %
    assert domain_scale(items[10:], domain[10:], 0.5) is None  # no read items
    with pytest.raises(ValueError, match="read_domain_share"):
        domain_scale(items, domain, 1.0)


def test_domain_scale_decides_between_conflicting_labels() -> None:
    x, tier, domain = blobs(300, noise=0.3, seed=4)
    other = (domain + 1) % len(DOMAINS)  # the same queries, labelled otherwise
    xx, tt, dd = np.concatenate([x, x]), np.concatenate([tier, tier]), np.concatenate([domain, other])
    assert np.array_equal(fit_head(x, tier, domain, len(DOMAINS), FAST, seed=0).w_domain,
                          fit_head(x, tier, domain, len(DOMAINS), FAST, seed=0, domain_scale=np.ones(300)).w_domain)
    for favoured, labels in ((0, domain), (1, other)):
        scale = np.ones(600)
        scale[favoured * 300:(favoured + 1) * 300] = 10.0
        params = fit_head(xx, tt, dd, len(DOMAINS), FAST, seed=0, domain_scale=scale)
        assert (forward(params, x)[1].argmax(axis=1) == labels).mean() > 0.9
    with pytest.raises(ValueError, match="one non-negative factor per item"):
        fit_head(x, tier, domain, len(DOMAINS), FAST, seed=0, domain_scale=np.ones(3))
