"""The simulated models: cheap ones fail hard queries the way cheap models do, answers are
reproducible, and what they report (tokens, logprobs) agrees with what they say."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest
from pydantic import JsonValue

from router_py.complete.gate import AcceptanceGate
from router_py.config.schema import GateSpec
from router_py.providers.types import ChatResult, Usage
from router_tools.mock.answers import REFUSAL, Outcome, compose, count_tokens, sample_instance
from router_tools.mock.difficulty import assess
from router_tools.mock.profiles import PROFILES

EASY = [
    "How do I reset my password?",
    "What are your opening hours on Saturday?",
    "hello, how are you today",
    "set an alarm for 7am",
    "Where can I see my card balance?",
    "I want a refund for my last order",
    "add milk to my shopping list",
    "what is the weather tomorrow",
    "thanks, bye",
    "can you translate good morning into Spanish",
]
HARD = [
    "Prove that there are infinitely many primes, with a rigorous proof by contradiction.",
    "Implement a thread-safe LRU cache in Rust with O(1) operations and explain the time complexity.",
    "Identify if the clause provides that the Receiving Party may share Confidential Information with employees.",
    "A patient presents with fatigue, joint pain and a butterfly rash: the likely diagnosis and first-line medication?",
    "Debug this Python function: def f(x): return [i for i in range(x) if i % 2 == 0][x]",
    "Derive the closed form of the sum of the first n squares and prove it by induction.",
    "Analyze the trade-offs between event sourcing and a relational model for a ledger architecture, step by step.",
    "Write a SQL query that returns the top 3 customers by revenue per region, with ties broken by signup date.",
    "Mrs. Harrington bought 12 boxes of 20 oranges, gave 2 boxes to each of 2 people, kept 1/4. How many were sold?",
    "Under which jurisdiction would a breach of contract lawsuit about this indemnification clause be heard?",
]
SCHEMA: dict[str, JsonValue] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "score": {"type": "number", "minimum": 0}},
    "required": ["answer", "score"],
}


def outcomes(profile: str, queries: list[str]) -> list[Outcome]:
    return [compose(PROFILES[profile], q).outcome for q in queries]


def test_difficulty_separates_easy_from_hard() -> None:
    assert max(assess(q).score for q in EASY) < 0.3
    assert min(assess(q).score for q in HARD) > 0.4


def test_fast_answers_easy_queries() -> None:
    assert outcomes("fast", EASY).count(Outcome.ANSWER) >= 9


def test_fast_fails_hard_queries_like_a_cheap_model() -> None:
    results = outcomes("fast", HARD)
    assert results.count(Outcome.ANSWER) <= 2
    assert {Outcome.REFUSAL, Outcome.TRUNCATED} & set(results)


def test_smart_fails_rarely_and_reasoning_almost_never() -> None:
    assert outcomes("smart", HARD).count(Outcome.ANSWER) >= 7
    assert outcomes("reasoning", HARD).count(Outcome.ANSWER) == len(HARD)


def test_answers_are_a_function_of_profile_and_query() -> None:
    for query in EASY[:3] + HARD[:3]:
        assert compose(PROFILES["fast"], query) == compose(PROFILES["fast"], query)
    assert compose(PROFILES["fast"], HARD[0]).text != compose(PROFILES["reasoning"], HARD[0]).text


def test_failure_modes_look_like_a_cheap_models() -> None:
    for query in HARD:
        answer = compose(PROFILES["fast"], query)
        if answer.outcome is Outcome.REFUSAL:
            assert answer.text.startswith(REFUSAL) and answer.finish_reason == "stop"
        if answer.outcome is Outcome.TRUNCATED:
            assert answer.finish_reason == "length" and not answer.text.endswith(".")


def test_the_routers_gate_takes_the_mocks_refusals_for_refusals_and_nothing_else() -> None:
    """The gate knows nothing of the mock: its refusals must read as a real model's do."""
    gate = AcceptanceGate(GateSpec())
    seen: set[Outcome] = set()
    for profile in PROFILES.values():
        for query in EASY + HARD:
            answer = compose(profile, query)
            result = ChatResult(text=answer.text, finish_reason=answer.finish_reason, model=profile.model,
                                usage=Usage(input_tokens=1, output_tokens=len(answer.tokens)))
            refused = "refusal" in gate.check(result, None, None).failures
            assert refused == (answer.outcome is Outcome.REFUSAL), (profile.name, query, answer.text)
            seen.add(answer.outcome)
    assert {Outcome.ANSWER, Outcome.REFUSAL} <= seen


def test_json_mode_fails_as_invalid_json_on_a_hard_query() -> None:
    good = compose(PROFILES["reasoning"], HARD[0], schema=SCHEMA)
    jsonschema.validate(json.loads(good.text), SCHEMA)
    broken = [compose(PROFILES["fast"], q, schema=SCHEMA) for q in HARD]
    assert any(a.outcome is Outcome.INVALID_JSON for a in broken)
    for answer in broken:
        if answer.outcome is Outcome.INVALID_JSON:
            with pytest.raises(json.JSONDecodeError):
                json.loads(answer.text)


def test_every_answer_says_it_is_simulated() -> None:
    for profile in PROFILES.values():
        for query in EASY[:2] + HARD[:2]:
            assert "simulated" in compose(profile, query).text


def test_token_counts_and_logprobs_agree_with_the_text() -> None:
    for query in EASY + HARD:
        answer = compose(PROFILES["smart"], query, max_tokens=40)
        assert len(answer.tokens) == count_tokens(answer.text) == len(answer.logprobs) <= 40
        assert all(lp <= 0 for lp in answer.logprobs)


def test_a_struggling_model_is_less_sure_of_itself() -> None:
    def confidence(query: str) -> float:
        lps = compose(PROFILES["fast"], query).logprobs
        return math.exp(sum(lps) / len(lps))

    assert min(map(confidence, EASY)) > max(
        confidence(q) for q in HARD if compose(PROFILES["fast"], q).outcome is not Outcome.ANSWER
    )


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    answer = compose(PROFILES["reasoning"], HARD[1], max_tokens=5)
    assert (len(answer.tokens), answer.finish_reason) == (5, "length")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 2}}},
        {"type": ["string", "null"], "minLength": 20},
        {"anyOf": [{"type": "integer", "minimum": 5}, {"type": "string"}]},
        {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "ok": {"type": "boolean"},
                "n": {"type": "integer", "exclusiveMinimum": 0},
            },
        },
    ],
)
def test_sampled_instances_satisfy_their_schema(schema: dict[str, JsonValue]) -> None:
    jsonschema.validate(sample_instance(schema), schema)
