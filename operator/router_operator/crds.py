"""The CustomResourceDefinitions, generated from the pydantic models.

The models (`router_py/config/schema.py`) are generated from the Rust core's JSON Schema by
`scripts/gen_config.py`, so every type, range, pattern and description here is the core's.
`structural()` translates a pydantic JSON Schema into the structural OpenAPI v3 subset the API
server accepts: `$ref`s inlined, `anyOf [X, null]` as `nullable`, JSON Schema's numeric
`exclusiveMinimum` as OpenAPI 3.0's boolean form. Lists of named objects become list-maps keyed
on `name`, so the API server itself refuses a duplicate provider or rule name. Cross-field checks
the schema cannot say are CEL rules (`RULES`), each repeating a check of the Rust core so that a
bad object is refused at `kubectl apply` instead of later by the operator; the core stays free of
Kubernetes' dialect, and `tests/python/k8s/control_plane/test_cel_rules.py` checks that the
apiserver and the core refuse the same inputs.

Defaults are documented, not declared: the API server would write a declared default into every
stored object, freezing today's value there, while the operator applies the defaults of the
running schema at compile time, so a tuned default reaches every policy that did not set it.
"""

from __future__ import annotations

from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from router_operator.resources import GROUP, VERSION, ProviderTierStatus, RoutingPolicyStatus
from router_py.config.schema import RoutingPolicySpec, TierSpec

JsonSchema = dict[str, JsonValue]


class CrdGenerationError(ValueError):
    """The pydantic schema uses a construct this translation does not support."""


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    def dump(self) -> JsonSchema:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ValidationRule(_Wire):
    rule: str
    message: str
    field_path: str | None = Field(default=None, alias="fieldPath")


class OpenApiSchema(_Wire):
    """The structural-schema subset of OpenAPI v3 that CRDs use."""

    type: Literal["object", "array", "string", "integer", "number", "boolean"]
    description: str | None = None
    properties: dict[str, OpenApiSchema] | None = None
    required: list[str] | None = None
    items: OpenApiSchema | None = None
    enum: list[str] | None = None
    nullable: bool | None = None
    format: str | None = None
    pattern: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_minimum: bool | None = Field(default=None, alias="exclusiveMinimum")
    exclusive_maximum: bool | None = Field(default=None, alias="exclusiveMaximum")
    min_length: int | None = Field(default=None, alias="minLength")
    max_length: int | None = Field(default=None, alias="maxLength")
    min_items: int | None = Field(default=None, alias="minItems")
    max_items: int | None = Field(default=None, alias="maxItems")
    list_type: Literal["atomic", "set", "map"] | None = Field(default=None, alias="x-kubernetes-list-type")
    list_map_keys: list[str] | None = Field(default=None, alias="x-kubernetes-list-map-keys")
    validations: list[ValidationRule] | None = Field(default=None, alias="x-kubernetes-validations")


# --- CEL rules -------------------------------------------------------------------------------

_TIER_WINDOW = [
    ValidationRule(
        rule="has(self.minTier) || has(self.maxTier)",
        message="sets neither minTier nor maxTier",
    ),
    ValidationRule(
        rule="!has(self.minTier) || !has(self.maxTier) || self.minTier <= self.maxTier",
        message="maxTier is below minTier",
        fieldPath=".maxTier",
    ),
]
_NOT_HINT = ValidationRule(
    rule="self.name != 'hint'", message="'hint' is reserved for request hints", fieldPath=".name"
)

# Keyed by model class name (the `$defs` key); every rule repeats a check in
# `router_core/src/policy/compile.rs` that spans fields. What one field says alone (ranges, list
# lengths, the URL and key-reference grammars) is in the schema, which comes from the core.
RULES: dict[str, list[ValidationRule]] = {
    "DomainOverride": [_NOT_HINT],
    "TenantOverride": [*_TIER_WINDOW, _NOT_HINT],
    "UserOverride": [*_TIER_WINDOW, _NOT_HINT],
    "ResidencyRule": [_NOT_HINT],
}

