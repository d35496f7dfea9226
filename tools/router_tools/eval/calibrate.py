"""`llm-router calibrate`: the cheapest thresholds that meet a quality SLO on your own traffic.

The golden set is routed once by the live router; the tier thresholds (`maxUnderrouteRisk`,
`confidenceThreshold`) are then swept together on those decisions (tier_sweep.py), and with
`--pairs` the semantic cache's (`similarityThreshold`, `verifierThreshold`) on labelled query
pairs (cache_sweep.py). It prints the picked setting beside the live policy's, each with
bootstrap 95 % intervals, and with `--write-policy` writes the live RoutingPolicy with the
picked thresholds in, checked by the loader `serve --config` uses and by the core.

Every input is read and checked before the router is loaded, and the policy file is written
last and atomically: a run that fails leaves no file, and never half of one.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel

from router_py.config.manifests import RoutingPolicyManifest, embedded_default_dir, load_config, policy_manifest
from router_py.config.schema import ClassifierSpec, RouterConfig, SemanticCacheSpec
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import RouteRequest
from router_py.runtime import model_dir, ort_library
from router_tools.eval import cache_sweep, tier_sweep
from router_tools.eval.baselines import cached_embeddings, file_digest
from router_tools.eval.cache_sweep import PairChecks, PairRow, PairScores, load_pairs
from router_tools.eval.cli import EMBED_CACHE, Embedder, evaluation_config, tier_prices
from router_tools.eval.compare import Pricing
from router_tools.eval.curve import RESAMPLES, SEED
from router_tools.eval.files import load_eval_file
from router_tools.eval.golden import slice_report
from router_tools.eval.tier_sweep import TierInputs, Window, serve_row
from router_tools.train.dataset import GoldenItem

DEFAULT_FALSE_HIT_BUDGET = 0.01
# A pairs file holds paraphrases and near misses, rarely questions that merely share a topic; a
# live cache meets those all the time, and below this similarity it would compare them. The
# verifier's trainer, which adds such neighbours, picked 0.81 on its development pairs.
DEFAULT_MIN_SIMILARITY = 0.75
EVAL_TENANT = "eval"  # the tenant of items without one, as `eval golden` routes them


class CalibrationError(ValueError):
    """Input the calibration cannot use, or a budget no setting meets; one line."""


# ---- the report (`calibrate --json`) ----------------------------------------------------------

class TierSetting(BaseModel):
    """One (risk, gate) setting's figures on the golden set, as `eval golden` computes them."""

    max_underroute_risk: float
    confidence_threshold: float
    under_routed: float
    under_routed_ci95: tuple[float, float] | None  # None with --resamples 0
    cost_ratio: float  # routed cost over always-tier-3 cost
    cost_ratio_ci95: tuple[float, float] | None
    accuracy: float
    over_routed: float
    regret: float


class TierCalibration(BaseModel):
    quality_slo: float  # the under-routing budget, a fraction
    n: int
    settings_tried: int
    current: TierSetting
    calibrated: TierSetting


class CacheSetting(BaseModel):
    """One (similarity, verifier) setting's rates on the pairs."""

    similarity_threshold: float
    verifier_threshold: float  # 0: verifier off
    paraphrase_hits: int
    paraphrase_hit_rate: float
    paraphrase_hit_rate_ci95: tuple[float, float] | None
    false_hits: int
    false_hit_rate: float
    false_hit_rate_ci95: tuple[float, float] | None


class CacheCalibration(BaseModel):
    false_hit_budget: float
    min_similarity: float  # the lowest similarity threshold the sweep could pick
    pairs_file: str
    pairs_sha256: str
    paraphrases: int
    near_misses: int
    # False when the live policy's semantic cache is off: its `current` rates are then 0, and
    # the calibrated thresholds (written all the same) apply once it is turned on.
    enabled: bool
    settings_tried: int
    current: CacheSetting
    calibrated: CacheSetting


class CalibrationReport(BaseModel):
    file: str
    sha256: str
    policy: str  # the live policy's name: the one calibrated, and written back
    resamples: int
    seed: int
    tier: TierCalibration
    cache: CacheCalibration | None  # None without --pairs
    written_policy: str | None  # the path written, None without --write-policy


# ---- the command ------------------------------------------------------------------------------

