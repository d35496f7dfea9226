"""`llm-router eval golden`: score the live router, and baselines trained on the training split,
on a golden set; optionally as a self-contained HTML page."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import LimitsSpec, RouterConfig
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import RouteRequest
from router_py.runtime import model_dir
from router_tools.eval.baselines import (
    BASELINES,
    Corpus,
    EmbedFn,
    Prediction,
    cached_embeddings,
    file_digest,
    run_baselines,
)
from router_tools.eval.compare import (
    BaselineReport,
    Bootstrap,
    LabelKinds,
    Pricing,
    TrainingSet,
    baseline_report,
    curve_for,
    label_kinds,
)
from router_tools.eval.curve import RESAMPLES, SEED, Curve
from router_tools.eval.domains import format_domains
from router_tools.eval.files import load_eval_file
from router_tools.eval.golden import Figures, GoldenReport, RoutedItem, SliceReport, TierPrice, golden_report
from router_tools.eval.html import ROUTER, PageInputs, RouterView, render_page, write_curves_png
from router_tools.train.dataset import GoldenItem
from router_tools.train.embedder import core_embed_fn

DEFAULT_BASELINE_TRAIN = Path("data/routing/train.jsonl")
EMBED_CACHE = "eval-cache"  # under the models folder: it lives and dies with the embedder it came from


class GoldenEvaluation(GoldenReport):
    """`eval golden --json`: the router's report (docs/contracts.md's fields at the top level), its
    cost-vs-safety `curve`, its figures per label kind, and the same for each baseline."""

    curve: Curve
    labels: LabelKinds
    baselines: dict[str, BaselineReport]  # empty when no training file was found
    baseline_train: TrainingSet | None


@dataclass(frozen=True)
class Training:
    path: Path
    items: list[GoldenItem]


@dataclass(frozen=True)
class Embedder:
    """The router's embedder as a batch function, and where its embeddings are cached."""

    embed: EmbedFn
    key: str  # changes when the embedder does
    cache_dir: Path | None


def add_eval_commands(sub: Any) -> None:
    evaluate = sub.add_parser("eval", help="evaluation tools")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True)
    golden = eval_sub.add_parser("golden", help="golden-set report, beside baselines")
    golden.add_argument("file", type=Path)
    golden.add_argument("--policy", type=Path, help="manifest file or folder (default: the embedded default)")
    golden.add_argument("--baseline-train", type=Path, default=DEFAULT_BASELINE_TRAIN,
                        help="labelled JSONL the baselines are trained on (baselines skipped if absent)")
    golden.add_argument("--baselines", default=",".join(BASELINES),
                        help=f"comma-separated, from {','.join(BASELINES)}; empty for none")
    golden.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples for the curve")
    golden.add_argument("--seed", type=int, default=SEED, help="bootstrap seed")
    golden.add_argument("--html", type=Path, help="also write a self-contained HTML report here")
    golden.add_argument("--curve-png", type=Path, metavar="PATH",
                        help="also write the cost-vs-safety curves (the report's first plot) as a PNG here")
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
                                 latency_ms=d.stages.total_us / 1000, domain=d.domain))
        tokens.append(d.input_tokens)
    return routed, tokens


def core_embedder() -> Embedder:
    """The Rust embedder routing uses (as `train` does), so kNN neighbours are the router's own."""
    models = model_dir(required=("embedder/manifest.json",))
    return Embedder(embed=core_embed_fn(models), key=file_digest(models / "embedder" / "manifest.json"),
                    cache_dir=models / EMBED_CACHE)


def _lazy(factory: Callable[[], Embedder]) -> Callable[[], Embedder]:
    made: list[Embedder] = []

    def get() -> Embedder:
        if not made:
            made.append(factory())
        return made[0]

    return get


def _corpus(path: Path, items: Sequence[GoldenItem], tokens: Sequence[int], embedder: Callable[[], Embedder]) -> Corpus:
    def embed() -> np.ndarray:
        e = embedder()
        return cached_embeddings(path, [it.query for it in items], e.embed, e.cache_dir, e.key)

    return Corpus(items=items, tokens=tokens, embed=embed)


@dataclass(frozen=True)
class Evaluation:
    report: GoldenEvaluation
    page: PageInputs


