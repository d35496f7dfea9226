"""What the demo prints: where requests went, what it cost against always-tier-3, how the
router coped with a provider that died."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from router_py.api.llmrouter.v1 import router_pb2 as pb


@dataclass
class Tally:
    routes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    escalations: int = 0
    failovers: int = 0
    rejected_by_gate: int = 0
    cost: float = 0.0
    tier3_cost: float = 0.0

    def add(self, r: pb.CompleteResponse, latency_ms: float) -> None:
        self.routes[r.decision.reason if r.cached else f"tier {r.tier}"] += 1
        self.latencies_ms.append(latency_ms)
        self.escalations += r.escalations
        self.failovers += r.failovers
        self.rejected_by_gate += not r.accepted
        self.cost += r.cost_usd
        self.tier3_cost += r.tier3_cost_usd

    def fail(self, code: str) -> None:
        self.errors[code] += 1


def breaker_transitions(metrics_text: str) -> Counter[str]:
    """`provider -> state` counts from the router's /metrics."""
    found: Counter[str] = Counter()
    pattern = re.compile(r'^llm_router_breaker_transitions_total\{([^}]*)\} ([0-9.e+]+)$', re.M)
    for labels, value in pattern.findall(metrics_text):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        found[f"{pairs.get('provider')} -> {pairs.get('to')}"] += int(float(value))
    return found


def table(t: Tally, transitions: Counter[str], killed: str, seconds: float) -> str:
    total = sum(t.routes.values()) + sum(t.errors.values())
    lines = ["| served by | requests | share |", "| --- | ---: | ---: |"]
    for label in ("tier 1", "tier 2", "tier 3", "cache_exact", "cache_semantic"):
        lines.append(f"| {label} | {t.routes[label]} | {t.routes[label] / total:.1%} |")
    for code, count in sorted(t.errors.items()):
        lines.append(f"| error {code} | {count} | {count / total:.1%} |")
    p50, p95 = np.percentile(t.latencies_ms, [50, 95]) if t.latencies_ms else (0.0, 0.0)
    saving = 1 - t.cost / t.tier3_cost if t.tier3_cost else 0.0
    moves = ", ".join(f"{k} x{v}" for k, v in sorted(transitions.items())) or "none"
    lines += [
        "",
        f"escalations (gate failed, next tier): {t.escalations}; answers still failing the gate at the cap: "
        f"{t.rejected_by_gate}",
        f"failovers (same tier, next provider): {t.failovers}; {killed} was killed mid-run",
        f"breaker transitions: {moves}",
        f"latency (end to end, simulated providers): p50 {p50:.0f} ms, p95 {p95:.0f} ms",
        f"cost: ${t.cost:.4f} vs always-tier-3 ${t.tier3_cost:.4f} on the same tokens -> saving {saving:.1%} "
        "(simulated providers at list prices)",
        f"{total} requests in {seconds:.1f} s; workload: held-out queries 55% ideal tier 1, 30% tier 2, 15% tier 3, "
        "plus repeats, paraphrases and JSON requests",
    ]
    return "\n".join(lines)


def failure(t: Tally, total: int) -> str | None:
    """Why the run does not stand as a result, if it does not: a saving measured on the requests
    that got through is not the workload's saving."""
    failed = sum(t.errors.values())
    if not failed:
        return None
    return (f"{failed} of {total} requests failed ({t.errors['RESOURCE_EXHAUSTED']} refused as overload); "
            "the figures above leave them out")
