"""Fixtures for the chart tests: the pinned helm with a private home, and `helm template` parsed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml
from chart_support import CHART, Doc, Helm, Render, tool, value_args


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(tool("helm"), tmp_path_factory.mktemp("helm-home"))



@pytest.fixture(scope="session")
def render(helm: Helm) -> Render:
    """`helm template` the chart; every document parsed, empty ones dropped."""

    def _render(
        release: str = "rel",
        namespace: str = "llm-ns",
        values: Iterable[Path] = (),
        sets: Iterable[str] = (),
    ) -> list[Doc]:
        done = helm.run("template", release, str(CHART), "--namespace", namespace, *value_args(values, sets))
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]

    return _render
