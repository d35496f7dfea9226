"""Train the classifier head from golden items and write head.onnx + head.json."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from router_tools.train.dataset import DOMAINS, READ_DOMAIN_SOURCES, TIERS, GoldenItem
from router_tools.train.export import export_head
from router_tools.train.head import (
    MISSING,
    HeadConfig,
    HeadParams,
    expected_calibration_error,
    fit_head,
    fit_temperature,
    forward,
    nll,
    softmax,
)

Embedder = Callable[[Sequence[str]], NDArray[np.floating]]

EMBED_BATCH = 256  # bounds the memory of one embedder call
VAL_SHARE = 0.15
MIN_ITEMS = 20


class TrainReport(BaseModel):
    """What a training run produced; the val_* figures are on the validation part only."""

    n: int
    n_train: int
    n_val: int
    data_sha256: str
    temperature_tier: float
    temperature_domain: float
    val_nll_before: float
    val_nll_after: float
    val_ece_before: float
    val_ece_after: float
    val_accuracy: float
    val_under_routed: float
    val_over_routed: float
    val_domain_accuracy: float | None
    onnx_path: Path
    metadata_path: Path
    seconds: float


def data_sha256(items: Sequence[GoldenItem]) -> str:
    """Hash of what training sees (id, query, ideal_tier, domain, in order), to tie a head to its data."""
    digest = hashlib.sha256()
    for it in items:
        record = [it.id, it.query, it.ideal_tier, it.domain]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def embed_all(items: Sequence[GoldenItem], embed: Embedder) -> NDArray[np.float32]:
    chunks = []
    for start in range(0, len(items), EMBED_BATCH):
        texts = [it.query for it in items[start:start + EMBED_BATCH]]
        out = np.asarray(embed(texts), dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != len(texts):
            raise ValueError(f"embedder returned shape {out.shape} for {len(texts)} texts")
        chunks.append(out)
    x = np.concatenate(chunks)
    if not np.isfinite(x).all():
        raise ValueError("embedder returned non-finite values")
    return x


def label_arrays(items: Sequence[GoldenItem]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """0-based tier indices and domain indices (MISSING where an item has no domain)."""
    unknown = sorted({it.domain for it in items if it.domain is not None and it.domain not in DOMAINS})
    if unknown:
        raise ValueError(f"unknown domain(s) {unknown}; expected one of {list(DOMAINS)}")
    tier = np.array([TIERS.index(it.ideal_tier) for it in items], dtype=np.int64)
    domain = np.array([DOMAINS.index(it.domain) if it.domain else MISSING for it in items],
                      dtype=np.int64)
    return tier, domain


def domain_scale(items: Sequence[GoldenItem], domain: NDArray[np.int64], share: float) -> NDArray[np.float64] | None:
    """Per-item factor on the domain loss (before class balancing): items from
    READ_DOMAIN_SOURCES are weighted up until they count as `share` of the labelled items.
    A few hundred against thousands of source-default labels, they would otherwise barely
    move a head that can score well by learning each source's style. None (no reweighting)
    when either kind is absent or the read items already count as `share` or more."""
    if not 0 <= share < 1:
        raise ValueError(f"read_domain_share must be in [0, 1), got {share}")
    known = domain != MISSING
    read = known & np.array([it.source in READ_DOMAIN_SOURCES for it in items], dtype=bool)
    n_read, n_other = int(read.sum()), int((known & ~read).sum())
    if n_read == 0 or n_other == 0:
        return None
    factor = share / (1 - share) * n_other / n_read
    if factor <= 1:
        return None
    scale = np.ones(len(items))
    scale[read] = factor
    return scale


def validation_split(tier: NDArray[np.int64], seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Train/validation indices, stratified by tier so every tier is calibrated."""
    rng = np.random.default_rng([seed, 1])
    train_idx, val_idx = [], []
    for t in range(len(TIERS)):
        members = rng.permutation(np.flatnonzero(tier == t))
        n_val = int(round(len(members) * VAL_SHARE))
        val_idx.append(members[:n_val])
        train_idx.append(members[n_val:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(val_idx))


def routing_rates(pred: NDArray[np.int64], truth: NDArray[np.int64]) -> tuple[float, float, float]:
    """Accuracy, under-routed share, over-routed share."""
    return (float((pred == truth).mean()), float((pred < truth).mean()),
            float((pred > truth).mean()))


def domain_accuracy(params: HeadParams, x: NDArray[np.float32],
                    domain: NDArray[np.int64]) -> float | None:
    known = domain != MISSING
    if not known.any():
        return None
    _, logits = forward(params, x[known])
    return float((logits.argmax(axis=1) == domain[known]).mean())


def train_head(
    items: Sequence[GoldenItem],
    embed: Embedder,
    out_dir: Path,
    seed: int = 0,
    config: HeadConfig = HeadConfig(),
) -> TrainReport:
    """Embed, train, calibrate on a validation part carved out of `items`, export.

    `embed` maps texts to L2-normalised embeddings [n, dim]; in the product it
    is the Rust core's batch embedder, so the head sees exactly what it will
    see when serving.
    """
    started = time.perf_counter()
    if len(items) < MIN_ITEMS:
        raise ValueError(f"need at least {MIN_ITEMS} items to train, got {len(items)}")
    tier, domain = label_arrays(items)
    x = embed_all(items, embed)
    tr, va = validation_split(tier, seed)
    scale = domain_scale([items[i] for i in tr], domain[tr], config.read_domain_share)
    params = fit_head(x[tr], tier[tr], domain[tr], len(DOMAINS), config, seed, scale)

    tier_logits, domain_logits = forward(params, x[va])
    t_tier = fit_temperature(tier_logits, tier[va])
    known = domain[va] != MISSING
    t_domain = fit_temperature(domain_logits[known], domain[va][known]) if known.any() else 1.0
    ece_before = expected_calibration_error(softmax(tier_logits), tier[va])
    ece_after = expected_calibration_error(softmax(tier_logits / t_tier), tier[va])
    accuracy, under, over = routing_rates(tier_logits.argmax(axis=1), tier[va])

    sha = data_sha256(items)
    train_meta = {"n": len(items), "data_sha256": sha, "val_ece_before": ece_before,
                  "val_ece_after": ece_after, "val_accuracy": accuracy}
    onnx_path, meta_path = export_head(params, DOMAINS, t_tier, t_domain, train_meta, out_dir)
    return TrainReport(
        n=len(items), n_train=len(tr), n_val=len(va), data_sha256=sha,
        temperature_tier=t_tier, temperature_domain=t_domain,
        val_nll_before=nll(tier_logits, tier[va]), val_nll_after=nll(tier_logits, tier[va], t_tier),
        val_ece_before=ece_before, val_ece_after=ece_after,
        val_accuracy=accuracy, val_under_routed=under, val_over_routed=over,
        val_domain_accuracy=domain_accuracy(params, x[va], domain[va]),
        onnx_path=onnx_path, metadata_path=meta_path,
        seconds=time.perf_counter() - started,
    )