def add_calibrate_command(sub: Any) -> None:
    cal = sub.add_parser("calibrate", help="cheapest tier and cache thresholds within a quality SLO")
    cal.add_argument("file", type=Path, help="golden set (JSONL, as for eval golden)")
    cal.add_argument("--quality-slo", type=float, required=True, metavar="Q",
                     help="largest share of items routed below their ideal tier, in (0, 1): 0.03 = 3 %%")
    cal.add_argument("--pairs", type=Path, help="cached/new query pairs (JSONL: a, b, kind) to calibrate the cache on")
    cal.add_argument("--false-hit-budget", type=float, metavar="B",
                     help=f"largest share of near misses served from the cache, in (0, 1) "
                          f"(default {DEFAULT_FALSE_HIT_BUDGET}; needs --pairs)")
    cal.add_argument("--min-similarity", type=float, default=DEFAULT_MIN_SIMILARITY, metavar="S",
                     help=f"lowest similarity threshold to propose, in (0, 1] (default {DEFAULT_MIN_SIMILARITY}: "
                          f"pairs files rarely hold unrelated questions, so lower settings are unmeasured)")
    cal.add_argument("--write-policy", type=Path, metavar="PATH",
                     help="write the live RoutingPolicy with the calibrated thresholds here (YAML)")
    cal.add_argument("--config", type=Path, metavar="PATH", help="manifest file or folder (default: the embedded default)")
    cal.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples for the intervals")
    cal.add_argument("--seed", type=int, default=SEED, help="bootstrap seed")
    cal.add_argument("--json", action="store_true")
    cal.set_defaults(handler=run_calibrate)


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:  # NaN fails too
        raise CalibrationError(f"{name} must be a fraction in (0, 1), e.g. 0.03 for 3 %; got {value}")


@dataclass(frozen=True)
class Inputs:
    """Everything read from disk, checked before the router is loaded."""

    path: Path
    items: list[GoldenItem]
    pairs: tuple[Path, list[PairRow]] | None
    config: RouterConfig
    source: tuple[Path, RoutingPolicyManifest]  # the live policy as written, and its file


def read_inputs(args: argparse.Namespace) -> Inputs:
    _check_fraction("--quality-slo", args.quality_slo)
    if args.false_hit_budget is not None:
        if args.pairs is None:
            raise CalibrationError("--false-hit-budget needs --pairs (the cache is calibrated on labelled pairs)")
        _check_fraction("--false-hit-budget", args.false_hit_budget)
    if not 0.0 < args.min_similarity <= 1.0:
        raise CalibrationError(f"--min-similarity must be in (0, 1]; got {args.min_similarity}")
    if args.resamples < 0:
        raise CalibrationError("--resamples must be >= 0")
    items = load_eval_file(args.file)
    pairs = (args.pairs, load_pairs(args.pairs)) if args.pairs is not None else None
    where = args.config or embedded_default_dir()
    config = evaluation_config(where)
    source = policy_manifest(where)
    if args.write_policy is not None:
        _check_target(args.write_policy, where, source[0])
    return Inputs(path=args.file, items=items, pairs=pairs, config=config, source=source)


def _check_target(target: Path, config: Path, source_file: Path) -> None:
    """Refuses, before any work, a target the write would fail on or do harm with: beside the
    live policy in the folder `serve --config` reads (two RoutingPolicies, which it refuses),
    or over a file that holds the tiers too (they would be lost)."""
    if target.is_dir():
        raise CalibrationError(f"--write-policy {target}: is a folder; give a file path")
    if not target.parent.is_dir():
        raise CalibrationError(f"--write-policy {target}: no such folder {target.parent}")
    if target.resolve() == source_file.resolve():
        documents = [d for d in yaml.safe_load_all(source_file.read_text(encoding="utf-8")) if d is not None]
        if len(documents) > 1:
            raise CalibrationError(f"--write-policy {target}: it holds {len(documents) - 1} other manifest(s) "
                                   f"beside the RoutingPolicy, which writing the policy alone would lose")
    if config.is_dir() and target.resolve().parent == config.resolve() and target.resolve() != source_file.resolve():
        raise CalibrationError(f"--write-policy {target}: {config} already holds a RoutingPolicy ({source_file.name}); "
                               f"write over that file or outside the folder")


def run_calibrate(args: argparse.Namespace) -> int:
    inputs = read_inputs(args)
    engine = RoutingEngine.load(sessions=1)
    engine.apply(inputs.config)
    budget = args.false_hit_budget if args.false_hit_budget is not None else DEFAULT_FALSE_HIT_BUDGET
    report, policy = calibrate(engine, inputs, args.quality_slo, budget, resamples=args.resamples, seed=args.seed,
                               write_to=args.write_policy, min_similarity=args.min_similarity)
    if args.write_policy is not None and policy is not None:
        write_policy(args.write_policy, policy_yaml(policy, report), engine, inputs.config)
    print(report.model_dump_json(indent=2) if args.json else format_table(report))
    return 0


