"""The schema states exactly what the core enforces: at every bound and pattern of the exported
JSON Schema, the Rust core and the generated Python models accept and refuse the same values.

A bound in the schema that the core did not check (or checked differently) fails here, as does a
pattern that disagrees with the core's parser of the same grammar.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from router_py import _core
from router_py.complete.catalog import Catalog, Price
from router_py.config.check import CoreChecker
from router_py.config.key_ref import KeyRefError, parse_key_ref
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import API_KEY_REF_PATTERN, BASE_URL_PATTERN, RouterConfig
from router_py.providers.types import Usage

Schema = dict[str, Any]
Path_ = tuple[str | int, ...]

# A tier number is also the tier's slot: moving it to another bound clashes with that tier.
NOT_FREE_TO_MOVE = {("tiers", 0, "tier")}


@pytest.fixture(scope="module")
def checker(models: Path) -> CoreChecker:
    return CoreChecker.load(models)


def sample() -> Schema:
    """The embedded default with every bounded field present at least once."""
    raw: Schema = load_config(embedded_default_dir()).model_dump(by_alias=True, mode="json", exclude_none=True)
    overrides = raw["policy"]["overrides"]
    overrides["tenants"] = [{"name": "window", "tenant": "acme", "minTier": 1, "maxTier": 3}]
    overrides["users"] = [{"name": "window", "user": "ada", "minTier": 1, "maxTier": 3}]
    raw["policy"]["cascade"]["gate"]["minVerifierScore"] = 0.5
    raw["tiers"][0]["providers"][0]["timeoutMs"] = 1000
    return raw


def _definitions(schema: Schema) -> Schema:
    defs: Schema = schema.get("$defs", {})
    return defs


def _resolve(node: Schema, defs: Schema) -> Schema:
    ref = node.get("$ref")
    return defs[ref.removeprefix("#/$defs/")] if isinstance(ref, str) else node


BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minItems")


def bounded(node: Schema, value: Any, path: Path_, defs: Schema) -> Iterator[tuple[Path_, str, Any, Schema]]:
    """(path, keyword, bound, field schema) of every bound on a value present in `value`."""
    node = _resolve(node, defs)
    for keyword in BOUNDS:
        if keyword in node:
            yield path, keyword, node[keyword], node
    if isinstance(value, dict):
        for key, child in node.get("properties", {}).items():
            if key in value:
                yield from bounded(child, value[key], (*path, key), defs)
    if isinstance(value, list) and value and "items" in node:
        yield from bounded(node["items"], value[0], (*path, 0), defs)


def dotted(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).removeprefix(".")


def with_value(raw: Schema, path: Path_, value: Any) -> Schema:
    out = copy.deepcopy(raw)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def edges(keyword: str, bound: Any, node: Schema, current: Any) -> tuple[list[Any], list[Any]]:
    """(values the bound admits, values it refuses) right at the bound."""
    if keyword == "minItems":
        return [], [current[: bound - 1]] if bound > 0 else []
    step = 1 if "integer" in json.dumps(node.get("type")) else 1e-3
    inside = {"minimum": bound, "exclusiveMinimum": bound + step, "maximum": bound, "exclusiveMaximum": bound - step}
    outside = {"minimum": bound - step, "exclusiveMinimum": bound, "maximum": bound + step, "exclusiveMaximum": bound}
    return [inside[keyword]], [outside[keyword]]


def python_accepts(raw: Schema) -> bool:
    try:
        RouterConfig.model_validate(raw)
    except ValidationError:
        return False
    return True


def test_core_and_models_agree_at_every_bound_of_the_schema(checker: CoreChecker) -> None:
    schema = json.loads(_core.config_json_schema())
    raw = sample()
    assert checker.check_json(json.dumps(raw)) is None, "the sample must be valid"
    found = list(bounded(schema, raw, (), _definitions(schema)))
    assert len(found) >= 30, f"the walk missed fields: {[dotted(p) for p, *_ in found]}"
    for path, keyword, bound, node in found:
        current: Any = raw
        for key in path:
            current = current[key]
        admitted, refused = edges(keyword, bound, node, current)
        for value in refused:
            case = with_value(raw, path, value)
            problem = checker.check_json(json.dumps(case))
            assert problem is not None and problem.path == dotted(path), (dotted(path), keyword, value, problem)
            assert not python_accepts(case), (dotted(path), keyword, value)
        for value in admitted if path not in NOT_FREE_TO_MOVE else []:
            case = with_value(raw, path, value)
            assert checker.check_json(json.dumps(case)) is None, (dotted(path), keyword, value)
            assert python_accepts(case), (dotted(path), keyword, value)


KEY_REF_TEXT = st.one_of(
    st.from_regex(API_KEY_REF_PATTERN, fullmatch=True),
    st.builds(
        "".join,
        st.lists(st.sampled_from(["env:", "secret:", "/", ".", "..", "-", "_", "a", "Z", "9", " ", ":"]), max_size=8),
    ),
)


@settings(max_examples=400, deadline=None)
@given(text=KEY_REF_TEXT)
def test_the_key_ref_pattern_is_the_core_parser(text: str) -> None:
    """The pattern (schema, Python models, CRDs) and the one parser (core, key resolver, operator)."""
    try:
        parsed = parse_key_ref(text)
    except KeyRefError:
        parsed = None
    assert (re.fullmatch(API_KEY_REF_PATTERN, text) is not None) == (parsed is not None), text
    if parsed is not None:
        name = parsed.name if parsed.key is None else f"{parsed.name}/{parsed.key}"
        assert f"{parsed.scheme}:{name}" == text


URL_TEXT = st.one_of(
    st.from_regex(BASE_URL_PATTERN, fullmatch=True),
    st.builds(
        "".join,
        st.lists(st.sampled_from(["http://", "https://", "ftp://", "h", ":", "/", "?", "#", " ", "\t", "\u00a0", "x"]),
                 max_size=6),
    ),
)


@settings(max_examples=200, deadline=None)
@given(url=URL_TEXT)
def test_the_base_url_pattern_is_the_core_check(checker: CoreChecker, url: str) -> None:
    raw = with_value(sample(), ("tiers", 0, "providers", 0, "baseUrl"), url)
    core = checker.check_json(json.dumps(raw))
    assert (core is None) == python_accepts(raw), (url, core)


def test_the_provider_timeout_rule() -> None:
    """A provider's own `timeoutMs`, else its tier's: the core's rule, which the catalog calls."""
    catalog = Catalog(RouterConfig.model_validate(sample()))
    assert (catalog.timeout_s("sim-fast-a"), catalog.timeout_s("sim-fast-b")) == (1.0, 4.0)


def test_the_price_computation_is_per_million_tokens() -> None:
    price = Price(input_per_mtok=3.0, output_per_mtok=15.0)
    assert price.cost(Usage(input_tokens=1_000_000, output_tokens=100_000)) == pytest.approx(4.5)
