"""`make bench`: the routing decision in Rust against the same pipeline in plain Python, in one run.

Prints (and writes to benches/results/latest.json):
  1. the bare embedding forward pass (the floor) and decide() on a cache miss, 12 and 64 tokens,
     Rust vs Python, p50/p99, and decide() at the token maximum and on a very long prompt;
  2. decide() for a miss, an exact hit and a semantic hit with 10k, 100k and 1M cached entries;
  3. decisions per second with 1 and 2 threads;
  4. the semantic cache's ANN index against exact search and against hnswlib at the same M/ef:
     recall@10, lookup latency, memory per entry.
Ratios are computed within this run: these machines are noisy, absolute numbers less so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import hnswlib
import numpy as np

from router_py import _core
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import LimitsSpec, RouterConfig
from router_py.runtime import model_dir, ort_library
from router_tools.train.dataset import load_golden

sys.path.insert(0, str(Path(__file__).parent))
from python_pipeline import PythonPipeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results"
M, EF_ADD, EF_SEARCH = 16, 128, 64
DIM = 384
TENANT = "bench"
FAQ = ("How do I reset my password?", "How can I reset my password?")


def bench_config() -> RouterConfig:
    """The embedded default without rate limits, which would otherwise throttle the load."""
    config = load_config(embedded_default_dir())
    return config.model_copy(update={"policy": config.policy.model_copy(update={"limits": LimitsSpec()})})


def timed(fn: Callable[[], object], n: int, warmup: int = 20) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t) * 1000
    return out


def stats(ms: np.ndarray) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def cycle(items: list[str]) -> Callable[[], str]:
    state = {"i": 0}

    def next_item() -> str:
        state["i"] += 1
        return items[state["i"] % len(items)]

    return next_item


def queries_of_length(embedder: _core.Embedder, texts: list[str], tokens: int, want: int) -> list[str]:
    """Real queries whose token count (with [CLS]/[SEP]) is exactly `tokens`, cutting longer ones
    at a word boundary when too few are that long already."""
    out: list[str] = []
    for text in texts:
        words = text.split()
        count = lambda k: len(embedder.encode(" ".join(words[:k]), 4096))  # noqa: E731
        if count(len(words)) < tokens:
            continue
        lo, hi = 1, len(words)  # the shortest prefix reaching `tokens`
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if count(mid) < tokens else (lo, mid)
        if count(lo) == tokens:
            out.append(" ".join(words[:lo]))
        if len(out) == want:
            break
    return out


def new_router(models: Path, sessions: int, entries: int) -> _core.Router:
    router = _core.Router(models, ort_library=ort_library(), sessions=sessions,
                          exact_max_entries=max(2 * entries, 100_000), exact_max_bytes=4 << 30,
                          semantic_max_entries_per_tenant=max(entries + 1000, 10_000))
    router.apply_config(bench_config().to_core_json())
    return router


def python_pipeline(models: Path, capacity: int, config: RouterConfig) -> PythonPipeline:
    manifest = json.loads((models / "embedder" / "manifest.json").read_text())
    # The graph the Rust core's `default` loads on this CPU (default_vnni where it has VNNI).
    variant = _core.Embedder(models / "embedder", ort_library=ort_library()).variant
    policy = config.policy
    return PythonPipeline(
        models, variant_file=manifest["variants"][variant]["file"], m=M, ef_construction=EF_ADD,
        ef_search=EF_SEARCH, max_elements=capacity + 1000,
        underroute_risk=policy.classifier.max_underroute_risk, confidence_threshold=policy.classifier.confidence_threshold,
        domain_min_tier={o.domain: o.min_tier for o in policy.overrides.domains},
        similarity_threshold=policy.cache.semantic.similarity_threshold)


def synthetic(real: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` unit vectors scattered around real query embeddings (cosine ~0.75 to their source), so
    the index holds realistic clusters rather than uniform noise, and none reaches the hit threshold."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        k = min(100_000, n - start)
        src = real[rng.integers(0, len(real), k)]
        noise = rng.standard_normal((k, real.shape[1])).astype(np.float32) / np.sqrt(real.shape[1])
        v = src + 0.88 * noise
        out[start:start + k] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def section_floor_and_miss(models: Path, embedder: _core.Embedder, q12: list[str], q64: list[str], n: int) -> dict[str, object]:
    router = new_router(models, 1, 0)
    py = python_pipeline(models, 1000, bench_config())
    out: dict[str, object] = {}
    for label, qs in (("12", q12), ("64", q64)):
        ids = [embedder.encode(q, 128) for q in qs]
        next_ids = cycle([str(i) for i in range(len(ids))])
        rust_floor = timed(lambda: embedder.forward(ids[int(next_ids())]), n)
        py_floor = timed(lambda: py.forward(ids[int(next_ids())]), n)
        nxt = cycle(qs)
        rust = timed(lambda: router.decide(TENANT, nxt()), n)
        python = timed(lambda: py.decide(TENANT, nxt()), n)
        out[f"tokens_{label}"] = {
            "forward_rust": stats(rust_floor), "forward_python": stats(py_floor),
            "decide_rust": stats(rust), "decide_python": stats(python),
            "rust_over_floor_p50_ms": round(float(np.percentile(rust, 50) - np.percentile(rust_floor, 50)), 3),
            "python_over_floor_p50_ms": round(float(np.percentile(python, 50) - np.percentile(py_floor, 50)), 3),
            "speedup_p50": round(float(np.percentile(python, 50) / np.percentile(rust, 50)), 2),
            "speedup_p99": round(float(np.percentile(python, 99) / np.percentile(rust, 99)), 2),
        }
    variants = {name: _core.Embedder(models / "embedder", ort_library=ort_library(), variant=name)
                for name in ("fp32", "int8")}
    try:  # refused on CPUs without VNNI, where its arithmetic saturates
        variants["int8_vnni"] = _core.Embedder(models / "embedder", ort_library=ort_library(), variant="int8_vnni")
    except _core.ModelError:
        pass
    for label, qs in (("12", q12), ("64", q64)):
        ids = [embedder.encode(q, 128) for q in qs]
        nxt_ids = cycle([str(i) for i in range(len(ids))])
        row: dict[str, object] = {}
        for name, variant in variants.items():  # timed() runs at once, so the closure sees this one
            row[name] = stats(timed(lambda: variant.forward(ids[int(nxt_ids())]), n))
        out[f"variants_{label}"] = row
    long_text = " ".join(q64) * 40
    out["tokens_max_128"] = stats(timed(lambda: router.decide(TENANT, " ".join(q64[:3])), n // 2))
    out["long_prompt"] = {"tokens": router.count_tokens(long_text), **stats(timed(lambda: router.decide(TENANT, long_text), n // 4))}
    return out


def section_cached(models: Path, embedder: _core.Embedder, real: np.ndarray, q12: list[str], sizes: list[int], n: int) -> dict[str, object]:
    out: dict[str, object] = {}
    faq_vectors = np.frombuffer(embedder.embed_batch(list(FAQ)), dtype="<f4").reshape(2, DIM)
    for size in sizes:
        row = cached_row(models, real, faq_vectors, q12, size, n)
        out[str(size)] = row
        print(f"  cached {size}: {json.dumps(row)}", flush=True)
    return out


def cached_row(models: Path, real: np.ndarray, faq_vectors: np.ndarray, q12: list[str], size: int, n: int) -> dict[str, object]:
    """One cache size; its own function so that its router and pipeline are freed before the
    next size is built (and its memory measured)."""
    vectors = synthetic(real, size, seed=size)
    texts = [f"cached question {i}" for i in range(size)]
    router = new_router(models, 1, size)
    before = rss_bytes()
    started = time.perf_counter()
    answer = _core.CachedAnswer(1, "sim-fast-a", "sim-fast", "cached answer")
    for start in range(0, size, 50_000):
        chunk = slice(start, min(size, start + 50_000))
        router.warm(TENANT, texts[chunk], vectors[chunk].tobytes(), [answer] * (chunk.stop - chunk.start))
    router.warm(TENANT, [FAQ[0]], faq_vectors[0].tobytes(), [answer])
    fill_s = time.perf_counter() - started
    per_entry = (rss_bytes() - before) / size
    py = python_pipeline(models, size, bench_config())
    py.fill(vectors, texts)
    py.fill(faq_vectors[:1], [FAQ[0]])
    exact = cycle(texts[:1000])
    misses = cycle(q12)
    row = {
        "fill_s": round(fill_s, 1), "router_rss_bytes_per_entry": round(per_entry),
        "miss_12_rust": stats(timed(lambda: router.decide(TENANT, misses()), n)),
        "miss_12_python": stats(timed(lambda: py.decide(TENANT, misses()), n)),
        "exact_hit_rust": stats(timed(lambda: router.decide(TENANT, exact()), n)),
        "exact_hit_python": stats(timed(lambda: py.decide(TENANT, exact()), n)),
        "semantic_hit_rust": stats(timed(lambda: router.decide(TENANT, FAQ[1]), n)),
        "semantic_hit_python": stats(timed(lambda: py.decide(TENANT, FAQ[1]), n)),
    }
    assert router.decide(TENANT, FAQ[1]).reason == "cache_semantic", "semantic-hit probe did not hit"
    assert router.decide(TENANT, texts[0]).reason == "cache_exact", "exact-hit probe did not hit"
    return row


def throughput(decide: Callable[[str], object], queries: list[str], threads: int, seconds: float) -> float:
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def work(slot: int) -> None:
        i = slot
        while time.perf_counter() < stop:
            decide(queries[i % len(queries)])
            i += threads
            done[slot] += 1

    workers = [threading.Thread(target=work, args=(s,)) for s in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / seconds


def section_throughput(models: Path, q12: list[str], seconds: float, rounds: int = 3) -> dict[str, object]:
    """Rust and Python runs alternate, `rounds` each, and the medians are compared, so a slow
    spell of this shared machine cannot land on one side only."""
    out: dict[str, object] = {}
    for threads in (1, 2):
        router = new_router(models, threads, 0)
        py = python_pipeline(models, 1000, bench_config())
        rust, python = [], []
        for _ in range(rounds):
            rust.append(throughput(lambda q: router.decide(TENANT, q), q12, threads, seconds))
            python.append(throughput(lambda q: py.decide(TENANT, q), q12, threads, seconds))
        r, p = float(np.median(rust)), float(np.median(python))
        out[f"threads_{threads}"] = {"rust_per_s": round(r), "python_per_s": round(p), "ratio": round(r / p, 2)}
    return out


def section_ann(real: np.ndarray, sizes: list[int], nq: int, work: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    example = build_ann_example()
    for size in sizes:
        base = synthetic(real, size, seed=size + 1)
        rng = np.random.default_rng(size)
        picks = base[rng.integers(0, size, nq)]
        q = picks + 0.3 * rng.standard_normal(picks.shape).astype(np.float32) / np.sqrt(DIM)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        truth = exact_top10(base, q)
        (work / "base.f32").write_bytes(base.astype("<f4").tobytes())
        (work / "q.f32").write_bytes(q.astype("<f4").tobytes())
        (work / "truth.u32").write_bytes(truth.astype("<u4").tobytes())
        rust = json.loads(subprocess.run([str(example), str(work / "base.f32"), str(work / "q.f32"), str(work / "truth.u32"),
                                          str(DIM), str(M), str(EF_ADD), str(EF_SEARCH)], check=True, capture_output=True, text=True).stdout)
        out[str(size)] = {"usearch": rust, "hnswlib": hnswlib_row(base, q, truth)}
        print(f"  ann {size}: {json.dumps(out[str(size)])}", flush=True)
    return out


def exact_top10(base: np.ndarray, q: np.ndarray) -> np.ndarray:
    top = np.empty((len(q), 10), dtype=np.int64)
    for start in range(0, len(q), 50):
        sims = q[start:start + 50] @ base.T
        part = np.argpartition(-sims, 10, axis=1)[:, :10]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        top[start:start + 50] = np.take_along_axis(part, order, axis=1)
    return top


def hnswlib_row(base: np.ndarray, q: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    index = hnswlib.Index(space="ip", dim=DIM)
    index.init_index(max_elements=len(base), M=M, ef_construction=EF_ADD)
    index.set_num_threads(1)
    started = time.perf_counter()
    index.add_items(base, np.arange(len(base)))
    build_s = time.perf_counter() - started
    # RSS deltas are blurred by memory numpy freed just before; the serialised size is the
    # index's own footprint (vectors, links, labels).
    memory = index.index_file_size()
    index.set_ef(EF_SEARCH)
    lat = np.empty(len(q))
    found = 0
    for i, v in enumerate(q):
        t = time.perf_counter()
        labels, _ = index.knn_query(v, k=10)
        lat[i] = (time.perf_counter() - t) * 1e6
        found += len(set(labels[0].tolist()) & set(truth[i].tolist()))
    return {"build_s": round(build_s, 2), "lookup_us_p50": round(float(np.percentile(lat, 50)), 1),
            "lookup_us_p99": round(float(np.percentile(lat, 99)), 1), "recall_at_10": round(found / (10 * len(q)), 4),
            "memory_per_entry": round(memory / len(base), 1)}


def build_ann_example() -> Path:
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "router_core", "--example", "ann_bench"], check=True, cwd=ROOT)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "examples" / "ann_bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="cached entries per run")
    parser.add_argument("--n", type=int, default=1000, help="timed decisions per measurement")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput run length")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    models = model_dir()
    embedder = _core.Embedder(models / "embedder", ort_library=ort_library(), sessions=1)
    texts = [it.query for it in load_golden(ROOT / "data/routing/holdout.jsonl")]
    q12 = queries_of_length(embedder, texts, 12, 200)
    q64 = queries_of_length(embedder, [t for t in texts if len(t) > 200], 64, 200)
    train = [it.query for it in load_golden(ROOT / "data/routing/train.jsonl")]
    real = np.frombuffer(embedder.embed_batch(train), dtype="<f4").reshape(len(train), DIM)
    print(f"embedder variant {embedder.variant}; {len(q12)} 12-token and {len(q64)} 64-token queries", flush=True)

    results: dict[str, object] = {"embedder_variant": embedder.variant, "M": M, "ef_add": EF_ADD, "ef_search": EF_SEARCH}
    results["miss"] = section_floor_and_miss(models, embedder, q12, q64, args.n)
    print(json.dumps(results["miss"], indent=1), flush=True)
    results["throughput"] = section_throughput(models, q12, args.seconds)
    print(json.dumps(results["throughput"], indent=1), flush=True)
    results["cached"] = section_cached(models, embedder, real, q12, sizes, args.n)
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = RESULTS / "ann-work"
    work.mkdir(exist_ok=True)
    results["ann"] = section_ann(real, sizes, 500, work)
    for f in work.iterdir():
        f.unlink()
    work.rmdir()
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
