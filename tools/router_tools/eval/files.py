"""Reading the files `eval golden` scores and trains on, stricter than the trainer's loader.

`load_golden` keeps fields it does not know (a training file may carry extra annotations).
An evaluation must not: a misspelt `spec_tier` or `outcome_tier` would silently drop an
item out of the label-kind figures, so here an unknown field is an error naming its line.
"""

from __future__ import annotations

from pathlib import Path

from router_tools.train.dataset import GoldenFileError, GoldenItem, load_golden


def load_eval_file(path: Path) -> list[GoldenItem]:
    """Items of a golden-set JSONL file; raises GoldenFileError (one line, naming file and
    line) on a malformed line, a repeated id, an unknown field, or a file with no items."""
    items = load_golden(path)
    if not items:
        raise GoldenFileError(f"{path}: no items (the file is empty or has only blank lines)")
    known = sorted(GoldenItem.model_fields)
    if any(it.model_extra for it in items):
        with path.open(encoding="utf-8") as fh:
            lines = [n for n, text in enumerate(fh, start=1) if text.strip()]
        for lineno, item in zip(lines, items):
            if item.model_extra:
                names = ", ".join(repr(k) for k in sorted(item.model_extra))
                raise GoldenFileError(f"{path}:{lineno}: unknown field(s) {names}; known: {', '.join(known)}")
    return items
