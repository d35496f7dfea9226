"""One line of a JSONL file as a typed row, or a one-line reason why not.

Golden sets, query pairs and every other JSONL input the tools read fail the same way (bad
JSON, not an object, a missing or invalid field), so their loaders share this parser and
only add the file name and line number.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Row = TypeVar("Row", bound=BaseModel)


def parse_object(text: str, model: type[Row], *, what: str) -> Row:
    """Parse one JSONL line into `model`; raises ValueError with a one-line reason. `what`
    names the row in a message about the row as a whole ("item", "pair")."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(first_error(exc, what)) from None


def first_error(exc: ValidationError, what: str) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or what
    if err["type"] == "missing":
        return f"missing field {field!r}"
    return f"field {field!r}: {err['msg']} (got {err.get('input')!r})"
