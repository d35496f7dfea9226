"""`make bench`: the request fuzz of `make test` (tests/python/service/test_fuzz.py), run longer.

The same tests, deterministic as in `make test`, with many more examples per front end: mutated
JSON bodies, headers and protobuf bytes against a real router, asserting no HTTP 500 and no gRPC
UNKNOWN/INTERNAL. Exits non-zero on the first input that breaks that, which hypothesis prints.

    .venv/bin/python benches/fuzz.py [--examples 5000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=5000, help="examples per front end (make test runs 300)")
    args = parser.parse_args()
    env = {**os.environ, "LLM_ROUTER_FUZZ_EXAMPLES": str(args.examples)}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
               str(ROOT / "tests/python/service/test_fuzz.py")]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
