"""The semantic-cache half of `calibrate`: labelled query pairs, scored as the router's cache
would score them, and a sweep of the similarity and verifier thresholds together.

A pair is a cached question `a` and a new query `b`: a `paraphrase` (serving `a`'s answer for
`b` is right) or a `near_miss` (it is wrong: another number, a negation...). The router serves
the hit (router_core cache/semantic.rs `lookup_question`) when

    similarity >= similarityThreshold  and  the guard finds no conflict
    and  (verifierThreshold == 0  or  verifier_score >= verifierThreshold)

so each pair's similarity, guard verdict and verifier score are computed once, and every
setting is a comparison in numpy. The false-hit rate is near misses served / near misses; the
paraphrase hit rate is paraphrases served / paraphrases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from router_tools.eval.curve import CHUNK, EPS, _resample_weights
from router_tools.eval.tier_sweep import percentile_interval
from router_tools.jsonl import parse_object

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]
EmbedFn = Callable[[Sequence[str]], NDArray[np.float32]]


class PairFileError(ValueError):
    """A pairs file that cannot be read; the message names file and line."""


class PairRow(BaseModel):
    """One line of a pairs file; other fields (a source, a note) are kept and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)

    a: str  # the cached question
    b: str  # the new query
    kind: Literal["paraphrase", "near_miss"]


def load_pairs(path: Path) -> list[PairRow]:
    """The pairs of a JSONL file; raises PairFileError naming the file and the first bad line,
    or the file when it lacks either kind (a rate with no denominator means nothing)."""
    rows: list[PairRow] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                rows.append(parse_object(text, PairRow, what="pair"))
            except ValueError as err:
                raise PairFileError(f"{path}:{lineno}: {err}") from None
    if not rows:
        raise PairFileError(f"{path}: no pairs (the file is empty or has only blank lines)")
    missing = [k for k in ("paraphrase", "near_miss") if not any(r.kind == k for r in rows)]
    if missing:
        raise PairFileError(f"{path}: no {missing[0]} pairs; both kinds are needed to calibrate")
    return rows


class PairChecks(Protocol):
    """The router's checks on a (new query, cached question) pair beyond similarity: the
    `_core` functions in production, plain functions in tests."""

    def guard_refusal(self, query: str, cached_query: str) -> str | None: ...

    def verifier_score(self, query: str, cached_query: str, similarity: float) -> float: ...


@dataclass(frozen=True)
class FunctionChecks:
    """`PairChecks` from two functions."""

    guard: Callable[[str, str], str | None]
    verifier: Callable[[str, str, float], float]

    def guard_refusal(self, query: str, cached_query: str) -> str | None:
        return self.guard(query, cached_query)

    def verifier_score(self, query: str, cached_query: str, similarity: float) -> float:
        return self.verifier(query, cached_query, similarity)


def core_checks() -> PairChecks:
    """The guard and verifier the router runs (router_core cache/guard.rs and verify.rs)."""
    from router_py import _core

    return FunctionChecks(guard=_core.guard_refusal, verifier=_core.verifier_score)


@dataclass(frozen=True)
class PairScores:
    """Each pair as the cache sees it; row i is pair i."""

    near_miss: B8  # else a paraphrase
    similarity: F32
    refused: B8  # by the guard
    verifier: F32

    @property
    def n_near(self) -> int:
        return int(self.near_miss.sum())

    @property
    def n_para(self) -> int:
        return int((~self.near_miss).sum())