# ---- routing the golden set once --------------------------------------------------------------

@dataclass(frozen=True)
class Routed:
    """The router's decisions on the golden set at the live policy; row i is item i."""

    tiers: tier_sweep.I64
    scores: tier_sweep.F32
    confidence: tier_sweep.F32
    domains: list[str]
    tenants: list[str]
    tokens: list[int]


def route_golden(engine: RoutingEngine, items: Sequence[GoldenItem]) -> Routed:
    tiers, scores, confidence, domains, tenants, tokens = [], [], [], [], [], []
    for item in items:
        tenant = item.tenant or EVAL_TENANT
        d = engine.decide(RouteRequest(tenant=tenant, text=item.query))
        tiers.append(d.tier)
        scores.append(d.scores)
        confidence.append(d.confidence)
        domains.append(d.domain)
        tenants.append(tenant)
        tokens.append(d.input_tokens)
    return Routed(tiers=np.asarray(tiers, dtype=np.int64), scores=np.asarray(scores, dtype=np.float32).reshape(-1, 3),
                  confidence=np.asarray(confidence, dtype=np.float32), domains=domains, tenants=tenants, tokens=tokens)


def provider_moves(engine: RoutingEngine, tenant: str) -> dict[int, int]:
    """Tier t -> the first tier from t up with a provider `tenant` may use (residency rules; no
    request region in a golden set), as route.rs `select_providers` walks up."""
    usable = [t for t in (1, 2, 3) if engine.core.tier_candidates(t, tenant)]
    moves = {}
    for tier in (1, 2, 3):
        above = [t for t in usable if t >= tier]
        if not above:
            raise CalibrationError(f"tenant {tenant!r}: no provider at tier {tier} or above may serve it")
        moves[tier] = above[0]
    return moves


def tier_inputs(engine: RoutingEngine, config: RouterConfig, items: Sequence[GoldenItem], routed: Routed) -> TierInputs:
    """The sweep's inputs: the router's probabilities, and for each item what overrides and
    providers make of each tier the gate may leave (tier_sweep.py, steps 3 and 4)."""
    overrides = config.policy.overrides
    domains = {o.domain: Window(min=o.min_tier) for o in overrides.domains}
    tenants = {o.tenant: Window(min=o.min_tier or 1, max=o.max_tier or 3) for o in overrides.tenants}
    moves = {t: provider_moves(engine, t) for t in sorted(set(routed.tenants))}
    serve = []
    for domain, tenant in zip(routed.domains, routed.tenants):
        windows = [w for w in (domains.get(domain), tenants.get(tenant)) if w is not None]
        serve.append(serve_row(windows, moves[tenant]))
    pricing = Pricing(prices=tier_prices(config), input_tokens=routed.tokens,
                      output_tokens=config.policy.expected_output_tokens)
    return TierInputs(scores=routed.scores, confidence=routed.confidence,
                      serve=np.asarray(serve, dtype=np.int64).reshape(-1, 3),
                      ideal=np.asarray([it.ideal_tier for it in items], dtype=np.int64), costs=pricing.costs())


def check_replica(inputs: TierInputs, routed: Routed, items: Sequence[GoldenItem], classifier: ClassifierSpec) -> None:
    """The sweep's figures are only the router's if its replica decides as the router did at
    the live setting; refuse to calibrate on any disagreement rather than mislead."""
    replica = tier_sweep.replica_tiers(inputs, classifier.max_underroute_risk, classifier.confidence_threshold)
    wrong = np.flatnonzero(replica != routed.tiers)
    if len(wrong):
        i = int(wrong[0])
        raise CalibrationError(
            f"{len(wrong)} item(s) decided differently by calibrate's replica of the tier decision than by the router "
            f"(first: {items[i].id!r}, router tier {routed.tiers[i]}, replica tier {replica[i]}); "
            f"this is a bug in calibrate, please report it")


# ---- the tier sweep ---------------------------------------------------------------------------

def exact_f32(value: float) -> float:
    """The shortest decimal that the core (which parses f64 then narrows to f32) reads back as
    the same f32 `value`: thresholds read well in a policy and decide exactly as swept."""
    f = np.float32(value)
    short = float(np.format_float_positional(f, unique=True, trim="-"))
    return short if np.float32(short) == f else float(f)


