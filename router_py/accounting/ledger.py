"""Per-tenant totals of cost and saving, fed by every completion and exported as metrics."""

from __future__ import annotations

import threading
from collections import defaultdict

from pydantic import BaseModel

from router_py.completion import Completion
from router_py.providers.types import Usage
from router_py.telemetry.metrics import metrics


class TenantTotals(BaseModel):
    requests: int = 0
    # Requests that failed or were cut: their cost (what was bought on the way) is in `cost_usd`.
    failed: int = 0
    cost_usd: float = 0.0
    tier3_cost_usd: float = 0.0
    saved_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: defaultdict[str, TenantTotals] = defaultdict(TenantTotals)

    def record(self, tenant: str, completion: Completion) -> None:
        with self._lock:
            t = self._tenants[tenant]
            t.requests += 1
            t.cost_usd += completion.cost_usd
            t.tier3_cost_usd += completion.tier3_cost_usd
            t.saved_usd += completion.saved_usd
            t.input_tokens += completion.usage.input_tokens
            t.output_tokens += completion.usage.output_tokens
        m = metrics()
        m.cost.add(completion.cost_usd, {"tenant": tenant})
        m.saved.add(completion.saved_usd, {"tenant": tenant})
        tier = {"tier": str(completion.tier)}
        m.tokens.add(completion.usage.input_tokens, {**tier, "direction": "input"})
        m.tokens.add(completion.usage.output_tokens, {**tier, "direction": "output"})
        if completion.escalations:
            m.escalations.add(completion.escalations, {"from_tier": str(completion.decision.tier)})
        if completion.failovers:
            m.failovers.add(completion.failovers, {"tier": str(completion.tier)})

    def record_failure(self, tenant: str, cost_usd: float, usage: Usage) -> None:
        """A request that failed or was cut after the router paid for some of it: the spend is
        real, so it counts in cost; nothing was served, so it saves nothing."""
        with self._lock:
            t = self._tenants[tenant]
            t.requests += 1
            t.failed += 1
            t.cost_usd += cost_usd
            t.input_tokens += usage.input_tokens
            t.output_tokens += usage.output_tokens
        if cost_usd > 0:
            metrics().cost.add(cost_usd, {"tenant": tenant})

    def totals(self) -> dict[str, TenantTotals]:
        with self._lock:
            return {k: v.model_copy() for k, v in self._tenants.items()}