def index_similarity(a: F32, b: F32) -> F32:
    """Row-wise cosine as the cache's index computes it: vectors stored in f16 (semantic.rs
    SCALAR) and the query cast to it, the sum in f32."""
    a16 = np.asarray(a, dtype=np.float16).astype(np.float32)
    b16 = np.asarray(b, dtype=np.float16).astype(np.float32)
    dot = np.einsum("ij,ij->i", a16, b16, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", a16, a16, dtype=np.float32) * np.einsum("ij,ij->i", b16, b16, dtype=np.float32))
    sim: F32 = (dot / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return sim


def score_pairs(pairs: Sequence[PairRow], vectors_a: F32, vectors_b: F32, checks: PairChecks) -> PairScores:
    """Similarity, guard verdict and verifier score of each pair, `b` the query and `a` cached."""
    if vectors_a.shape != vectors_b.shape or len(vectors_a) != len(pairs):
        raise ValueError(f"{len(pairs)} pairs with embeddings of shapes {vectors_a.shape} and {vectors_b.shape}")
    sim = index_similarity(vectors_a, vectors_b)
    refused = [checks.guard_refusal(p.b, p.a) is not None for p in pairs]
    verifier = [checks.verifier_score(p.b, p.a, float(s)) for p, s in zip(pairs, sim)]
    return PairScores(near_miss=np.asarray([p.kind == "near_miss" for p in pairs], dtype=np.bool_),
                      similarity=sim, refused=np.asarray(refused, dtype=np.bool_),
                      verifier=np.asarray(verifier, dtype=np.float32))


def served(scores: PairScores, similarity: float, verifier: float) -> B8:
    """Which pairs the cache serves at this setting, in the core's f32 comparisons."""
    passes = (scores.similarity >= np.float32(similarity)) & ~scores.refused
    if verifier > 0:  # 0 leaves the verifier out (semantic.rs HitRule)
        passes &= scores.verifier >= np.float32(verifier)
    out: B8 = passes
    return out


@dataclass(frozen=True)
class CachePick:
    similarity: float
    verifier: float
    paraphrase_hits: int
    false_hits: int
    settings: int


def similarity_candidates(scores: PairScores) -> F64:
    """Each distinct similarity in (0, 1] (the field's range) of a pair the guard lets through
    (no other can be served): the highest threshold serving exactly the pairs at or above it,
    so the safest of its equals on new traffic."""
    s = scores.similarity[~scores.refused].astype(np.float64)
    return np.unique(s[np.isfinite(s) & (s > 0.0) & (s <= 1.0)])


def verifier_candidates(scores: PairScores) -> F64:
    """0 (verifier off) and each distinct score in (0, 1) (the field's range) of a pair the
    guard lets through."""
    v = scores.verifier[~scores.refused].astype(np.float64)
    return np.unique(np.concatenate([[0.0], v[np.isfinite(v) & (v > 0.0) & (v < 1.0)]]))


def pick_setting(scores: PairScores, budget: float, min_similarity: float = 0.0) -> CachePick | None:
    """The setting serving the most paraphrases whose false-hit rate is within `budget`, with a
    similarity threshold of at least `min_similarity`; None when no such threshold keeps it there.

    Ties go to fewer false hits, then the higher similarity threshold, then the higher
    verifier threshold: equal on this file, they serve the fewest unseen queries.
    """
    sims = similarity_candidates(scores)
    sims = sims[sims >= min_similarity]
    gates = verifier_candidates(scores)
    allowed = budget * scores.n_near + EPS * max(scores.n_near, 1)
    best: tuple[int, int, float, float] | None = None  # (-paraphrases, false hits, -sim, -verifier)
    for gate in gates:
        ok = ~scores.refused
        if gate > 0:
            ok &= scores.verifier >= np.float32(gate)
        near = np.sort(scores.similarity[ok & scores.near_miss].astype(np.float64))
        para = np.sort(scores.similarity[ok & ~scores.near_miss].astype(np.float64))
        # Pairs served at threshold t are those with similarity >= t.
        false_hits = len(near) - np.searchsorted(near, sims, side="left")
        hits = len(para) - np.searchsorted(para, sims, side="left")
        feasible = false_hits <= allowed
        if not feasible.any():
            continue
        key = np.where(feasible, hits, -1)
        top = key == key.max()
        fewest = top & (false_hits == false_hits[top].min())
        k = int(np.flatnonzero(fewest)[-1])  # thresholds ascend: the last is the highest
        candidate = (-int(hits[k]), int(false_hits[k]), -float(sims[k]), -float(gate))
        if best is None or candidate < best:
            best = candidate
    if best is None:
        return None
    neg_hits, false, neg_sim, neg_gate = best
    return CachePick(similarity=-neg_sim, verifier=-neg_gate, paraphrase_hits=-neg_hits, false_hits=false,
                     settings=len(sims) * len(gates))


@dataclass(frozen=True)
class RateSpread:
    """Bootstrap 95 % percentile intervals of a fixed setting's two rates."""

    paraphrase_hit_rate: tuple[float, float]
    false_hit_rate: tuple[float, float]


def bootstrap_settings(scores: PairScores, settings: Sequence[B8], resamples: int, seed: int) -> list[RateSpread | None]:
    """Each fixed setting's rates (`settings`: which pairs it serves) on the same resamples,
    drawn within each kind: each rate is a share of its own kind, whose count the pairs file
    fixes, so resampling across kinds would only add noise from the mix."""
    if resamples <= 0:
        return [None for _ in settings]
    near_idx = np.flatnonzero(scores.near_miss)
    para_idx = np.flatnonzero(~scores.near_miss)
    rng = np.random.default_rng(seed)
    para_rates: list[list[F64]] = [[] for _ in settings]
    false_rates: list[list[F64]] = [[] for _ in settings]
    for start in range(0, resamples, CHUNK):
        m = min(CHUNK, resamples - start)
        w_para = _resample_weights(rng, m, len(para_idx))
        w_near = _resample_weights(rng, m, len(near_idx))
        for k, hit in enumerate(settings):
            para_rates[k].append((w_para @ hit[para_idx].astype(np.float64)) / len(para_idx))
            false_rates[k].append((w_near @ hit[near_idx].astype(np.float64)) / len(near_idx))
    return [RateSpread(paraphrase_hit_rate=percentile_interval(np.concatenate(p)),
                       false_hit_rate=percentile_interval(np.concatenate(f)))
            for p, f in zip(para_rates, false_rates)]
