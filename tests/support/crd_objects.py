"""RoutingPolicy and ProviderTier objects as the API lists them, for the operator's tests: the
shipped examples and hand-made variations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from pydantic import JsonValue
from router_operator.resources import CustomObject

from router_py.config.kube_objects import ObjectMeta

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def example_documents() -> list[dict[str, JsonValue]]:
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def make_object(
    name: str, spec: Mapping[str, JsonValue], *, generation: int = 1, age: int = 0, status: JsonValue = None
) -> CustomObject:
    """An object as listed: `age` orders creation (a larger age is older)."""
    meta = ObjectMeta(name=name, generation=generation, creation_timestamp=T0 - timedelta(seconds=age))
    return CustomObject(metadata=meta, spec=dict(spec), status=status)


def examples(kind: str) -> list[CustomObject]:
    """The shipped examples of `kind`, as the API would list them after `kubectl apply -f examples/`."""
    docs = [d for d in example_documents() if d["kind"] == kind]
    return [make_object(_name(d), _spec(d), age=100 - i) for i, d in enumerate(docs)]


def _name(document: Mapping[str, JsonValue]) -> str:
    metadata = document["metadata"]
    assert isinstance(metadata, dict)
    return str(metadata["name"])


def _spec(document: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    spec = document["spec"]
    assert isinstance(spec, dict)
    return spec
