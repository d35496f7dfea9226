"""The `llm-router mock-provider` subcommand: flags in, one simulated provider served until a signal."""

from __future__ import annotations

import argparse
from typing import Any

from router_tools.mock.profiles import PROFILES, Faults


def add_mock_command(sub: argparse._SubParsersAction[Any]) -> None:
    mock = sub.add_parser("mock-provider", help="a real OpenAI/Anthropic-compatible server playing a simulated model")
    mock.add_argument("--port", type=int, required=True, help="0 picks a free port (the first stdout line names it)")
    mock.add_argument("--profile", choices=sorted(PROFILES), required=True)
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument(
        "--seed", type=int, default=0, help="seeds latency and fault draws (answers depend on the query only)"
    )
    mock.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered HTTP 500")
    mock.add_argument("--rate-limit-rate", type=float, default=0.0, help="share answered HTTP 429")
    mock.add_argument("--retry-after", type=float, default=1.0, help="seconds in the 429's Retry-After")
    mock.add_argument("--garbage-rate", type=float, default=0.0, help="share answered with a body that is not JSON")
    mock.add_argument("--cut-stream-rate", type=float, default=0.0, help="share of streams cut before their end")
    mock.add_argument(
        "--latency-ms", type=float, help="fixed whole-answer latency instead of the profile's (fixed: 20)"
    )
    mock.add_argument("--latency-scale", type=float, default=1.0, help="multiplies the profile's latency")
    mock.add_argument("--extra-latency-ms", type=float, default=0.0, help="added before anything is sent")
    mock.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the server stack (uvicorn, starlette) is not needed by any other command.
    from router_tools.mock.server import new_state, serve

    faults = Faults(
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after=args.retry_after,
        garbage_rate=args.garbage_rate,
        cut_stream_rate=args.cut_stream_rate,
        latency_ms=args.latency_ms,
        latency_scale=args.latency_scale,
        extra_latency_ms=args.extra_latency_ms,
    )
    state = new_state(args.profile, faults=faults, seed=args.seed)
    profile = state.profile
    serve(
        state,
        host=args.host,
        port=args.port,
        announce=lambda url: print(f"mock-provider {profile.name} ({profile.model}) listening on {url}", flush=True),
    )
    return 0
