"""The Python config models and the Rust config structs describe the same schema.

The Rust types are the source (`router_core/src/config.rs`, exported as JSON Schema by
`_core.config_json_schema()`); this fails when a field, its requiredness or an enum value differs.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from router_py import _core
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import RouterConfig

Schema = dict[str, Any]


def definitions(schema: Schema) -> dict[str, Schema]:
    return {name: d for name, d in schema.get("$defs", {}).items()} | {"RouterConfig": schema}


def shape(d: Schema) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Property names, required names and enum values of one definition."""
    values: set[str] = set()
    for option in [d, *d.get("oneOf", []), *d.get("anyOf", [])]:
        values.update(str(v) for v in option.get("enum", []))
        if "const" in option:
            values.add(str(option["const"]))
    return frozenset(d.get("properties", {})), frozenset(d.get("required", [])), frozenset(values)


def test_every_rust_struct_has_an_identical_python_model() -> None:
    rust = definitions(json.loads(_core.config_json_schema()))
    python = definitions(RouterConfig.model_json_schema(by_alias=True))
    assert set(rust) <= set(python), f"Python lacks {set(rust) - set(python)}"
    for name, definition in rust.items():
        assert shape(definition) == shape(python[name]), name


def test_rust_refuses_unknown_fields_like_python() -> None:
    rust = definitions(json.loads(_core.config_json_schema()))
    for name, definition in rust.items():
        if "properties" in definition:
            assert definition.get("additionalProperties") is False, name


@settings(max_examples=60, deadline=None)
@given(
    risk=st.floats(0, 1),
    gate=st.floats(0, 1),
    max_tokens=st.integers(8, 512),
    threshold=st.floats(0.01, 1),
    depth=st.integers(0, 2),
)
def test_python_valid_configs_round_trip_through_json(risk: float, gate: float, max_tokens: int, threshold: float, depth: int) -> None:
    base = load_config(embedded_default_dir())
    raw = base.model_dump(by_alias=True, mode="json")
    raw["policy"]["classifier"] = {"maxUnderrouteRisk": risk, "confidenceThreshold": gate, "maxTokens": max_tokens}
    raw["policy"]["cache"]["semantic"]["similarityThreshold"] = threshold
    raw["policy"]["cascade"]["maxDepth"] = depth
    config = RouterConfig.model_validate(raw)
    assert RouterConfig.model_validate_json(config.to_core_json()) == config
