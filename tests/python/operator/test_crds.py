"""The CRDs: checked in as generated, structural, and accepting every spec the pydantic models accept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, validators
from pydantic import BaseModel, ValidationError
from router_operator.crds import KINDS, CrdGenerationError, crd_files, custom_resource_definition, structural
from router_operator.resources import ProviderTierStatus, RoutingPolicyStatus

from router_py.config.schema import RoutingPolicySpec, TierSpec

CRD_DIR = Path(__file__).resolve().parents[3] / "charts" / "llm-router" / "crds"
Schema = dict[str, Any]


def test_checked_in_crds_are_the_generated_ones() -> None:
    generated = crd_files()
    checked_in = {p.name: p.read_text() for p in CRD_DIR.glob("*.yaml")}
    assert set(generated) <= set(checked_in), "run `python scripts/gen_crds.py`"
    for name, text in generated.items():
        assert checked_in[name] == text, f"{name} is stale: run `python scripts/gen_crds.py`"


def _nodes(schema: Schema) -> Iterator[Schema]:
    yield schema
    for child in (schema.get("properties") or {}).values():
        yield from _nodes(child)
    if "items" in schema:
        yield from _nodes(schema["items"])


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schemas_are_structural(kind: Any) -> None:
    root = custom_resource_definition(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for node in _nodes(root):
        assert "type" in node, node
        assert not {"$ref", "$defs", "anyOf", "allOf", "oneOf", "additionalProperties", "default", "title"} & set(node)
        if node["type"] == "array" and node["items"]["type"] == "object":
            # every list of objects is keyed (names, condition types), so duplicates are refused
            assert node.get("x-kubernetes-list-type") == "map", node


def test_names_printer_columns_and_status_subresource() -> None:
    by_kind = {k.kind: custom_resource_definition(k)["spec"] for k in KINDS}
    for spec in by_kind.values():
        assert spec["names"]["categories"] == ["llmrouter"]
        assert spec["versions"][0]["subresources"] == {"status": {}}
    assert by_kind["RoutingPolicy"]["names"]["shortNames"] == ["rpol"]
    assert by_kind["ProviderTier"]["names"]["shortNames"] == ["ptier"]
    columns = [c["name"] for c in by_kind["ProviderTier"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Tier", "Accepted", "Live", "Open breakers", "Age"]


def test_translation_details() -> None:
    tier = structural(TierSpec.model_json_schema(by_alias=True)).dump()
    provider = tier["properties"]["providers"]["items"]
    assert provider["properties"]["timeoutMs"] == {
        "type": "integer",
        "description": "Overrides the tier's timeout for this provider.",
        "nullable": True,
        "minimum": 1,
        "maximum": 2**32 - 1,
    }
    assert provider["properties"]["api"]["enum"] == ["openai", "anthropic"]
    assert provider["properties"]["api"]["description"] == "Default: openai."
    assert provider["properties"]["apiKeyRef"]["pattern"].startswith("^(env:")
    assert tier["properties"]["tier"] == {"type": "integer", "minimum": 1, "maximum": 3}
    assert tier["properties"]["providers"]["minItems"] == 1
    assert tier["properties"]["breaker"]["properties"]["openSeconds"] == {
        "type": "number",
        "description": "Default: 30.0.",
        "minimum": 0.0,
        "exclusiveMinimum": True,
    }


def test_unsupported_unions_fail_generation() -> None:
    class Either(BaseModel):
        value: int | str

    with pytest.raises(CrdGenerationError, match="unions"):
        structural(Either.model_json_schema())


# --- every pydantic-valid object validates against the generated schema ----------------------


def _nullable(wrapped: Any) -> Any:
    def check(validator: Any, value: Any, instance: Any, schema: Schema) -> Any:
        if instance is None and schema.get("nullable"):
            return
        yield from wrapped(validator, value, instance, schema)

    return check


OpenApiValidator = validators.extend(
    Draft4Validator,  # OpenAPI 3.0's boolean exclusiveMinimum is draft 4's
    {k: _nullable(Draft4Validator.VALIDATORS[k]) for k in ("type", "enum")},
)


def _values(schema: Schema, defs: Schema) -> st.SearchStrategy[Any]:
    """Hypothesis values for a pydantic JSON Schema node (the source the CRD is made from)."""
    if "$ref" in schema:
        return _values(defs[schema["$ref"].removeprefix("#/$defs/")], defs)
    if "anyOf" in schema:
        return st.one_of(*(_values(option, defs) for option in schema["anyOf"]))
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema["properties"]
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: _values(v, defs) for k, v in props.items() if k in required},
            optional={k: _values(v, defs) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        return st.lists(_values(schema["items"], defs), max_size=3)
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(10**6) - 1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 10**6 + 1) - 1)
        return st.integers(low, high)
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum", schema.get("exclusiveMinimum", -1e9)),
            max_value=schema.get("maximum", schema.get("exclusiveMaximum", 1e9)),
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
            allow_nan=False,
        )
    if kind == "string" and "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if kind == "string" and schema.get("format") == "date-time":
        return st.datetimes().map(lambda d: d.isoformat() + "Z")
    if kind == "string":
        return st.text(max_size=10)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise AssertionError(f"no strategy for {schema}")


def _instances(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    schema = model.model_json_schema(by_alias=True)
    return _values(schema, schema.get("$defs", {}))


@pytest.mark.parametrize(
    "model", [RoutingPolicySpec, TierSpec, RoutingPolicyStatus, ProviderTierStatus], ids=lambda m: m.__name__
)
def test_pydantic_valid_objects_pass_the_generated_schema(model: type[BaseModel]) -> None:
    validator = OpenApiValidator(structural(model.model_json_schema(by_alias=True)).dump())

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(instance=_instances(model))
    def check(instance: Any) -> None:
        try:
            model.model_validate(instance)
        except ValidationError:
            assume(False)
        validator.validate(instance)

    check()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("tier",), 4),
        (("providers", 0, "priceInputPerMtok"), -1),
        (("providers", 0, "timeoutMs"), 0),
        (("providers", 0, "api"), "grpc"),
        (("providers", 0, "apiKeyRef"), "sk-live-123"),
        (("breaker", "openSeconds"), 0),
        (("providers", 0, "surprise"), 1),
    ],
)
def test_what_pydantic_refuses_the_schema_refuses(path: tuple[Any, ...], value: Any) -> None:
    spec = yaml.safe_load(
        """
        tier: 1
        name: fast
        providers: [{name: a, model: m, baseUrl: "http://a", region: r, priceInputPerMtok: 1, priceOutputPerMtok: 1}]
        breaker: {}
        """
    )
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        TierSpec.model_validate(spec)
    schema = structural(TierSpec.model_json_schema(by_alias=True)).dump()
    if path[-1] == "surprise":
        # structural schemas prune unknown fields (kubectl's strict field validation refuses them)
        assert "surprise" not in schema["properties"]["providers"]["items"]["properties"]
    else:
        assert not OpenApiValidator(schema).is_valid(spec)
