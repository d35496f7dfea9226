"""Golden-set items (the JSONL schema of docs/contracts.md) and their loader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from router_tools.jsonl import parse_object

Tier = Literal[1, 2, 3]


def _exact_int(value: object) -> object:
    # Lax Literal validation would read JSON true as tier 1 and 2.0 as tier 2.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be the integer 1, 2 or 3")
    return value


StrictTier = Annotated[Tier, BeforeValidator(_exact_int)]
TIERS: tuple[Tier, ...] = (1, 2, 3)
# Order is part of the exported head's contract (head.json "domains").
DOMAINS: tuple[str, ...] = ("general", "code", "math", "legal", "medical", "finance")
# Sources whose domain was set by reading each query (data/routing/README.md); every other
# source's domain is a default for the source or its subject, which a head can learn as style.
READ_DOMAIN_SOURCES: frozenset[str] = frozenset({"authored_domains"})


class GoldenItem(BaseModel):
    """One labelled query.

    The schema fields come from docs/contracts.md; `origin`, `licence`, `spec_tier` and
    `outcome_tier` are what data/routing adds, typed here so a typo in them is
    caught, and anything else is kept as given.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    query: str = Field(min_length=1)
    ideal_tier: StrictTier
    source: str | None = None
    intent: str | None = None
    domain: str | None = None
    tenant: str | None = None
    tags: tuple[str, ...] = ()
    origin: dict[str, Any] | None = None
    licence: str | None = None
    spec_tier: StrictTier | None = None
    outcome_tier: StrictTier | None = None

    @property
    def is_tail(self) -> bool:
        return "tail" in self.tags


class GoldenFileError(ValueError):
    """A golden-set file that cannot be read; the message names file and line."""


def parse_golden_line(text: str) -> GoldenItem:
    """Parse one JSONL line; raises ValueError with a one-line reason."""
    return parse_object(text, GoldenItem, what="item")


def load_golden(path: Path | str) -> list[GoldenItem]:
    """Read a golden-set JSONL file; blank lines are skipped.

    Raises GoldenFileError naming the 1-based line number of the first bad
    line (malformed JSON, missing query, ideal_tier not in 1..3, ...) or of a
    repeated id, since reports are keyed by id.
    """
    path = Path(path)
    items: list[GoldenItem] = []
    first_line: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                item = parse_golden_line(text)
            except ValueError as exc:
                raise GoldenFileError(f"{path}:{lineno}: {exc}") from None
            if item.id in first_line:
                raise GoldenFileError(
                    f"{path}:{lineno}: duplicate id {item.id!r} (first on line {first_line[item.id]})"
                )
            first_line[item.id] = lineno
            items.append(item)
    return items
