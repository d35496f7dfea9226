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
    "[simulated] I cannot assist with this request.",
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
