"""Helpers for the chart tests: the pinned helm, rendering, and picking objects out of a render."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[4]
CHART = ROOT / "charts" / "llm-router"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"

if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))  # for `support` (tests/support/kube.py)

from support.kube import MissingToolError, tool_path  # noqa: E402

Doc = dict[str, Any]
# render(release, namespace, values=[paths], sets=["key=value"]) -> the parsed documents
Render = Callable[..., list[Doc]]


def tool(name: str) -> Path:
    """A binary built by scripts/tools/build_go_tools.sh at its pinned version; the test fails
    (never skips) without it."""
    try:
        return tool_path(name)
    except MissingToolError as err:
        pytest.fail(str(err), pytrace=False)


@dataclass(frozen=True)
class Helm:
    """Runs the pinned helm with its own config, cache and data folders (never the user's)."""

    binary: Path
    home: Path
    kubeconfig: Path | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_") and k != "KUBECONFIG"}
        env.update(
            HELM_CACHE_HOME=str(self.home / "cache"),
            HELM_CONFIG_HOME=str(self.home / "config"),
            HELM_DATA_HOME=str(self.home / "data"),
        )
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, env=self.env(), cwd=ROOT, timeout=timeout
        )
        if check and done.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({done.returncode}):\n{done.stderr}{done.stdout}")
        return done

    def with_kubeconfig(self, kubeconfig: Path) -> Helm:
        return Helm(self.binary, self.home, kubeconfig)


def value_args(values: Iterable[Path] = (), sets: Iterable[str] = ()) -> list[str]:
    args: list[str] = []
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    return args


def by_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: found {len(found)} in {[(d['kind'], d['metadata']['name']) for d in docs]}"
    return found[0]
