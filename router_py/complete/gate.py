"""The acceptance gate: is a cheap tier's answer good enough, or does the cascade escalate?"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict

from router_py.config.schema import GateSpec
from router_py.providers.types import ChatResult

# Openings cheap models use when they decline; matched on the first 200 characters only, so a
# long answer that quotes such a phrase later is not taken for a refusal.
_REFUSAL = re.compile(
    r"^\W*(?:\[simulated[^\]]*\]\s*)?(?:i'?m sorry|i am sorry|sorry, (?:but )?i|i can(?:no|')t (?:help|assist|answer|provide)|"
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
    """The request's response schema is not a valid JSON schema (the caller's error)."""


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    schema = json.loads(schema_json)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise InvalidSchemaError(f"response schema is not a valid JSON schema: {e.message}") from e
    return Draft202012Validator(schema)


def check_schema(schema: dict[str, Any]) -> None:
    """Raise `InvalidSchemaError` up front, before any provider is paid for."""
    _validator(json.dumps(schema, sort_keys=True))


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
        error = next(iter(_validator(json.dumps(schema, sort_keys=True)).iter_errors(document)), None)
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
