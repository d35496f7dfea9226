"""Write the CRDs generated from the pydantic models into the chart (`--check`: only compare).

python scripts/gen_crds.py [--out charts/llm-router/crds] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from router_operator.crds import crd_files

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "charts" / "llm-router" / "crds"


def stale_files(out: Path) -> list[str]:
    """Names of the generated files that are missing under `out` or differ from the generation."""
    return [
        name for name, text in crd_files().items() if not (out / name).is_file() or (out / name).read_text() != text
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 when the checked-in CRDs are stale")
    args = parser.parse_args()
    if args.check:
        stale = stale_files(args.out)
        for name in stale:
            print(f"{args.out / name} is stale: run `python scripts/gen_crds.py`", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in crd_files().items():
        (args.out / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
