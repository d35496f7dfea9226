"""Golden-set evaluation (`llm-router eval golden`): report maths, the cost-vs-safety curve,
and the baselines it compares the router with (baselines.py, curve.py, compare.py, html.py)."""

from router_tools.eval.golden import (
    GoldenReport,
    ItemReport,
    Latency,
    RoutedItem,
    SliceReport,
    TierPrice,
    golden_report,
    slice_report,
)

__all__ = [
    "GoldenReport",
    "ItemReport",
    "Latency",
    "RoutedItem",
    "SliceReport",
    "TierPrice",
    "golden_report",
    "slice_report",
]