SHADOW_NOT_SELF = ValidationRule(
    rule="!has(self.spec.shadowPolicy) || self.spec.shadowPolicy != self.metadata.name",
    message="a RoutingPolicy cannot be its own shadow",
    fieldPath=".spec.shadowPolicy",
)


# --- JSON Schema -> structural schema --------------------------------------------------------

_DROPPED = {
    "title",
    "additionalProperties",
    "default",
    "anyOf",
    "$ref",
    "$defs",
    "exclusiveMinimum",
    "exclusiveMaximum",
}
_PASSED = {"type", "description", "enum", "format", "pattern", "minimum", "maximum", "required"}
_PASSED |= {"minLength", "maxLength", "minItems", "maxItems"}


def structural(schema: JsonSchema) -> OpenApiSchema:
    """`schema` is a pydantic `model_json_schema(by_alias=True)`: one root with its `$defs`."""
    root = schema.get("title")
    return _Translator(_as_object(schema.get("$defs", {}), "$defs")).translate(schema, str(root) if root else None)


class _Translator:
    def __init__(self, defs: JsonSchema) -> None:
        self._defs = defs

    def translate(self, node: JsonSchema, name: str | None) -> OpenApiSchema:
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = ref.removeprefix("#/$defs/")
            merged = _as_object(self._defs.get(target), ref) | {k: v for k, v in node.items() if k != "$ref"}
            return self.translate(merged, target)
        options = node.get("anyOf")
        if isinstance(options, list):
            return self._nullable(node, options)
        unknown = set(node) - _DROPPED - _PASSED - {"properties", "items", "const"}
        if unknown:
            raise CrdGenerationError(f"{name or 'schema'}: unsupported keywords {sorted(unknown)}")
        return OpenApiSchema.model_validate(self._fields(node, name))

    def _nullable(self, node: JsonSchema, options: list[JsonValue]) -> OpenApiSchema:
        """`X | None`: the only union the config schema uses."""
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) != 1 or len(options) != 2:
            raise CrdGenerationError(f"only `X | None` unions are supported, got {options}")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        inner = self.translate(_as_object(kept[0], "anyOf") | rest, None)
        return inner.model_copy(update={"nullable": True})

    def _fields(self, node: JsonSchema, name: str | None) -> JsonSchema:
        fields: JsonSchema = {k: v for k, v in node.items() if k in _PASSED}
        fields |= _exclusive_bounds(node) | _const(node)
        fields["description"] = _describe(node)
        properties = node.get("properties")
        if isinstance(properties, dict):
            fields["properties"] = {
                key: self.translate(_as_object(value, key), None).dump() for key, value in properties.items()
            }
        items = node.get("items")
        if isinstance(items, dict):
            item = self.translate(items, None)
            fields["items"] = item.dump()
            fields |= _list_map(item)
        if name in RULES:
            fields["x-kubernetes-validations"] = [r.dump() for r in RULES[name]]
        return fields


def _as_object(value: JsonValue, where: str) -> JsonSchema:
    if not isinstance(value, dict):
        raise CrdGenerationError(f"{where}: expected a schema object, got {value!r}")
    return value


def _exclusive_bounds(node: JsonSchema) -> JsonSchema:
    """JSON Schema 2020-12 `exclusiveMinimum: x` is OpenAPI 3.0 `minimum: x, exclusiveMinimum: true`."""
    out: JsonSchema = {}
    for keyword, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if keyword in node:
            out[bound] = node[keyword]
            out[keyword] = True
    return out


def _const(node: JsonSchema) -> JsonSchema:
    return {"enum": [node["const"]]} if "const" in node else {}


def _describe(node: JsonSchema) -> str | None:
    """The model's docstring, plus the default of a scalar (objects document their own fields)."""
    text = node.get("description")
    parts = [" ".join(text.split())] if isinstance(text, str) else []
    default = node.get("default")
    if default is not None and not isinstance(default, (dict, list)):
        parts.append(f"Default: {str(default).lower() if isinstance(default, bool) else default}.")
    return " ".join(parts) or None


