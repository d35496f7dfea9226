"""Semantic-cache hit quality on test pairs, and the verifier's cost on a semantic hit.

    python benches/cache_verifier.py          # writes benches/results/cache_verifier.json

1. On data/cache_pairs/test.jsonl (intents and utterances that neither the verifier's training
   nor the choice of its thresholds saw; split by intent): the share of paraphrases served
   (paraphrase hits) and of near misses served (false hits) as the similarity threshold is
   swept, with the guard alone, the verifier alone and both, and the verifier threshold swept
   at the shipped similarity. Pairs are scored by `calibrate`'s code (router_tools
   eval/cache_sweep.py), so similarities are the index's (f16 vectors). Beside them, each test
   question's two closest questions of another intent (eval/neighbour_pairs.py): automatic
   labels, so their hit rate is an upper bound on wrong answers among such neighbours. The
   shipped setting and the previous one (0.78, guard alone) get bootstrap 95 % intervals
   (pairs resampled by intent group).
2. decide() on a semantic hit, p50/p99, with the verifier off and at the shipped threshold,
   interleaved in the same run (the issue's budget: within +3 ms).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from router_py import _core
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import LimitsSpec, RouterConfig
from router_py.runtime import model_dir, ort_library
from router_tools.eval.cache_sweep import PairRow, PairScores, core_checks, load_pairs, score_pairs, served
from router_tools.eval.neighbour_pairs import intent_questions, other_intent_neighbours

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "data" / "cache_pairs" / "test.jsonl"
OUT = ROOT / "benches" / "results" / "cache_verifier.json"
PREVIOUS = (0.78, 0.0)  # the setting shipped before the verifier: similarity 0.78, guard alone
SIMILARITIES = [round(s, 2) for s in np.arange(0.50, 0.96, 0.05)]
VERIFIERS = [0.5, 0.8, 0.9, 0.95, 0.97, 0.973, 0.98, 0.99]
NEIGHBOURS, NEIGHBOUR_FLOOR = 2, 0.4  # as scripts/train_pair_verifier.py
RESAMPLES, SEED = 1000, 7
TENANT = "bench"
HIT = ("How do I reset my password?", "How can I reset my password?")


@dataclass(frozen=True)
class Scored:
    labelled: PairScores
    group: np.ndarray  # intent group of each labelled pair, for the bootstrap
    neighbours: PairScores


def group_of(pair: PairRow) -> str:
    extra = pair.model_extra or {}
    return f"{extra['source']}:{min(extra['intent_a'], extra['intent_b'])}"


def score(pairs: Sequence[PairRow], vectors: dict[str, np.ndarray]) -> PairScores:
    a = np.stack([vectors[p.a] for p in pairs])
    b = np.stack([vectors[p.b] for p in pairs])
    return score_pairs(pairs, a, b, core_checks())


def score_file(path: Path) -> Scored:
    pairs = load_pairs(path)
    embedder = _core.Embedder(model_dir() / "embedder", ort_library=ort_library())
    texts = sorted({t for p in pairs for t in (p.a, p.b)})
    matrix = np.frombuffer(embedder.embed_batch(texts, 128), dtype=np.float32).reshape(len(texts), -1)
    vectors = dict(zip(texts, matrix / np.linalg.norm(matrix, axis=1, keepdims=True)))
    neighbours = other_intent_neighbours(intent_questions(pairs), vectors, NEIGHBOURS, NEIGHBOUR_FLOOR)
    return Scored(score(pairs, vectors), np.array([group_of(p) for p in pairs]), score(neighbours, vectors))


def rates(s: Scored, setting: tuple[float, float], *, guard: bool = True) -> dict[str, float]:
    mask, nb = hits(s.labelled, setting, guard=guard), hits(s.neighbours, setting, guard=guard)
    return {"paraphrase_hits": round(float(mask[~s.labelled.near_miss].mean()), 4),
            "false_hits": round(float(mask[s.labelled.near_miss].mean()), 4),
            "neighbour_hits": round(float(nb.mean()), 4)}


def hits(scores: PairScores, setting: tuple[float, float], *, guard: bool = True) -> np.ndarray:
    if guard:
        return served(scores, *setting)
    unguarded = PairScores(scores.near_miss, scores.similarity, np.zeros_like(scores.refused), scores.verifier)
    return served(unguarded, *setting)


def intervals(s: Scored, mask: np.ndarray) -> dict[str, list[float]]:
    """Bootstrap over intent groups: pairs of one intent are not independent draws."""
    rng = np.random.default_rng(SEED)
    groups = np.unique(s.group)
    members = [np.flatnonzero(s.group == g) for g in groups]
    near = s.labelled.near_miss
    para_hits, false = [], []
    for _ in range(RESAMPLES):
        idx = np.concatenate([members[i] for i in rng.integers(0, len(groups), len(groups))])
        para_hits.append(mask[idx][~near[idx]].mean())
        false.append(mask[idx][near[idx]].mean())
    ci = lambda xs: [round(float(np.percentile(xs, 2.5)), 4), round(float(np.percentile(xs, 97.5)), 4)]  # noqa: E731
    return {"paraphrase_hits_ci95": ci(para_hits), "false_hits_ci95": ci(false)}


def sweep(s: Scored, verifier: float) -> list[dict[str, object]]:
    return [{"similarity": sim,
             "guard_alone": rates(s, (sim, 0.0)),
             "verifier_alone": rates(s, (sim, verifier), guard=False),
             "guard_and_verifier": rates(s, (sim, verifier))} for sim in SIMILARITIES]


def bench_config(verifier: float) -> RouterConfig:
    config = load_config(embedded_default_dir())
    semantic = config.policy.cache.semantic.model_copy(update={"verifier_threshold": verifier})
    cache = config.policy.cache.model_copy(update={"semantic": semantic})
    policy = config.policy.model_copy(update={"limits": LimitsSpec(), "cache": cache})
    return config.model_copy(update={"policy": policy})


def hit_latency(verifier: float, n: int = 3000, rounds: int = 4) -> dict[str, dict[str, float]]:
    router = _core.Router(model_dir(), ort_library=ort_library(), sessions=1)
    embedder = _core.Embedder(model_dir() / "embedder", ort_library=ort_library())
    vector = np.frombuffer(embedder.embed_batch([HIT[0]]), dtype="<f4")
    router.apply_config(bench_config(verifier).to_core_json())
    router.warm(TENANT, [HIT[0]], vector.tobytes(), [_core.CachedAnswer(1, "sim-fast-a", "sim-fast", "cached answer")])
    timings: dict[str, list[float]] = {"verifier_off": [], "verifier_shipped": []}
    for _ in range(rounds):  # interleaved, so drift on a noisy machine hits both alike
        for name, threshold in (("verifier_off", 0.0), ("verifier_shipped", verifier)):
            router.apply_config(bench_config(threshold).to_core_json())
            assert router.decide(TENANT, HIT[1]).reason == "cache_semantic", f"{name}: the probe did not hit"
            for _ in range(n // rounds):
                t = time.perf_counter()
                router.decide(TENANT, HIT[1])
                timings[name].append((time.perf_counter() - t) * 1000)
    return {k: {"p50_ms": round(float(np.percentile(v, 50)), 3), "p99_ms": round(float(np.percentile(v, 99)), 3)}
            for k, v in timings.items()}


def main() -> int:
    shipped_policy = load_config(embedded_default_dir()).policy.cache.semantic
    shipped = (shipped_policy.similarity_threshold, shipped_policy.verifier_threshold)
    s = score_file(TEST)
    headline = {}
    for name, setting in (("previous", PREVIOUS), ("shipped", shipped)):
        mask = hits(s.labelled, setting)
        headline[name] = {"similarity": setting[0], "verifier": setting[1], **rates(s, setting),
                          **intervals(s, mask)}
    report = {
        "pairs": {"file": str(TEST.relative_to(ROOT)), "paraphrases": s.labelled.n_para,
                  "near_misses": s.labelled.n_near, "intent_groups": len(np.unique(s.group)),
                  "other_intent_neighbours": len(s.neighbours.near_miss)},
        "embedder_variant": _core.Embedder(model_dir() / "embedder", ort_library=ort_library()).variant,
        "settings": headline,
        "similarity_sweep": sweep(s, shipped[1]),
        "verifier_sweep_at_shipped_similarity": [{"verifier": v, **rates(s, (shipped[0], v))} for v in VERIFIERS],
        "semantic_hit_decide": hit_latency(shipped[1]),
    }
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("pairs", "settings", "semantic_hit_decide")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
