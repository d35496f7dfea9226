"""The acceptance gate: is a cheap tier's answer good enough, or does the cascade escalate?"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from router_py.config.schema import GateSpec
from router_py.providers.types import ChatResult

# Openings cheap models use when they decline; matched on the first 200 characters only, so a
# long answer that quotes such a phrase later is not taken for a refusal.
_REFUSAL = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|sorry, (?:but )?i|i can(?:no|')t (?:help|assist|answer|provide)|"
    r"i cannot (?:help|assist|answer|provide)|i'?m (?:not able|unable) to|i am (?:not able|unable) to|"
    r"as an ai(?: language model)?,? i (?:can(?:no|')t|am unable))",
    re.IGNORECASE,
)


class GateVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


class InvalidSchemaError(ValueError):
    """The request's response schema is not one the gate can check offline (the caller's error)."""


# A response schema describes one answer: these bounds are far above what structured-output
# APIs accept (OpenAI: 5 levels of nesting, 100 properties) and keep a hostile schema's
# compilation and validation bounded.
MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 32
# Applicators that validate the same instance in place: a cycle through only these never reaches
# a smaller piece of the answer, so validating it would recurse forever.
_IN_PLACE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else")
_REFS = ("$ref", "$dynamicRef")


def _no_retrieval(uri: str) -> Resource[Any]:
    """The gate never fetches what a caller names: no network, no files."""
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # an attrs class the stubs do not describe


_OFFLINE = Registry(retrieve=_no_retrieval)  # type: ignore[call-arg]


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    if len(schema_json) > MAX_SCHEMA_BYTES:
        raise InvalidSchemaError(f"response schema is {len(schema_json)} bytes; at most {MAX_SCHEMA_BYTES} are accepted")
    schema = json.loads(schema_json)
    _check_depth(schema)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise InvalidSchemaError(f"response schema is not a valid JSON schema: {e.message}") from e
    if not isinstance(schema, dict):
        return Draft202012Validator(schema, registry=_OFFLINE)
    _check_refs(schema)
    return Draft202012Validator(schema, registry=_OFFLINE)


def _check_depth(schema: Any) -> None:
    """Iterative, so a 3,000-deep schema is refused rather than blowing Python's stack."""
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_SCHEMA_DEPTH:
            raise InvalidSchemaError(f"response schema nests deeper than {MAX_SCHEMA_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, depth + 1) for c in children)


def _check_refs(schema: dict[str, Any]) -> None:
    """Every reference must point inside the schema itself, resolve, and not loop in place."""
    resolver = _OFFLINE.with_resource("urn:llm-router:response", Resource.from_contents(
        schema, default_specification=DRAFT202012)).resolver(base_uri="urn:llm-router:response")
    edges: dict[int, list[Any]] = {}
    nodes: dict[int, Any] = {}
    stack: list[tuple[Any, bool]] = [(schema, True)]
    while stack:
        node, is_root = stack.pop()
        if id(node) in nodes or not isinstance(node, dict | list):
            continue
        nodes[id(node)] = node
        if isinstance(node, list):
            stack.extend((c, False) for c in node)
            continue
        if "$id" in node and not is_root:
            raise InvalidSchemaError("response schema: `$id` is accepted only at the root")
        edges[id(node)] = [_resolve(resolver, node[k]) for k in _REFS if k in node]
        edges[id(node)] += _in_place_children(node)
        stack.extend((c, False) for c in node.values())
    _refuse_cycles(edges, nodes)


def _resolve(resolver: Any, ref: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise InvalidSchemaError(f"response schema: reference {str(ref)[:100]!r} is not local "
                                 "(only `#...` references inside the schema are resolved)")
    try:
        return resolver.lookup(ref).contents
    except Unresolvable as e:
        raise InvalidSchemaError(f"response schema: reference {ref[:100]!r} does not resolve") from e


def _in_place_children(node: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for key in _IN_PLACE:
        child = node.get(key)
        out.extend(child if isinstance(child, list) else [child] if isinstance(child, dict) else [])
    return out


def _refuse_cycles(edges: dict[int, list[Any]], nodes: dict[int, Any]) -> None:
    """Depth-first search over in-place edges (white/grey/black), without recursion."""
    state: dict[int, int] = {}
    for start in edges:
        if state.get(start):
            continue
        stack: list[tuple[int, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            node, i = stack.pop()
            targets = edges.get(node, [])
            if i == len(targets):
                state[node] = 2
                continue
            stack.append((node, i + 1))
            nxt = id(targets[i])
            if state.get(nxt) == 1:
                raise InvalidSchemaError("response schema: a reference loops back to itself without "
                                         "descending into the answer")
            if not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, 0))


def check_schema(schema: dict[str, Any]) -> None:
    """Raise `InvalidSchemaError` up front, before any provider is paid for."""
    _validator(_canonical(schema))


def _canonical(schema: dict[str, Any]) -> str:
    try:
        return json.dumps(schema, sort_keys=True)
    except (RecursionError, ValueError, TypeError) as e:
        raise InvalidSchemaError(f"response schema cannot be serialised: {type(e).__name__}") from e


class AcceptanceGate:
    def __init__(self, spec: GateSpec) -> None:
        self._spec = spec

    @property
    def min_verifier_score(self) -> float | None:
        return self._spec.min_verifier_score

    def check(self, result: ChatResult, schema: dict[str, Any] | None, verifier_score: float | None) -> GateVerdict:
        """`verifier_score` is the provider's logprob score or a verifier call's; None when the
        policy sets no minimum."""
        failures = [
            *self._refusal(result),
            *self._completeness(result),
            *self._schema(result, schema),
            *self._verifier(verifier_score),
        ]
        return GateVerdict(failures=failures)

    def _refusal(self, result: ChatResult) -> list[str]:
        if self._spec.reject_refusals and _REFUSAL.search(result.text[:200]):
            return ["refusal"]
        return []

    def _completeness(self, result: ChatResult) -> list[str]:
        if not self._spec.require_complete:
            return []
        failures = [] if result.finish_reason == "stop" else [f"incomplete: finish_reason={result.finish_reason}"]
        if len(result.text.strip()) < self._spec.min_length:
            failures.append(f"too short: {len(result.text.strip())} < {self._spec.min_length} characters")
        return failures

    def _schema(self, result: ChatResult, schema: dict[str, Any] | None) -> list[str]:
        if schema is None or not self._spec.validate_json_schema:
            return []
        try:
            document = json.loads(result.text)
        except json.JSONDecodeError as e:
            return [f"invalid JSON: {e.msg} at character {e.pos}"]
        except RecursionError:
            return ["invalid JSON: nested too deeply"]
        try:
            error = next(iter(_validator(_canonical(schema)).iter_errors(document)), None)
        except RecursionError:
            # An answer nested deeper than Python's stack is not one a caller asked for.
            return ["schema: the answer is nested too deeply to validate"]
        if error is None:
            return []
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return [f"schema: {where}: {error.message[:200]}"]

    def _verifier(self, score: float | None) -> list[str]:
        threshold = self._spec.min_verifier_score
        if threshold is None:
            return []
        if score is None:
            return ["verifier: no score"]
        return [] if score >= threshold else [f"verifier: {score:.2f} < {threshold:.2f}"]
