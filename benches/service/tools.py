"""The external programs the service bench drives: ghz and vegeta (pinned, built by `make
tools`) and LiteLLM's proxy, installed at a pinned version into its own virtualenv in the cache
(never into the project's: its dependency tree is large and would shadow ours)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from service.procs import BenchError

ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = ROOT / "scripts" / "tools" / "versions.env"
VERSION_KEYS = {"ghz": "GHZ_VERSION", "vegeta": "VEGETA_VERSION"}

LITELLM_VERSION = "1.106.0"  # the newest whose pinned dependencies all resolve from PyPI here
PY_SPY_VERSION = "0.4.1"


def cache_dir() -> Path:
    env = os.environ.get("LLM_ROUTER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "llm-router"


def tool_version(name: str) -> str:
    for line in VERSIONS_FILE.read_text().splitlines():
        m = re.fullmatch(r"\s*([A-Z][A-Z0-9_]*)=(\S+)\s*", line)
        if m and m.group(1) == VERSION_KEYS[name]:
            return m.group(2)
    raise BenchError(f"{VERSIONS_FILE} pins no {VERSION_KEYS[name]}")


def tool_path(name: str) -> Path:
    """The binary built at the pinned version (the versioned folder, never a stale symlink)."""
    version = tool_version(name)
    path = cache_dir() / "bin" / f"{name}-{version}" / name
    if not os.access(path, os.X_OK):
        raise BenchError(f"{name} {version} is not built (looked for {path}): run `make tools` first")
    return path


def litellm_venv() -> Path:
    return cache_dir() / "bench" / "litellm-venv"


def ensure_litellm(log: Path) -> Path:
    """The `litellm` executable of the pinned proxy, installing it on first use (~1-2 min)."""
    venv = litellm_venv()
    exe = venv / "bin" / "litellm"
    stamp = venv / f".installed-litellm-{LITELLM_VERSION}"
    if stamp.exists() and exe.exists():
        return exe
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {venv} (once; log: {log})", file=sys.stderr, flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)] if not (venv / "bin" / "python").exists() else None,
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}",
         f"py-spy=={PY_SPY_VERSION}"],
    ]
    with log.open("ab") as out:
        for argv in steps:
            if argv is None:
                continue
            if subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode != 0:
                raise BenchError(f"installing LiteLLM failed ({' '.join(argv[:4])} ...); see {log}, "
                                 "or run with --skip-litellm")
    stamp.touch()
    return exe


def py_spy() -> Path | None:
    path = litellm_venv() / "bin" / "py-spy"
    return path if path.exists() else None


def version_of(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "unknown"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"