def tier_setting(inputs: TierInputs, tokens: Sequence[int], config: RouterConfig, risk: float, gate: float,
                 spread: tier_sweep.Spread | None) -> TierSetting:
    tiers = tier_sweep.replica_tiers(inputs, risk, gate)
    figures = slice_report(inputs.ideal.tolist(), tiers.tolist(), tokens, [0.0] * len(tokens), tier_prices(config),
                           config.policy.expected_output_tokens)
    return TierSetting(max_underroute_risk=risk, confidence_threshold=gate, under_routed=figures.under_routed,
                       under_routed_ci95=spread.under_routed if spread else None, cost_ratio=figures.cost_ratio,
                       cost_ratio_ci95=spread.cost_ratio if spread else None, accuracy=figures.accuracy,
                       over_routed=figures.over_routed, regret=figures.regret)


def calibrate_tiers(inputs: TierInputs, tokens: Sequence[int], config: RouterConfig, slo: float, path: Path,
                    resamples: int, seed: int) -> TierCalibration:
    pick = tier_sweep.pick_setting(inputs, slo)
    if pick is None:
        least = tier_sweep.lowest_under_routing(inputs)
        raise CalibrationError(
            f"no setting keeps under-routing within {slo:.2%} on {path}: the least any reaches is {least:.2%} "
            f"(every item at the highest tier its overrides allow); raise --quality-slo or check the labels")
    classifier = config.policy.classifier
    live = (classifier.max_underroute_risk, classifier.confidence_threshold)
    picked = (exact_f32(pick.risk), exact_f32(pick.gate))
    spreads = tier_sweep.bootstrap_settings(inputs, [tier_sweep.replica_tiers(inputs, *s) for s in (live, picked)],
                                            resamples, seed)
    return TierCalibration(
        quality_slo=slo, n=len(inputs.ideal), settings_tried=pick.settings,
        current=tier_setting(inputs, tokens, config, *live, spreads[0]),
        calibrated=tier_setting(inputs, tokens, config, *picked, spreads[1]))


# ---- the cache sweep --------------------------------------------------------------------------

def pair_embedder(max_tokens: int) -> Embedder:
    """The router's embedder, truncating at the policy's `maxTokens` as routing does."""
    from router_py import _core

    models = model_dir(required=("embedder/manifest.json",))
    embedder = _core.Embedder(models / "embedder", ort_library=ort_library(), sessions=1, intra_threads=2)

    def embed(texts: Sequence[str]) -> np.ndarray:
        raw = embedder.embed_batch(list(texts), max_tokens, 64)
        return np.frombuffer(raw, dtype="<f4").reshape(len(texts), embedder.dim)

    manifest = file_digest(models / "embedder" / "manifest.json")
    key = hashlib.sha256(f"{manifest}:{max_tokens}".encode()).hexdigest()
    return Embedder(embed=embed, key=key, cache_dir=models / EMBED_CACHE)


def pair_checks() -> PairChecks:
    return cache_sweep.core_checks()


def score_pair_file(path: Path, pairs: Sequence[PairRow], embedder: Embedder, checks: PairChecks) -> PairScores:
    texts = [p.a for p in pairs] + [p.b for p in pairs]
    vectors = cached_embeddings(path, texts, embedder.embed, embedder.cache_dir, embedder.key)
    return cache_sweep.score_pairs(pairs, vectors[: len(pairs)], vectors[len(pairs):], checks)


def cache_setting(scores: PairScores, similarity: float, verifier: float, enabled: bool,
                  spread: cache_sweep.RateSpread | None) -> CacheSetting:
    hit = cache_sweep.served(scores, similarity, verifier) & enabled
    para = int(hit[~scores.near_miss].sum())
    false = int(hit[scores.near_miss].sum())
    return CacheSetting(similarity_threshold=similarity, verifier_threshold=verifier,
                        paraphrase_hits=para, paraphrase_hit_rate=para / scores.n_para,
                        paraphrase_hit_rate_ci95=spread.paraphrase_hit_rate if spread else None,
                        false_hits=false, false_hit_rate=false / scores.n_near,
                        false_hit_rate_ci95=spread.false_hit_rate if spread else None)


