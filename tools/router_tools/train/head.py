"""The classifier head: a one-hidden-layer MLP on sentence embeddings, in numpy.

embedding [n, dim] -> ReLU(x W1 + b1) [n, hidden] -> tier logits [n, 3]
                                                   -> domain logits [n, D]

One shared hidden layer keeps the exported graph tiny; the domain task also
regularises the tier task. The tier loss is class-weighted cross-entropy plus
an expected routing cost term (see `tier_cost_matrix`), because routing below
the ideal tier is the expensive mistake: it buys a wrong answer. Probabilities
are calibrated afterwards by temperature scaling on held-back data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

N_TIERS = 3
MISSING = -1  # domain index of an item without a domain label


@dataclass(frozen=True)
class HeadConfig:
    """Hyper-parameters; the defaults were chosen on a validation split of data/routing/train.jsonl."""

    hidden: int = 128
    epochs: int = 40
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    domain_weight: float = 0.5
    # Share of the labelled items, in domain-loss weight, that items whose domain was read
    # (not defaulted from their source) count as; see train.domain_scale. 0.5 puts the ~300
    # read rows of data/routing on a par with the ~6,000 others. On a group cross-validation
    # over the read rows of train.jsonl larger shares found their domains more often still,
    # but cost the other sources' domain accuracy.
    read_domain_share: float = 0.5
    # Expected-cost term: cost of routing k tiers below the ideal is under_cost*k,
    # k tiers above is over_cost*k; cost_weight scales the term against the CE.
    under_cost: float = 1.0
    over_cost: float = 0.25
    cost_weight: float = 1.0


@dataclass(frozen=True)
class HeadParams:
    w1: F32
    b1: F32
    w_tier: F32
    b_tier: F32
    w_domain: F32
    b_domain: F32

    @property
    def dim(self) -> int:
        return int(self.w1.shape[0])

    @property
    def n_domains(self) -> int:
        return int(self.w_domain.shape[1])


def tier_cost_matrix(config: HeadConfig) -> F64:
    """cost[ideal, routed] with tiers as 0-based indices."""
    idx = np.arange(N_TIERS)
    gap = idx[None, :] - idx[:, None]
    return np.where(gap < 0, -gap * config.under_cost, gap * config.over_cost).astype(np.float64)


def softmax(z: NDArray[np.floating], axis: int = -1) -> NDArray[np.floating]:
    shifted = z - z.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    probs: NDArray[np.floating] = e / e.sum(axis=axis, keepdims=True)
    return probs


def forward(params: HeadParams, x: F32) -> tuple[F32, F32]:
    """Tier and domain logits, in float32 like the exported graph."""
    h = np.maximum(x.astype(np.float32) @ params.w1 + params.b1, np.float32(0))
    return h @ params.w_tier + params.b_tier, h @ params.w_domain + params.b_domain


def predict_proba(params: HeadParams, x: F32, t_tier: float, t_domain: float) -> tuple[F32, F32]:
    """What the exported ONNX graph computes: softmax(logits / T) for both heads."""
    tier_logits, domain_logits = forward(params, x)
    return (
        softmax(tier_logits / np.float32(t_tier)).astype(np.float32),
        softmax(domain_logits / np.float32(t_domain)).astype(np.float32),
    )


def balanced_weights(labels: I64, n_classes: int) -> F64:
    """Per-class weights n / (K * n_c) over the classes present; absent classes get 0."""
    known = labels[labels != MISSING]
    counts = np.bincount(known, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(known) / (present.sum() * counts[present])
    return weights


def init_params(dim: int, n_domains: int, config: HeadConfig, rng: np.random.Generator) -> HeadParams:
    def he(fan_in: int, fan_out: int) -> F32:
        w: F32 = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        return w

    return HeadParams(
        w1=he(dim, config.hidden),
        b1=np.zeros(config.hidden, np.float32),
        w_tier=he(config.hidden, N_TIERS) * np.float32(0.1),
        b_tier=np.zeros(N_TIERS, np.float32),
        w_domain=he(config.hidden, n_domains) * np.float32(0.1),
        b_domain=np.zeros(n_domains, np.float32),
    )


def _as_list(p: HeadParams) -> list[F32]:
    return [p.w1, p.b1, p.w_tier, p.b_tier, p.w_domain, p.b_domain]


def _from_list(arrays: list[F32]) -> HeadParams:
    return HeadParams(*(a.astype(np.float32) for a in arrays))


@dataclass(frozen=True)
class _Batch:
    x: F32
    tier: I64
    domain: I64
    tier_w: F64  # per-sample class weight
    domain_w: F64  # per-sample class weight, 0 where the domain is missing


def _gradients(params: HeadParams, batch: _Batch, cost: F64, config: HeadConfig) -> list[F32]:
    x = batch.x
    pre = x @ params.w1 + params.b1
    h = np.maximum(pre, 0)
    p_tier = softmax((h @ params.w_tier + params.b_tier).astype(np.float64))
    p_dom = softmax((h @ params.w_domain + params.b_domain).astype(np.float64))
    rows = np.arange(len(x))
    n = len(x)

    # d/dz of w*(CE + lambda*E[cost]) where E[cost] = sum_j p_j c_yj:
    # CE gives p - onehot, the cost term gives p * (c_y - E[cost]).
    c_y = cost[batch.tier]
    expected = (p_tier * c_y).sum(axis=1, keepdims=True)
    g_tier = p_tier.copy()
    g_tier[rows, batch.tier] -= 1.0
    g_tier += config.cost_weight * p_tier * (c_y - expected)
    g_tier *= batch.tier_w[:, None] / n

    g_dom = p_dom.copy()
    known = batch.domain != MISSING
    g_dom[rows[known], batch.domain[known]] -= 1.0
    g_dom *= (config.domain_weight * batch.domain_w)[:, None] / n

    g_tier32 = g_tier.astype(np.float32)
    g_dom32 = g_dom.astype(np.float32)
    g_h = g_tier32 @ params.w_tier.T + g_dom32 @ params.w_domain.T
    g_pre = g_h * (pre > 0)
    wd = np.float32(config.weight_decay)
    return [
        x.T @ g_pre + wd * params.w1,
        g_pre.sum(axis=0),
        h.T @ g_tier32 + wd * params.w_tier,
        g_tier32.sum(axis=0),
        h.T @ g_dom32 + wd * params.w_domain,
        g_dom32.sum(axis=0),
    ]


def fit_head(
    x: F32,
    tier: I64,
    domain: I64,
    n_domains: int,
    config: HeadConfig = HeadConfig(),
    seed: int = 0,
    domain_scale: F64 | None = None,
) -> HeadParams:
    """Train with Adam on shuffled mini-batches.

    tier holds 0-based tier indices; domain holds 0-based domain indices or
    MISSING. domain_scale, one factor per item, multiplies that item's domain
    loss on top of the class balancing (None: 1 for every item). Deterministic
    for a given seed.
    """
    rng = np.random.default_rng(seed)
    x = np.ascontiguousarray(x, dtype=np.float32)
    params = init_params(x.shape[1], n_domains, config, rng)
    tier_w = balanced_weights(tier, N_TIERS)[tier]
    dom_w_table = balanced_weights(domain, n_domains)
    domain_w = np.where(domain == MISSING, 0.0, dom_w_table[np.maximum(domain, 0)])
    if domain_scale is not None:
        if domain_scale.shape != domain.shape or (domain_scale < 0).any():
            raise ValueError("domain_scale needs one non-negative factor per item")
        domain_w = domain_w * domain_scale
    cost = tier_cost_matrix(config)

    arrays = _as_list(params)
    m = [np.zeros_like(a) for a in arrays]
    v = [np.zeros_like(a) for a in arrays]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    step = 0
    for _ in range(config.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            batch = _Batch(x[idx], tier[idx], domain[idx], tier_w[idx], domain_w[idx])
            grads = _gradients(_from_list(arrays), batch, cost, config)
            step += 1
            lr = config.learning_rate * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            for a, g, m_i, v_i in zip(arrays, grads, m, v):
                m_i *= beta1
                m_i += (1 - beta1) * g
                v_i *= beta2
                v_i += (1 - beta2) * g * g
                a -= (lr * m_i / (np.sqrt(v_i) + eps)).astype(np.float32)
    return _from_list(arrays)


def nll(logits: NDArray[np.floating], labels: I64, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of softmax(logits / T)."""
    z = logits.astype(np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: NDArray[np.floating], labels: I64,
                    bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The T minimising validation NLL, by golden-section search on log T.

    NLL(T) is convex in 1/T, hence unimodal in log T, so the search finds the
    global minimum inside the bounds.
    """
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, labels, np.exp(a)), nll(logits, labels, np.exp(b))
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, labels, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, labels, np.exp(b))
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(probs: NDArray[np.floating], labels: I64, n_bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            total += in_bin.sum() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total / len(labels))
