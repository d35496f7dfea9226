"""Other-intent neighbours: the wrong answers a live semantic cache is offered most often.

Labelled pairs hold paraphrases and near misses built to share a frame ("set my alarm" /
"delete my alarm"). A live cache also meets neighbours that share only a topic ("my top-up
failed" / "how do I top up my card"). Pairing each question of a pairs file with the closest
questions its source files under another intent gives such neighbours. Their labels are
automatic: intent sets hold near-duplicate intents, so some of these "wrong" pairs are really
paraphrases, and a rate measured on them is an upper bound on the cache's real error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from router_tools.eval.cache_sweep import PairRow


@dataclass(frozen=True)
class IntentQuestion:
    text: str
    source: str
    intent: str


def intent_questions(pairs: Sequence[PairRow]) -> list[IntentQuestion]:
    """Each side of each pair whose row names its source and that side's intent, once."""
    found = set()
    for pair in pairs:
        extra = pair.model_extra or {}
        for side, text in (("a", pair.a), ("b", pair.b)):
            intent, source = extra.get(f"intent_{side}"), extra.get("source")
            if isinstance(intent, str) and isinstance(source, str):
                found.add(IntentQuestion(text, source, intent))
    return sorted(found, key=lambda q: (q.source, q.intent, q.text))


def other_intent_neighbours(
    questions: Sequence[IntentQuestion], vectors: Mapping[str, NDArray[np.float32]], k: int, floor: float
) -> list[PairRow]:
    """For each question, its `k` most similar questions of another intent of its source with a
    cosine of at least `floor`, as `near_miss` pairs (each unordered pair once)."""
    if not questions:
        return []
    matrix = np.stack([vectors[q.text] for q in questions])
    sims = matrix @ matrix.T
    sources = np.array([q.source for q in questions])
    intents = np.array([q.intent for q in questions])
    seen: set[frozenset[int]] = set()
    pairs = []
    for i, q in enumerate(questions):
        other = (sources == q.source) & (intents != q.intent)
        for j in np.argsort(-np.where(other, sims[i], -2.0))[:k]:
            key = frozenset((i, int(j)))
            if other[j] and sims[i, j] >= floor and key not in seen:
                seen.add(key)
                n = questions[int(j)]
                pairs.append(PairRow.model_validate({
                    "a": n.text, "b": q.text, "kind": "near_miss", "source": q.source,
                    "intent_a": n.intent, "intent_b": q.intent, "why": "neighbour",
                }))
    return pairs
