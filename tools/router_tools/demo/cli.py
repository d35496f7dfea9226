"""The `llm-router demo` subcommand (what `make demo` runs)."""

from __future__ import annotations

import argparse
from typing import Any


def add_demo_command(sub: argparse._SubParsersAction[Any]) -> None:
    demo = sub.add_parser("demo", help="route a mixed workload on the embedded default and print the savings")
    demo.set_defaults(handler=run)


def run(_args: argparse.Namespace) -> int:
    # Imported here: the demo's fleet and gRPC client are not needed to build the parser.
    from router_tools.demo.run import main

    return main()
