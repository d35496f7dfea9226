"""Semantic-cache hit quality on test pairs, and the verifier's cost on a semantic hit.

    python benches/cache_verifier.py          # writes benches/results/cache_verifier.json

1. On data/cache_pairs/test.jsonl (intents and utterances that neither the verifier's training
   nor the choice of its thresholds saw; split by intent): the share of paraphrases served
   (paraphrase hits) and of near misses served (false hits) as the similarity threshold is
   swept, with the guard alone, the verifier alone and both, and the verifier threshold swept
   at the shipped similarity. The shipped setting and the previous one (0.78, guard alone)
   get bootstrap 95 % intervals (pairs resampled by intent group).
2. decide() on a semantic hit, p50/p99, with the verifier off and at the shipped threshold,
   interleaved in the same run (the issue's budget: within +3 ms).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from router_py import _core
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import LimitsSpec, RouterConfig
from router_py.runtime import model_dir, ort_library

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "data" / "cache_pairs" / "test.jsonl"
OUT = ROOT / "benches" / "results" / "cache_verifier.json"
PREVIOUS = (0.78, 0.0)  # the setting shipped before the verifier: similarity 0.78, guard alone
SIMILARITIES = [round(s, 2) for s in np.arange(0.50, 0.96, 0.05)]
VERIFIERS = [round(v, 2) for v in np.arange(0.1, 0.96, 0.1)]
RESAMPLES, SEED = 1000, 7
TENANT = "bench"
HIT = ("How do I reset my password?", "How can I reset my password?")


@dataclass(frozen=True)
class Scored:
    paraphrase: np.ndarray
    group: np.ndarray
    similarity: np.ndarray
    guard_ok: np.ndarray
    verifier: np.ndarray


def score_pairs(path: Path) -> Scored:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    embedder = _core.Embedder(model_dir() / "embedder", ort_library=ort_library())
    texts = sorted({t for r in rows for t in (r["a"], r["b"])})
    vectors = np.frombuffer(embedder.embed_batch(texts, 128), dtype=np.float32).reshape(len(texts), -1)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    at = {t: i for i, t in enumerate(texts)}
    sims = np.array([float(vectors[at[r["a"]]] @ vectors[at[r["b"]]]) for r in rows])
    return Scored(
        paraphrase=np.array([r["kind"] == "paraphrase" for r in rows]),
        group=np.array([f"{r['source']}:{min(r['intent_a'], r['intent_b'])}" for r in rows]),
        similarity=sims,
        guard_ok=np.array([_core.guard_refusal(r["b"], r["a"]) is None for r in rows]),
        verifier=np.array([_core.verifier_score(r["b"], r["a"], float(s)) for r, s in zip(rows, sims)]),
    )


def served(s: Scored, similarity: float, verifier: float, *, guard: bool = True) -> np.ndarray:
    ok = s.similarity >= similarity
    if guard:
        ok &= s.guard_ok
    return ok & (s.verifier >= verifier) if verifier > 0 else ok


def rates(s: Scored, mask: np.ndarray) -> dict[str, float]:
    return {"paraphrase_hits": round(float(mask[s.paraphrase].mean()), 4),
            "false_hits": round(float(mask[~s.paraphrase].mean()), 4)}


def intervals(s: Scored, mask: np.ndarray) -> dict[str, list[float]]:
    """Bootstrap over intent groups: pairs of one intent are not independent draws."""
    rng = np.random.default_rng(SEED)
    groups = np.unique(s.group)
    members = [np.flatnonzero(s.group == g) for g in groups]
    hits, false = [], []
    for _ in range(RESAMPLES):
        idx = np.concatenate([members[i] for i in rng.integers(0, len(groups), len(groups))])
        para = s.paraphrase[idx]
        hits.append(mask[idx][para].mean())
        false.append(mask[idx][~para].mean())
    ci = lambda xs: [round(float(np.percentile(xs, 2.5)), 4), round(float(np.percentile(xs, 97.5)), 4)]  # noqa: E731
    return {"paraphrase_hits_ci95": ci(hits), "false_hits_ci95": ci(false)}


def sweep(s: Scored, verifier: float) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for sim in SIMILARITIES:
        out.append({"similarity": sim,
                    "guard_alone": rates(s, served(s, sim, 0.0)),
                    "verifier_alone": rates(s, served(s, sim, verifier, guard=False)),
                    "guard_and_verifier": rates(s, served(s, sim, verifier))})
    return out


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
    s = score_pairs(TEST)
    headline = {}
    for name, (sim, ver) in (("previous", PREVIOUS), ("shipped", shipped)):
        mask = served(s, sim, ver)
        headline[name] = {"similarity": sim, "verifier": ver, **rates(s, mask), **intervals(s, mask)}
    report = {
        "pairs": {"file": str(TEST.relative_to(ROOT)), "paraphrases": int(s.paraphrase.sum()),
                  "near_misses": int((~s.paraphrase).sum()), "intent_groups": len(np.unique(s.group))},
        "embedder_variant": _core.Embedder(model_dir() / "embedder", ort_library=ort_library()).variant,
        "settings": headline,
        "similarity_sweep": sweep(s, shipped[1]),
        "verifier_sweep_at_shipped_similarity": [
            {"verifier": v, **rates(s, served(s, shipped[0], v))} for v in VERIFIERS],
        "semantic_hit_decide": hit_latency(shipped[1]),
    }
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("pairs", "settings", "semantic_hit_decide")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
