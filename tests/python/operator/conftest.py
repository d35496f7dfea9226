"""Fixtures for the operator's unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for `support`

from router_py.config.check import CoreChecker


@pytest.fixture(scope="session")
def checker(models: Path) -> CoreChecker:
    """The real core, as the operator runs it."""
    return CoreChecker.load(models)