def calibrate_cache(scores: PairScores, semantic: SemanticCacheSpec, budget: float, path: Path,
                    resamples: int, seed: int, min_similarity: float = 0.0) -> CacheCalibration:
    pick = cache_sweep.pick_setting(scores, budget, min_similarity)
    if pick is None:
        raise CalibrationError(f"no cache setting with similarity >= {min_similarity:g} keeps false hits within "
                               f"{budget:.2%} of the near misses in {path}; raise --false-hit-budget")
    live = (semantic.similarity_threshold, semantic.verifier_threshold)
    picked = (exact_f32(pick.similarity), exact_f32(pick.verifier))
    masks = [cache_sweep.served(scores, *live) & semantic.enabled, cache_sweep.served(scores, *picked)]
    spreads = cache_sweep.bootstrap_settings(scores, masks, resamples, seed)
    return CacheCalibration(
        false_hit_budget=budget, min_similarity=min_similarity, pairs_file=str(path), pairs_sha256=file_digest(path), paraphrases=scores.n_para,
        near_misses=scores.n_near, enabled=semantic.enabled, settings_tried=pick.settings,
        current=cache_setting(scores, *live, semantic.enabled, spreads[0]),
        calibrated=cache_setting(scores, *picked, True, spreads[1]))


# ---- putting it together ----------------------------------------------------------------------

def calibrate(engine: RoutingEngine, inputs: Inputs, slo: float, false_hit_budget: float, *,
              resamples: int = RESAMPLES, seed: int = SEED, write_to: Path | None = None,
              embedder: Callable[[int], Embedder] | None = None,
              checks: Callable[[], PairChecks] | None = None,
              min_similarity: float = DEFAULT_MIN_SIMILARITY) -> tuple[CalibrationReport, RoutingPolicyManifest | None]:
    """The report, and (when `write_to` is set) the live policy with the picked thresholds.
    `engine` must have `inputs.config` applied. `embedder` and `checks` default to the router's."""
    config = inputs.config
    routed = route_golden(engine, inputs.items)
    tiers = tier_inputs(engine, config, inputs.items, routed)
    check_replica(tiers, routed, inputs.items, config.policy.classifier)
    tier = calibrate_tiers(tiers, routed.tokens, config, slo, inputs.path, resamples, seed)
    cache = None
    if inputs.pairs is not None:
        pairs_path, pairs = inputs.pairs
        make_embedder = embedder or pair_embedder
        scores = score_pair_file(pairs_path, pairs, make_embedder(config.policy.classifier.max_tokens),
                                 (checks or pair_checks)())
        cache = calibrate_cache(scores, config.policy.cache.semantic, false_hit_budget, pairs_path, resamples, seed,
                                min_similarity)
    report = CalibrationReport(file=str(inputs.path), sha256=file_digest(inputs.path), policy=config.policy.name,
                               resamples=resamples, seed=seed, tier=tier, cache=cache,
                               written_policy=str(write_to) if write_to is not None else None)
    policy = calibrated_policy(inputs.source[1], tier, cache) if write_to is not None else None
    return report, policy


# ---- the policy written -----------------------------------------------------------------------

def calibrated_policy(live: RoutingPolicyManifest, tier: TierCalibration,
                      cache: CacheCalibration | None) -> RoutingPolicyManifest:
    """The live policy as written, with the calibrated thresholds in; nothing else changes."""
    spec = live.spec
    picked = tier.calibrated
    classifier = spec.classifier.model_copy(update={"max_underroute_risk": picked.max_underroute_risk,
                                                    "confidence_threshold": picked.confidence_threshold})
    update: dict[str, Any] = {"classifier": classifier}
    if cache is not None:
        semantic = spec.cache.semantic.model_copy(update={
            "similarity_threshold": cache.calibrated.similarity_threshold,
            "verifier_threshold": cache.calibrated.verifier_threshold})
        update["cache"] = spec.cache.model_copy(update={"semantic": semantic})
    # Re-validated: model_copy does not, and the core will refuse what the schema would.
    body = spec.model_copy(update=update).model_dump(by_alias=True, exclude_unset=True, mode="json")
    return RoutingPolicyManifest.model_validate({**live.model_dump(exclude_unset=True, mode="json"), "spec": body})


