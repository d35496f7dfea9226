"""`llm-router` command line: each subcommand exits non-zero with a one-line error on bad input."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from router_py import _core
from router_py.config.manifests import ManifestError
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import DecisionRecord, RouteRequest
from router_py.runtime import RuntimeSetupError

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

# The development commands (training, evaluation, the mock provider, the demo) live in another
# distribution, llm-router-tools, so that serving never loads them. Each adds its subcommand
# through an entry point of this group named after the subcommand.
COMMANDS_GROUP = "llm_router.commands"
TOOLS_PACKAGE = "llm-router-tools"
_NO_TOOLS = f"; the development commands come with the {TOOLS_PACKAGE} package (pip install ./tools in the repository)"


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The first word that is not an option is the command (the top level has no valued options).
    command = next((word for word in argv if not word.startswith("-")), None)
    parser, sub = _parser()
    tools = {entry.name: entry for entry in entry_points(group=COMMANDS_GROUP)}
    if command is not None and command not in sub.choices and command not in tools:
        print(f"llm-router: no command {command!r} (have: {', '.join(sorted([*sub.choices, *tools]))})"
              f"{'' if tools else _NO_TOOLS}", file=sys.stderr)
        return 2
    # Only the tool the command names is imported (all of them for the help): `serve` loads none.
    for name, entry in sorted(tools.items()):
        if command in (None, name):
            entry.load()(sub)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except EXPECTED_ERRORS as err:
        print(f"llm-router {args.command}: {_one_line(err)}", file=sys.stderr)
        return 2


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    """The parser with the serving package's own commands, and the subcommand set the tools' join."""
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

    from router_py.service.keys_cli import add_keys_command

    add_keys_command(sub)
    return parser, sub


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


if __name__ == "__main__":
    sys.exit(main())
