"""`llm-router demo`: route a realistic mixed workload on the embedded default and show what it saves.

Decision-only for now: every request goes through the real core (embedder, caches, classifier,
policy); an answer a provider would have returned is filed in the caches as the service does, so
repeated and paraphrased questions hit them. Costs are the estimates decisions carry (real token
counts x the embedded default's prices, which are simulated providers).
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from router_py import _core
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import RouteRequest
from router_py.train.dataset import load_golden

WORKLOAD = Path("data/routing/holdout.jsonl")
TENANTS = ("acme", "globex", "initech")


@dataclass
class Tally:
    tiers: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    cost: float = 0.0
    tier3_cost: float = 0.0

    def add(self, d: _core.Decision) -> None:
        label = d.reason if d.reason.startswith("cache") else f"tier {d.tier}"
        self.tiers[label] += 1
        self.latencies_ms.append(d.stages.total_us / 1000)
        self.cost += d.estimated_cost_usd
        self.tier3_cost += d.tier3_cost_usd


def workload(path: Path, n: int, seed: int) -> list[RouteRequest]:
    """`n` requests: held-out queries across three tenants, a fifth of them asked again (a
    support queue repeats itself), so the caches have something to do."""
    rng = random.Random(seed)
    items = load_golden(path)
    fresh = [RouteRequest(tenant=rng.choice(TENANTS), text=it.query) for it in rng.sample(items, int(n * 0.8))]
    repeats = [rng.choice(fresh) for _ in range(n - len(fresh))]
    requests = fresh + repeats
    rng.shuffle(requests)
    return requests


def run(n: int = 600, seed: int = 7, path: Path = WORKLOAD) -> Tally:
    engine = RoutingEngine.from_manifests(sessions=1)
    tally = Tally()
    requests = workload(path, n, seed)
    for i, request in enumerate(requests, 1):
        decision = engine.decide(request)
        tally.add(decision)
        if decision.cached is None:
            engine.core.cache_put(decision, _core.CachedAnswer(decision.tier, decision.provider, decision.model, "(answer)"))
        _progress(i, len(requests))
    return tally


def _progress(done: int, total: int) -> None:
    width = 40
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")


def table(t: Tally) -> str:
    total = sum(t.tiers.values())
    lines = ["| route | requests | share |", "| --- | ---: | ---: |"]
    for label in ("tier 1", "tier 2", "tier 3", "cache_exact", "cache_semantic"):
        lines.append(f"| {label} | {t.tiers[label]} | {t.tiers[label] / total:.1%} |")
    p50, p95 = np.percentile(t.latencies_ms, [50, 95])
    saving = 1 - t.cost / t.tier3_cost
    lines += [
        "",
        f"decision latency: p50 {p50:.2f} ms, p95 {p95:.2f} ms",
        f"estimated cost: ${t.cost:.4f} vs always-tier-3 ${t.tier3_cost:.4f} -> saving {saving:.1%} (simulated prices)",
    ]
    return "\n".join(lines)


def main() -> int:
    started = time.perf_counter()
    tally = run()
    print(table(tally))
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0
