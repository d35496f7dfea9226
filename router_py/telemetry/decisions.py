"""Every decision, from `Route` or from `Complete`, is observed the same way."""

from __future__ import annotations

from router_py import _core
from router_py.routing.request import DecisionRecord
from router_py.telemetry.metrics import metrics
from router_py.telemetry.tracing import record_decision


def observe_decision(decision: _core.Decision) -> DecisionRecord:
    """The decision's record, counted by tier and reason and traced stage by stage."""
    record = DecisionRecord.from_core(decision)
    metrics().decisions.add(1, {"tier": str(record.tier), "reason": record.reason})
    record_decision(record)
    return record
