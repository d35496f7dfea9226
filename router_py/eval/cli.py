"""`llm-router eval golden`: score the live router (and a length-only baseline) on a golden set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import LimitsSpec, RouterConfig
from router_py.eval.baseline import fit_length_baseline
from router_py.eval.golden import GoldenReport, RoutedItem, SliceReport, TierPrice, golden_report
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import RouteRequest
from router_py.train.dataset import GoldenItem, load_golden

DEFAULT_BASELINE_TRAIN = Path("data/routing/train.jsonl")


class GoldenEvaluation(GoldenReport):
    """`eval golden --json`: the router's report (DESIGN.md's fields at the top level), with the
    length-only baseline beside it."""

    baseline_length: SliceReport | None
    baseline_by_source: dict[str, SliceReport] | None


def add_eval_commands(sub: Any) -> None:
    evaluate = sub.add_parser("eval", help="evaluation tools")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True)
    golden = eval_sub.add_parser("golden", help="golden-set report")
    golden.add_argument("file", type=Path)
    golden.add_argument("--policy", type=Path, help="manifest file or folder (default: the embedded default)")
    golden.add_argument("--baseline-train", type=Path, default=DEFAULT_BASELINE_TRAIN,
                        help="labelled JSONL the length-only baseline is fitted on (skipped if absent)")
    golden.add_argument("--json", action="store_true")
    golden.set_defaults(handler=run_golden)


def evaluation_config(path: Path | None) -> RouterConfig:
    """The policy under test, minus rate limits: they guard production traffic, and replaying a
    file at full speed would otherwise turn them into spurious downgrades."""
    config = load_config(path or embedded_default_dir())
    policy = config.policy.model_copy(update={"limits": LimitsSpec()})
    return config.model_copy(update={"policy": policy})


def tier_prices(config: RouterConfig) -> dict[int, TierPrice]:
    """Each tier priced at its first (preferred) provider, as decisions are."""
    return {
        t.tier: TierPrice(input_per_mtok=t.providers[0].price_input_per_mtok, output_per_mtok=t.providers[0].price_output_per_mtok)
        for t in config.tiers
    }


def route_items(engine: RoutingEngine, items: list[GoldenItem]) -> tuple[list[RoutedItem], list[int]]:
    routed: list[RoutedItem] = []
    tokens: list[int] = []
    for item in items:
        d = engine.decide(RouteRequest(tenant=item.tenant or "eval", text=item.query))
        scores = (d.scores[0], d.scores[1], d.scores[2])
        routed.append(RoutedItem(id=item.id, tier=d.tier, reason=d.reason, confidence=d.confidence, scores=scores,
                                 latency_ms=d.stages.total_us / 1000))
        tokens.append(d.input_tokens)
    return routed, tokens


def evaluate_golden(engine: RoutingEngine, config: RouterConfig, items: list[GoldenItem],
                    baseline_train: list[GoldenItem] | None) -> GoldenEvaluation:
    engine.apply(config)
    prices = tier_prices(config)
    output_tokens = config.policy.expected_output_tokens
    routed, tokens = route_items(engine, items)
    report = golden_report(items, routed, prices, tokens, output_tokens)
    if baseline_train is None:
        return GoldenEvaluation(**report.model_dump(), baseline_length=None, baseline_by_source=None)
    train_tokens = [engine.core.count_tokens(it.query) for it in baseline_train]
    baseline = fit_length_baseline(baseline_train, train_tokens)
    base = golden_report(items, baseline.route(items, tokens), prices, tokens, output_tokens)
    overall = SliceReport(**base.model_dump(include=set(SliceReport.model_fields)))
    return GoldenEvaluation(**report.model_dump(), baseline_length=overall, baseline_by_source=base.by_source)


def run_golden(args: argparse.Namespace) -> int:
    items = load_golden(args.file)
    config = evaluation_config(args.policy)
    engine = RoutingEngine.load(sessions=1)
    train = load_golden(args.baseline_train) if args.baseline_train.is_file() else None
    result = evaluate_golden(engine, config, items, train)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(format_table(result))
    return 0


def format_table(result: GoldenEvaluation) -> str:
    rows: list[tuple[str, SliceReport, SliceReport | None]] = [("all", result, result.baseline_length)]
    if result.tail is not None:
        rows.append(("tail", result.tail, None))
    for source, figures in result.by_source.items():
        rows.append((source, figures, (result.baseline_by_source or {}).get(source)))
    lines = [f"{'slice':<22}{'n':>6}{'acc':>7}{'under':>7}{'over':>7}{'cost':>7}{'regret':>8}   baseline acc/under/cost"]
    for name, r, b in rows:
        baseline = f"{b.accuracy:.3f}/{b.under_routed:.3f}/{b.cost_ratio:.3f}" if b else "-"
        lines.append(f"{name:<22}{r.n:>6}{r.accuracy:>7.3f}{r.under_routed:>7.3f}{r.over_routed:>7.3f}"
                     f"{r.cost_ratio:>7.3f}{r.regret:>8.3f}   {baseline}")
    lat = result.latency_ms
    lines.append(f"decision latency p50 {lat.p50:.2f} ms, p99 {lat.p99:.2f} ms")
    return "\n".join(lines)
