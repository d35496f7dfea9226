"""`llm-router` command line: each subcommand exits non-zero with a one-line error on bad input."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import ValidationError

from router_py import _core
from router_py.config.manifests import ManifestError
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import DecisionRecord, RouteRequest
from router_py.runtime import RuntimeSetupError, model_dir, ort_library

if TYPE_CHECKING:
    from router_py.service.tls import TlsFiles

EXPECTED_ERRORS = (
    ManifestError,
    RuntimeSetupError,
    ValidationError,
    _core.RouterError,
    OSError,
    ValueError,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except EXPECTED_ERRORS as err:
        print(f"llm-router {args.command}: {_one_line(err)}", file=sys.stderr)
        return 2


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-router", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    route = sub.add_parser("route", help="one routing decision, printed")
    route.add_argument("text")
    route.add_argument("--tenant", default="default")
    route.add_argument("--user")
    route.add_argument("--region")
    route.add_argument("--min-tier", type=int)
    route.add_argument("--max-tier", type=int)
    route.add_argument("--config", type=Path, help="manifest file or folder (default: the embedded default)")
    route.add_argument("--json", action="store_true", help="print the decision as JSON")
    route.set_defaults(handler=_route)

    train = sub.add_parser("train", help="train the classifier head from labelled JSONL")
    train.add_argument("file", type=Path)
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(handler=_train)

    demo = sub.add_parser("demo", help="route a mixed workload on the embedded default and print the savings")
    demo.set_defaults(handler=lambda _args: _demo())

    serve = sub.add_parser("serve", help="run the router: gRPC on 50051, OpenAI-compatible HTTP on 8080")
    serve.add_argument("--config", type=Path,
                       help="manifest file or folder, re-read on change (default: the cluster, via the operator)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--grpc-port", type=int, default=50051)
    serve.add_argument("--http-port", type=int, default=8080)
    serve.add_argument("--max-in-flight", type=int, default=1024, help="requests in progress; past this, 429 at once")
    serve.add_argument("--max-decision-backlog", type=int, default=32,
                       help="decisions waiting for an embedder session; past this, 429 at once")
    serve.add_argument("--max-loop-lag-ms", type=float, default=25.0,
                       help="refuse new requests (429) while the event loop runs this late")
    serve.add_argument("--max-decision-wait-ms", type=float, default=20.0,
                       help="refuse a growing share of new requests (429) while decisions wait for the decide "
                            "thread longer than this or 16 decisions' worth, whichever is longer (averaged over "
                            "~100 ms); never while no other request is in progress")
    serve.add_argument("--embedder-variant", default=os.environ.get("LLM_ROUTER_EMBEDDER_VARIANT", "default"),
                       choices=("default", "int8", "int8_vnni", "fp32"),
                       help="the embedder graph: default picks int8_vnni on CPUs with VNNI, else int8")
    serve.add_argument("--drain-seconds", type=float, default=20.0, help="grace for in-flight requests on SIGTERM")
    serve.add_argument("--snapshot-dir", type=Path, default=os.environ.get("LLM_ROUTER_SNAPSHOT_DIR") or None,
                       help="restore the semantic cache from here on start, save it on shutdown")
    serve.add_argument("--cache-sweep-seconds", type=float, default=30.0,
                       help="how often expired semantic cache entries are freed (default %(default)s)")
    serve.add_argument("--semantic-max-tenants", type=int, default=10_000,
                       help="tenants in the semantic cache; least recently used dropped past it (default %(default)s)")
    serve.add_argument("--semantic-max-bytes", type=int, default=512 << 20,
                       help="semantic cache memory; least recently used tenants dropped past it (default %(default)s)")
    serve.add_argument("--log-level", default=os.environ.get("LLM_ROUTER_LOG_LEVEL", "INFO"))
    serve.add_argument("--max-body-bytes", type=int, default=1024 * 1024,
                       help="largest request body (HTTP 413) or gRPC message (RESOURCE_EXHAUSTED), unread past it (default %(default)s)")
    serve.add_argument("--max-messages", type=int, default=256, help="most messages in one request, else 400 (default %(default)s)")
    serve.add_argument("--max-input-tokens", type=int, default=200_000,
                       help="largest conversation in tokens, estimated at 4 characters a token, else 400 (default %(default)s)")
    serve.add_argument("--api-keys", type=Path, default=os.environ.get("LLM_ROUTER_API_KEYS") or None,
                       help="the callers' hashed API keys (YAML/JSON; `llm-router keys new`), re-read on change; "
                            "without it auth is off and the x-llm-router-tenant header is believed")
    serve.add_argument("--tls-cert", type=Path, default=os.environ.get("LLM_ROUTER_TLS_CERT") or None,
                       help="PEM certificate (chain) for both ports, re-read on change; with --tls-key")
    serve.add_argument("--tls-key", type=Path, default=os.environ.get("LLM_ROUTER_TLS_KEY") or None,
                       help="PEM private key of --tls-cert")
    serve.set_defaults(handler=_serve)

    from router_py.eval.calibrate import add_calibrate_command
    from router_py.eval.cli import add_eval_commands
    from router_py.mock.cli import add_mock_command
    from router_py.service.keys_cli import add_keys_command

    add_eval_commands(sub)
    add_calibrate_command(sub)
    add_mock_command(sub)
    add_keys_command(sub)
    return parser


def _route(args: argparse.Namespace) -> int:
    request = RouteRequest(
        tenant=args.tenant,
        text=args.text,
        user=args.user,
        region=args.region,
        min_tier=args.min_tier,
        max_tier=args.max_tier,
    )
    engine = RoutingEngine.from_manifests(args.config, sessions=1)
    record = DecisionRecord.from_core(engine.decide(request))
    if args.json:
        print(record.model_dump_json(indent=2))
    else:
        print(
            f"tier {record.tier} -> {record.provider} ({record.model}) reason={record.reason} "
            f"confidence={record.confidence:.2f} domain={record.domain} "
            f"est=${record.estimated_cost_usd:.6f} saved=${record.saved_usd:.6f} "
            f"in {record.latency_ms.total:.2f} ms"
        )
    return 0


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from router_py.service.limits import RequestLimits
    from router_py.service.serve import ServeOptions, serve
    from router_py.telemetry.logs import configure

    configure(args.log_level)
    options = ServeOptions(config=args.config, host=args.host, grpc_port=args.grpc_port, http_port=args.http_port,
                           max_in_flight=args.max_in_flight, max_decision_backlog=args.max_decision_backlog,
                           max_loop_lag_ms=args.max_loop_lag_ms,
                           max_decision_wait_ms=args.max_decision_wait_ms, drain_s=args.drain_seconds,
                           snapshot_dir=args.snapshot_dir, embedder_variant=args.embedder_variant, api_keys=args.api_keys, tls=_tls_files(args),
                           limits=RequestLimits(max_body_bytes=args.max_body_bytes, max_messages=args.max_messages,
                                                max_input_tokens=args.max_input_tokens),
                           cache_sweep_interval_s=args.cache_sweep_seconds,
                           semantic_max_tenants=args.semantic_max_tenants, semantic_max_bytes=args.semantic_max_bytes)
    import uvloop
    return uvloop.run(serve(options))


def _tls_files(args: argparse.Namespace) -> TlsFiles | None:
    from router_py.service.tls import TlsFiles

    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    return None if args.tls_cert is None else TlsFiles(cert=args.tls_cert, key=args.tls_key)


def _demo() -> int:
    from router_py.demo.run import main as demo_main

    return demo_main()


def core_embed_fn(models: Path) -> Callable[[Sequence[str]], np.ndarray]:
    """The Rust embedder as a batch function, so training sees exactly what routing sees."""
    embedder = _core.Embedder(models / "embedder", ort_library=ort_library(), sessions=1, intra_threads=2)

    def embed(texts: Sequence[str]) -> np.ndarray:
        raw = embedder.embed_batch(list(texts), 128, 64)
        return np.frombuffer(raw, dtype="<f4").reshape(len(texts), embedder.dim)

    return embed


def _train(args: argparse.Namespace) -> int:
    from router_py.train.dataset import load_golden
    from router_py.train.train import train_head

    items = load_golden(args.file)
    # Training needs only the embedder: the classifier is what it builds.
    models = model_dir(required=("embedder/manifest.json",))
    report = train_head(items, core_embed_fn(models), args.out, seed=args.seed)
    print(report.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
