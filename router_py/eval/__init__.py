"""Golden-set evaluation maths (`llm-router eval golden`) and the length-only baseline."""

from router_py.eval.baseline import LengthBaseline, fit_length_baseline
from router_py.eval.golden import (
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
    "LengthBaseline",
    "RoutedItem",
    "SliceReport",
    "TierPrice",
    "fit_length_baseline",
    "golden_report",
    "slice_report",
]