def _list_map(item: OpenApiSchema) -> JsonSchema:
    """A list of objects identified by a required `name` (or `type`, for conditions) is a map:
    the API server refuses duplicate keys and server-side apply merges items by key."""
    for key in ("name", "type"):
        if item.type == "object" and key in (item.required or []):
            return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key]}
    return {}


# --- The CRDs --------------------------------------------------------------------------------


class PrinterColumn(_Wire):
    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    json_path: str = Field(alias="jsonPath")
    description: str | None = None


class Kind(BaseModel):
    """What differs between our two CRDs."""

    kind: str
    plural: str
    short_name: str
    description: str
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: list[PrinterColumn]
    rules: list[ValidationRule] = []


def _condition_column(condition: str) -> PrinterColumn:
    return PrinterColumn(name=condition, type="string", jsonPath=f'.status.conditions[?(@.type=="{condition}")].status')


_AGE = PrinterColumn(name="Age", type="date", jsonPath=".metadata.creationTimestamp")

ROUTING_POLICY = Kind(
    kind="RoutingPolicy",
    plural="routingpolicies",
    short_name="rpol",
    description="How the routers pick a tier: classifier thresholds, caches, overrides, limits, cascade.",
    spec=RoutingPolicySpec,
    status=RoutingPolicyStatus,
    columns=[
        _condition_column("Accepted"),
        _condition_column("Live"),
        PrinterColumn(name="Shadow", type="string", jsonPath=".spec.shadowPolicy"),
        PrinterColumn(name="Revision", type="string", jsonPath=".status.revision"),
        _AGE,
    ],
    rules=[SHADOW_NOT_SELF],
)
PROVIDER_TIER = Kind(
    kind="ProviderTier",
    plural="providertiers",
    short_name="ptier",
    description="One model tier (1 cheapest .. 3 strongest): its providers in failover order and its breaker.",
    spec=TierSpec,
    status=ProviderTierStatus,
    columns=[
        PrinterColumn(name="Tier", type="integer", jsonPath=".spec.tier"),
        _condition_column("Accepted"),
        _condition_column("Live"),
        PrinterColumn(
            name="Open breakers",
            type="integer",
            jsonPath=".status.openBreakers",
            description="Providers whose breaker is open on at least one live router replica",
        ),
        _AGE,
    ],
)
KINDS = (ROUTING_POLICY, PROVIDER_TIER)
CATEGORY = "llmrouter"


def custom_resource_definition(kind: Kind) -> JsonSchema:
    root = OpenApiSchema(
        type="object",
        description=kind.description,
        required=["spec"],
        properties={
            "apiVersion": OpenApiSchema(type="string"),
            "kind": OpenApiSchema(type="string"),
            "metadata": OpenApiSchema(type="object"),
            "spec": structural(kind.spec.model_json_schema(by_alias=True)),
            "status": structural(kind.status.model_json_schema(by_alias=True)),
        },
    ).model_copy(update={"validations": kind.rules or None})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "llm-router"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": [kind.short_name],
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.dump() for c in kind.columns],
                    "schema": {"openAPIV3Schema": root.dump()},
                }
            ],
        },
    }


# kopf's own kind for leader election among operator replicas in one namespace
# (`kopf run --peering NAME`); its schema is kopf's, which keeps any status it writes.
KOPF_PEERING: JsonSchema = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "kopfpeerings.kopf.dev", "labels": {"app.kubernetes.io/part-of": "llm-router"}},
    "spec": {
        "group": "kopf.dev",
        "scope": "Namespaced",
        "names": {"kind": "KopfPeering", "plural": "kopfpeerings", "singular": "kopfpeering"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    }
                },
            }
        ],
    },
}

HEADER = "# Generated by scripts/gen_crds.py from the pydantic models; do not edit.\n"


def render(crd: JsonSchema) -> str:
    return HEADER + yaml.safe_dump(crd, sort_keys=False, width=120)


def crd_files() -> dict[str, str]:
    """File name -> YAML, as checked in under `charts/llm-router/crds/`."""
    files = {f"{kind.plural}.yaml": render(custom_resource_definition(kind)) for kind in KINDS}
    files["kopf-peering.yaml"] = render(KOPF_PEERING)
    return files
