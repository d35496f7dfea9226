"""Generate the Python gRPC code for proto/ into router_py/api/ (checked in; a test fails on drift).

protoc writes `from llmrouter.v1 import router_pb2`, which only resolves with proto/'s layout on
sys.path; the import is rewritten to the package path so the code lives inside router_py."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
OUT = ROOT / "router_py" / "api"
PACKAGE = "router_py.api"


def generate(out: Path) -> None:
    sources = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    # mypy-protobuf's plugins write typed .pyi stubs for the messages and the gRPC stubs/servicers.
    plugins = Path(sys.executable).parent
    args = ["protoc", f"-I{PROTO}", f"-I{Path(protoc.__file__).parent / '_proto'}", f"--python_out={out}",
            f"--grpc_python_out={out}", f"--plugin=protoc-gen-mypy={plugins / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={plugins / 'protoc-gen-mypy_grpc'}", f"--mypy_out={out}",
            f"--mypy_grpc_out={out}", *sources]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {sources}")
    for path in [*out.rglob("*.py"), *out.rglob("*.pyi")]:
        text = re.sub(r"^from (llmrouter\.\S+) import", rf"from {PACKAGE}.\1 import", path.read_text(), flags=re.M)
        path.write_text(text)
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if router_py/api differs from proto/")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "api"
        fresh.mkdir()
        generate(fresh)
        if args.check:
            stale = [str(p.relative_to(fresh)) for p in fresh.rglob("*.py*")
                     if not (OUT / p.relative_to(fresh)).exists() or (OUT / p.relative_to(fresh)).read_text() != p.read_text()]
            if stale:
                sys.exit(f"router_py/api is stale ({', '.join(stale)}): run python scripts/gen_proto.py")
            return
        shutil.rmtree(OUT, ignore_errors=True)
        shutil.copytree(fresh, OUT)


if __name__ == "__main__":
    main()
