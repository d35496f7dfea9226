"""Request texts for the service bench: real queries from the routing data, each made unique by a
number so no request hits the exact cache (and the semantic cache, with its threshold at 1.0 in
the bench policy, never hits either): every Complete pays a full decision and a provider call."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "data" / "routing" / "holdout.jsonl", ROOT / "data" / "routing" / "train.jsonl")


def _queries(path: Path) -> list[str]:
    out = []
    for line in path.read_text().split("\n"):  # not splitlines(): texts hold U+2028
        if line.strip():
            q = json.loads(line)["query"]
            if "{{" not in q and "}}" not in q:  # ghz data is a Go template
                out.append(q)
    return out


class Workload:
    """`short`: queries of 3-12 words from the hold-out and training sets (a chat turn: ~10-20
    tokens, the decision's best case); `holdout`: the hold-out set as it is (median 27 words, 10%
    over 96; the classifier reads at most 128 tokens, so those cost ~10x a short one)."""

    def __init__(self, kind: str) -> None:
        if kind == "short":
            pool = [q for src in SOURCES for q in _queries(src) if 3 <= len(q.split()) <= 12 and len(q) <= 100]
        elif kind == "holdout":
            pool = _queries(SOURCES[0])
        else:
            raise ValueError(f"unknown workload {kind!r}")
        self.kind = kind
        self.queries = pool
        self._next = itertools.count()

    def texts(self, tag: str) -> Iterator[str]:
        """Endless unique texts: the pool in order, each with a number unique in this run (` #123`:
        2-3 tokens, against 10-20 for the text itself)."""
        for i in self._next:
            yield f"{self.queries[i % len(self.queries)]} #{i}"

    def chat_bodies(self, model: str, tag: str, n: int) -> list[dict[str, Any]]:
        texts = self.texts(tag)
        return [{"model": model, "messages": [{"role": "user", "content": next(texts)}]} for _ in range(n)]

    def ghz_data(self, tag: str, n: int = 2000) -> list[dict[str, Any]]:
        """Round-robin call data; `{{.RequestNumber}}` makes each call's text unique."""
        return [{"tenant": "bench", "messages": [{"role": "user", "content": f"{q} #{tag}.{{{{.RequestNumber}}}}"}]}
                for q in self.queries[:n]]