def policy_yaml(policy: RoutingPolicyManifest, report: CalibrationReport) -> str:
    tier = report.tier.calibrated
    lines = [f"# Calibrated by `llm-router calibrate` on {report.file} (sha256 {report.sha256[:12]}, "
             f"{report.tier.n} items): under-routed {tier.under_routed:.2%} (SLO {report.tier.quality_slo:.2%}), "
             f"cost {tier.cost_ratio:.3f} of always tier 3."]
    if report.cache is not None:
        c = report.cache.calibrated
        lines.append(f"# Semantic cache on {report.cache.pairs_file}: paraphrase hits {c.paraphrase_hit_rate:.2%}, "
                     f"false hits {c.false_hit_rate:.2%} (budget {report.cache.false_hit_budget:.2%}).")
    body = yaml.safe_dump(policy.model_dump(by_alias=True, exclude_unset=True, mode="json"), sort_keys=False)
    return "\n".join(lines) + "\n" + body


def write_policy(path: Path, text: str, engine: RoutingEngine, config: RouterConfig) -> None:
    """Writes the manifest `text` to `path` only once it is known good: read back by
    `load_config` (what `serve --config` runs) and compiled by the core beside the live tiers.
    The swap is atomic, so a reader never sees half a file and a failure leaves none."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        loaded = load_config(tmp)
        engine.apply(loaded.model_copy(update={"tiers": config.tiers}))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


# ---- the table --------------------------------------------------------------------------------

def _ci(ci: tuple[float, float] | None, pct: bool) -> str:
    if ci is None:
        return ""
    return f" [{ci[0]:.1%}, {ci[1]:.1%}]" if pct else f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def format_table(report: CalibrationReport) -> str:
    t = report.tier
    cur, cal = t.current, t.calibrated
    rows: list[tuple[str, str, str]] = [
        ("maxUnderrouteRisk", f"{cur.max_underroute_risk:g}", f"{cal.max_underroute_risk:g}"),
        ("confidenceThreshold", f"{cur.confidence_threshold:g}", f"{cal.confidence_threshold:g}"),
        ("under-routed", f"{cur.under_routed:.1%}{_ci(cur.under_routed_ci95, True)}",
         f"{cal.under_routed:.1%}{_ci(cal.under_routed_ci95, True)}"),
        ("cost vs always tier 3", f"{cur.cost_ratio:.3f}{_ci(cur.cost_ratio_ci95, False)}",
         f"{cal.cost_ratio:.3f}{_ci(cal.cost_ratio_ci95, False)}"),
        ("accuracy / over-routed", f"{cur.accuracy:.3f} / {cur.over_routed:.3f}",
         f"{cal.accuracy:.3f} / {cal.over_routed:.3f}"),
    ]
    header = [f"calibrate: policy {report.policy!r} on {report.file} ({t.n} items), "
              f"95 % bootstrap intervals ({report.resamples} resamples)",
              f"tiers: cheapest of {t.settings_tried} settings with under-routing <= {t.quality_slo:.1%}"]
    if report.cache is not None:
        c = report.cache
        ccur, ccal = c.current, c.calibrated
        rows += [
            ("similarityThreshold", f"{ccur.similarity_threshold:g}", f"{ccal.similarity_threshold:g}"),
            ("verifierThreshold", f"{ccur.verifier_threshold:g}", f"{ccal.verifier_threshold:g}"),
            ("paraphrase hits", f"{ccur.paraphrase_hit_rate:.1%}{_ci(ccur.paraphrase_hit_rate_ci95, True)} "
             f"({ccur.paraphrase_hits}/{c.paraphrases})",
             f"{ccal.paraphrase_hit_rate:.1%}{_ci(ccal.paraphrase_hit_rate_ci95, True)} ({ccal.paraphrase_hits}/{c.paraphrases})"),
            ("false hits", f"{ccur.false_hit_rate:.1%}{_ci(ccur.false_hit_rate_ci95, True)} ({ccur.false_hits}/{c.near_misses})",
             f"{ccal.false_hit_rate:.1%}{_ci(ccal.false_hit_rate_ci95, True)} ({ccal.false_hits}/{c.near_misses})"),
        ]
        header.append(f"cache: most paraphrase hits of {c.settings_tried} settings with false hits <= "
                      f"{c.false_hit_budget:.1%} on {c.pairs_file}" + ("" if c.enabled else " (cache off in the live policy)"))
    width = max(len(r[1]) for r in rows) + 3
    lines = [*header, "", f"{'':<24}{'current':<{width}}calibrated"]
    lines += [f"{name:<24}{now:<{width}}{new}" for name, now, new in rows]
    lines.append("")
    lines.append(f"policy written to {report.written_policy}" if report.written_policy
                 else "not written (--write-policy PATH writes the calibrated RoutingPolicy)")
    return "\n".join(lines)
