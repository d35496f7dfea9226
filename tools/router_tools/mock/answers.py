"""What a simulated model says to a query: its tokens, how the answer ends and how sure it was.

Everything here is a pure function of (profile, query, max_tokens, schema), seeded from a hash of
the profile and query text, so runs and replicas agree. The text always says it is simulated.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from enum import Enum

from pydantic import JsonValue

from router_tools.mock.difficulty import assess
from router_tools.mock.profiles import Profile

# A word, a number or one punctuation mark with the whitespace before it: joining tokens gives the
# text back, so usage counts and streamed deltas agree with the answer by construction.
TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])")

SENTENCES = (
    "The short answer is that it depends on a few details, which are covered below.",
    "First, check the settings that apply to your account or environment.",
    "Next, confirm the change took effect before moving on.",
    "A common mistake is to skip the verification step, so it is worth doing.",
    "If that does not work, the second option is usually faster.",
    "In most cases the default configuration is enough.",
    "Keep a note of what you changed so it can be undone later.",
    "The main trade-off is speed against thoroughness.",
    "For larger cases, split the work into smaller independent steps.",
    "Each step can be checked on its own before combining the results.",
    "That gives the expected result for the example you described.",
    "This is a simulated answer produced by the llm-router mock provider.",
)
REFUSAL = "I'm sorry, but I can't help with that request."
HEDGE = "That is a complex question and the answer depends on many factors; it may be best to consult a specialist."


class Outcome(str, Enum):
    ANSWER = "answer"
    REFUSAL = "refusal"
    TRUNCATED = "truncated"  # ran out of its own budget mid-answer
    HEDGE = "hedge"  # vague, unsure: only the logprobs give it away
    INVALID_JSON = "invalid_json"


@dataclass(frozen=True, slots=True)
class Answer:
    tokens: tuple[str, ...]
    logprobs: tuple[float, ...]
    finish_reason: str  # "stop" or "length"
    outcome: Outcome
    difficulty: float

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.rstrip())


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def compose(
    profile: Profile, query: str, *, max_tokens: int | None = None, schema: dict[str, JsonValue] | None = None
) -> Answer:
    difficulty = assess(query).score
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{profile.name}\0{query}".encode()).digest()[:8], "big"))
    p_fail = profile.failure_probability(difficulty)
    outcome = _outcome(rng, failed=rng.random() < p_fail, json_mode=schema is not None)
    low, high = profile.answer_tokens
    planned = max(1, round((low + (high - low) * difficulty) * rng.uniform(0.8, 1.2)))
    tokens, finish = _tokens(profile, query, outcome, planned, schema, rng)
    if max_tokens is not None and len(tokens) > max_tokens:
        tokens, finish = tokens[:max_tokens], "length"
    return Answer(tuple(tokens), _logprobs(len(tokens), outcome, p_fail, rng), finish, outcome, difficulty)


def _outcome(rng: random.Random, *, failed: bool, json_mode: bool) -> Outcome:
    if not failed:
        return Outcome.ANSWER
    if json_mode:
        return rng.choices((Outcome.INVALID_JSON, Outcome.REFUSAL), weights=(0.7, 0.3))[0]
    return rng.choices((Outcome.REFUSAL, Outcome.TRUNCATED, Outcome.HEDGE), weights=(0.4, 0.35, 0.25))[0]


def _tokens(
    profile: Profile,
    query: str,
    outcome: Outcome,
    planned: int,
    schema: dict[str, JsonValue] | None,
    rng: random.Random,
) -> tuple[list[str], str]:
    tag = f"[simulated {profile.model}]"
    if outcome is Outcome.REFUSAL:
        # Opens as a real model's refusal does, label last: the router's gate sees what a real
        # refusal looks like and needs no knowledge of the mock.
        return tokenize(f"{REFUSAL} {tag}"), "stop"
    if outcome is Outcome.HEDGE:
        return tokenize(f"{tag} {HEDGE}"), "stop"
    if schema is not None:
        document = tokenize(json.dumps(sample_instance(schema)))
        return (document[: max(1, len(document) // 2)] if outcome is Outcome.INVALID_JSON else document), "stop"
    if profile.canned_answer is not None:
        return tokenize(f"{tag} {profile.canned_answer}"), "stop"
    prose = tokenize(f"{tag} {_prose(query, planned * 2, rng)}")
    if outcome is Outcome.TRUNCATED:
        return prose[:planned], "length"
    return _whole_sentences(prose, planned), "stop"


def _prose(query: str, tokens: int, rng: random.Random) -> str:
    topic = " ".join(re.findall(r"\w+", query)[:8]) or "your question"
    parts = [f"About {topic}:"]
    while sum(count_tokens(p) for p in parts) < tokens:
        parts.append(rng.choice(SENTENCES))
    return " ".join(parts)


def _whole_sentences(tokens: list[str], planned: int) -> list[str]:
    """At least `planned` tokens, ending on a full stop so a complete answer reads complete."""
    for end in range(min(planned, len(tokens)), len(tokens)):
        if tokens[end - 1] == ".":
            return tokens[:end]
    return tokens


def _logprobs(n: int, outcome: Outcome, p_fail: float, rng: random.Random) -> tuple[float, ...]:
    """Confident when comfortably within its depth, unsure near its edge, lost when it failed."""
    mean = -(0.04 + 0.6 * p_fail) if outcome is Outcome.ANSWER else -(0.7 + 0.8 * rng.random())
    return tuple(min(0.0, rng.gauss(mean, 0.25 * -mean)) for _ in range(n))


def sample_instance(schema: JsonValue) -> JsonValue:
    """A value that satisfies a (simple) JSON schema: what a model that follows it would write."""
    if not isinstance(schema, dict):
        return "[simulated]"
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            return sample_instance(options[0])
    return _typed(schema, _type_of(schema))


def _type_of(schema: dict[str, JsonValue]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "string"


def _typed(schema: dict[str, JsonValue], kind: str) -> JsonValue:
    if kind == "object":
        properties = schema.get("properties")
        return {name: sample_instance(sub) for name, sub in properties.items()} if isinstance(properties, dict) else {}
    if kind == "array":
        count = schema.get("minItems")
        return [sample_instance(schema.get("items", {}))] * (count if isinstance(count, int) and count > 0 else 1)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        value = low if isinstance(low, int | float) and not isinstance(low, bool) else 0
        value = value + 1 if "exclusiveMinimum" in schema and "minimum" not in schema else value
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema)


def _string(schema: dict[str, JsonValue]) -> str:
    formats = {
        "date": "2024-01-01",
        "date-time": "2024-01-01T00:00:00Z",
        "email": "simulated@example.com",
        "uri": "https://example.com/simulated",
    }
    fmt = schema.get("format")
    text = formats.get(fmt, "[simulated]") if isinstance(fmt, str) else "[simulated]"
    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    if isinstance(min_length, int) and len(text) < min_length:
        text = text.ljust(min_length, "x")
    if isinstance(max_length, int):
        text = text[:max_length]
    return text