def evaluate_golden(engine: RoutingEngine, config: RouterConfig, path: Path, items: list[GoldenItem],
                    training: Training | None, *, baselines: Sequence[str] = BASELINES,
                    boot: Bootstrap = Bootstrap(), embedder: Callable[[], Embedder] = core_embedder) -> Evaluation:
    engine.apply(config)
    prices = tier_prices(config)
    output_tokens = config.policy.expected_output_tokens
    routed, tokens = route_items(engine, items)
    report = golden_report(items, routed, prices, tokens, output_tokens)
    pricing = Pricing(prices=prices, input_tokens=tokens, output_tokens=output_tokens)
    costs = pricing.costs()
    scores = np.asarray([r.scores for r in routed], dtype=np.float64)
    tiers = np.asarray([r.tier for r in routed], dtype=np.int64)
    curve = curve_for(items, scores, pricing, boot, costs)
    labels = label_kinds(items, tiers, scores, pricing, boot, costs)

    predictions: dict[str, Prediction] = {}
    trained_on = None
    if training is not None and baselines:
        shared = _lazy(embedder)
        train_tokens = [engine.core.count_tokens(it.query) for it in training.items]
        predictions = run_baselines(_corpus(training.path, training.items, train_tokens, shared),
                                    _corpus(path, items, tokens, shared), baselines)
        trained_on = TrainingSet(path=str(training.path), sha256=file_digest(training.path), n=len(training.items))
    base_reports = {name: baseline_report(items, p, pricing, boot) for name, p in predictions.items()}
    result = GoldenEvaluation(**report.model_dump(), curve=curve, labels=labels, baselines=base_reports,
                              baseline_train=trained_on)

    views = {ROUTER: RouterView(figures=result, curve=curve, scores=scores, by_source=result.by_source,
                                labels={"spec": labels.spec, "outcome": labels.outcome})}
    for name, b in base_reports.items():
        views[name] = RouterView(figures=b, curve=b.curve, scores=predictions[name].scores, by_source=b.by_source,
                                 labels={"spec": b.labels.spec, "outcome": b.labels.outcome})
    ideal = np.asarray([it.ideal_tier for it in items], dtype=np.int64)
    page = PageInputs(title=f"llm-router eval golden {path.name}", ideal=ideal, costs=costs, routers=views)
    return Evaluation(report=result, page=page)


def _baseline_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; known: {', '.join(BASELINES)}")
    return names


def run_golden(args: argparse.Namespace) -> int:
    if args.resamples < 0:
        raise ValueError("--resamples must be >= 0")
    names = _baseline_names(args.baselines)
    items = load_eval_file(args.file)
    training = (Training(args.baseline_train, load_eval_file(args.baseline_train))
                if names and args.baseline_train.is_file() else None)
    config = evaluation_config(args.policy)
    engine = RoutingEngine.load(sessions=1)
    done = evaluate_golden(engine, config, args.file, items, training, baselines=names,
                           boot=Bootstrap(resamples=args.resamples, seed=args.seed), embedder=core_embedder)
    if args.html is not None:
        args.html.write_text(render_page(done.page), encoding="utf-8")
    if args.curve_png is not None:
        write_curves_png(done.page, args.curve_png)
    if args.json:
        print(done.report.model_dump_json(indent=2))
    else:
        print(format_table(done.report))
    return 0


def _curve_cell(curve: Curve, budget: float) -> str:
    point = next(p for p in curve.points if p.budget == budget)
    if point.cost_ratio is None:
        return "-"
    ci = f" [{point.ci95[0]:.3f},{point.ci95[1]:.3f}]" if point.ci95 else ""
    return f"{point.cost_ratio:.3f}{ci}"


def format_table(result: GoldenEvaluation) -> str:
    baseline = result.baselines.get("length")
    rows: list[tuple[str, SliceReport, Figures | None]] = [("all", result, baseline)]
    if result.tail is not None:
        rows.append(("tail", result.tail, None))
    for source, figures in result.by_source.items():
        rows.append((source, figures, baseline.by_source.get(source) if baseline else None))
    lines = [f"{'slice':<22}{'n':>6}{'acc':>7}{'under':>7}{'over':>7}{'cost':>7}{'regret':>8}   length acc/under/cost"]
    for name, r, b in rows:
        base = f"{b.accuracy:.3f}/{b.under_routed:.3f}/{b.cost_ratio:.3f}" if b else "-"
        lines.append(f"{name:<22}{r.n:>6}{r.accuracy:>7.3f}{r.under_routed:>7.3f}{r.over_routed:>7.3f}"
                     f"{r.cost_ratio:>7.3f}{r.regret:>8.3f}   {base}")
    lat = result.latency_ms
    lines.append(f"decision latency p50 {lat.p50:.2f} ms, p99 {lat.p99:.2f} ms")
    curves = {ROUTER: result.curve, **{n: b.curve for n, b in result.baselines.items()}}
    lines.append("")
    lines.append(f"cost ratio within an under-routing budget (95 % bootstrap, {result.curve.resamples} resamples)")
    lines.append(f"{'router':<14}" + "".join(f"{p.budget:>24.0%}" for p in result.curve.points))
    for name, curve in curves.items():
        lines.append(f"{name:<14}" + "".join(f"{_curve_cell(curve, p.budget):>24}" for p in result.curve.points))
    for kind in ("spec", "outcome"):
        mine = getattr(result.labels, kind)
        if mine is None:
            continue
        lines.append("")
        lines.append(f"against {kind}_tier only ({mine.n} items): acc/under/cost")
        for name, figures in {ROUTER: mine, **{n: getattr(b.labels, kind) for n, b in result.baselines.items()}}.items():
            if figures is not None:
                lines.append(f"  {name:<14}{figures.accuracy:.3f}/{figures.under_routed:.3f}/{figures.cost_ratio:.3f}")
    lines += ["", format_domains(result.domains)]
    return "\n".join(lines)
