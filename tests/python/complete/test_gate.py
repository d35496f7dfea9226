"""The acceptance gate: each check alone, and that a clean answer passes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router_py.complete.gate import AcceptanceGate, InvalidSchemaError, check_schema
from router_py.config.schema import GateSpec
from router_py.providers.types import ChatResult, Usage

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def result(text: str, finish: str = "stop", score: float | None = None) -> ChatResult:
    return ChatResult(text=text, finish_reason=finish, usage=Usage(input_tokens=3, output_tokens=5), model="m",
                      verifier_score=score)


def test_a_complete_answer_passes() -> None:
    assert AcceptanceGate(GateSpec()).check(result("Paris is the capital of France."), None, None).passed


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that.",
    "Sorry, but I cannot assist with this request.",
    "As an AI language model, I cannot provide legal advice.",
    "I am unable to answer that.",
])
def test_refusals_fail(text: str) -> None:
    assert AcceptanceGate(GateSpec()).check(result(text), None, None).failures == ["refusal"]


def test_a_refusal_quoted_later_is_not_one() -> None:
    text = "Here is how to answer a customer politely. " * 6 + "Never say 'I'm sorry, I can't help'."
    assert AcceptanceGate(GateSpec()).check(result(text), None, None).passed


def test_refusals_pass_when_the_policy_allows_them() -> None:
    assert AcceptanceGate(GateSpec(reject_refusals=False)).check(result("I'm sorry, I can't."), None, None).passed


def test_truncated_and_short_answers_fail() -> None:
    gate = AcceptanceGate(GateSpec(min_length=20))
    assert gate.check(result("A long enough answer, but cut", "length"), None, None).failures == [
        "incomplete: finish_reason=length"]
    assert gate.check(result("Yes."), None, None).failures == ["too short: 4 < 20 characters"]


def test_json_is_checked_against_the_requested_schema() -> None:
    gate = AcceptanceGate(GateSpec())
    assert gate.check(result(json.dumps({"city": "Oslo"})), SCHEMA, None).passed
    assert gate.check(result('{"city": "Oslo"'), SCHEMA, None).failures[0].startswith("invalid JSON")
    assert gate.check(result('{"town": "Oslo"}'), SCHEMA, None).failures == [
        "schema: (root): 'city' is a required property"]
    assert gate.check(result('{"city": 3}'), SCHEMA, None).failures == ["schema: city: 3 is not of type 'string'"]


def test_schema_checks_can_be_turned_off() -> None:
    assert AcceptanceGate(GateSpec(validate_json_schema=False)).check(result("not json"), SCHEMA, None).passed


def test_an_invalid_schema_is_the_callers_error() -> None:
    with pytest.raises(InvalidSchemaError, match="not a valid JSON schema"):
        check_schema({"type": "no-such-type"})


def test_verifier_score_below_the_minimum_fails() -> None:
    gate = AcceptanceGate(GateSpec(min_verifier_score=0.7))
    assert gate.check(result("An answer."), None, 0.9).passed
    assert gate.check(result("An answer."), None, 0.5).failures == ["verifier: 0.50 < 0.70"]
    assert gate.check(result("An answer."), None, None).failures == ["verifier: no score"]


@given(st.text(max_size=300), st.sampled_from(["stop", "length", "content_filter"]))
def test_the_verdict_is_passed_exactly_when_no_check_failed(text: str, finish: str) -> None:
    verdict = AcceptanceGate(GateSpec()).check(result(text, finish), None, None)
    assert verdict.passed == (not verdict.failures)
    assert verdict.passed == (finish == "stop" and not verdict.failures)


def _deep(levels: int) -> dict[str, object]:
    schema: dict[str, object] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(("schema", "why"), [
    ({"$ref": "http://127.0.0.1:9/schema.json"}, "is not local"),
    ({"$ref": "file:///etc/passwd"}, "is not local"),
    ({"properties": {"a": {"$ref": "other.json#/x"}}}, "is not local"),
    ({"$ref": "#/$defs/missing"}, "does not resolve"),
    ({"$ref": "#"}, "loops back"),
    ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}, "loops back"),
    ({"properties": {"a": {"$id": "https://example.com/x", "type": "string"}}}, "only at the root"),
    (_deep(40), "deeper than"),
    ({"enum": ["x" * 70_000]}, "bytes"),
])
def test_schemas_the_gate_cannot_check_offline_are_refused_up_front(schema: dict[str, object], why: str) -> None:
    with pytest.raises(InvalidSchemaError, match=why):
        check_schema(schema)


def test_recursive_schemas_that_descend_into_the_answer_are_accepted() -> None:
    tree = {"type": "object", "properties": {"name": {"type": "string"},
                                             "children": {"type": "array", "items": {"$ref": "#"}}}}
    check_schema(tree)
    gate = AcceptanceGate(GateSpec())
    doc = {"name": "a", "children": [{"name": "b", "children": []}]}
    assert gate.check(result(json.dumps(doc)), tree, None).passed
    assert gate.check(result(json.dumps({"name": "a", "children": [{"name": 3}]})), tree, None).failures == [
        "schema: children/0/name: 3 is not of type 'string'"]


def test_local_definitions_resolve_without_any_retrieval() -> None:
    schema = {"$id": "https://example.com/answer.json", "$defs": {"city": {"type": "string"}},
              "type": "object", "properties": {"city": {"$ref": "#/$defs/city"}}, "required": ["city"]}
    check_schema(schema)
    assert AcceptanceGate(GateSpec()).check(result('{"city": 3}'), schema, None).failures == [
        "schema: city: 3 is not of type 'string'"]


def test_an_answer_nested_beyond_the_stack_fails_the_gate_instead_of_raising() -> None:
    text = "[" * 100_000 + "]" * 100_000
    assert AcceptanceGate(GateSpec()).check(result(text), {"type": "array"}, None).failures[0].startswith("invalid JSON")


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["$ref", "type", "items", "allOf", "properties", "$defs", "not", "a"]),
                        inner, max_size=3),
                    max_leaves=12))
def test_any_schema_is_accepted_or_refused_with_a_reason(schema: object) -> None:
    """Property: check_schema raises nothing but InvalidSchemaError, and an accepted schema
    validates any answer without raising."""
    if not isinstance(schema, dict):
        return
    try:
        check_schema(schema)
    except InvalidSchemaError:
        return
    AcceptanceGate(GateSpec()).check(result('{"a": [1, {"b": null}]}'), schema, None)
