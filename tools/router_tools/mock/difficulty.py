"""How hard a query is for the simulated models: a score in [0, 1] from surface signals.

Deliberately crude and independent of the router's classifier (which must not be graded against
itself): regexes for what makes a cheap model stumble (code, proofs, multi-step arithmetic,
legal and medical text, length) and for what it handles (FAQ, commands, small talk). Each hard
signal closes part of the remaining gap to 1, so several together saturate instead of overflow.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

BASE = 0.15


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    weight: float
    pattern: re.Pattern[str]


def _signal(name: str, weight: float, *alternatives: str) -> Signal:
    return Signal(name, weight, re.compile("|".join(alternatives), re.IGNORECASE | re.MULTILINE))


def _words(*words: str) -> str:
    """Whole words or phrases (each may hold regex syntax)."""
    return rf"\b(?:{'|'.join(words)})\b"


HARD = (
    _signal(
        "code",
        0.45,
        r"```",
        r"^\s*(?:def|class|import|from \w+ import|#include|public static|fn|func|const|let|var)\s",
        r"[;{}]\s*$",
        _words(
            "implement", "refactor", "debug", "stack ?trace", "compile[rd]?", "regex", "algorithm", "time complexity"
        ),
        _words("sql", "python", "javascript", "typescript", r"node\.?js", "java", "rust", r"c\+\+", "golang", "php"),
        _words(
            "django",
            "react",
            "linux",
            "kernel",
            "docker",
            "kubernetes",
            "yaml",
            "api",
            "script",
            "function",
            "variable",
        ),
    ),
    _signal(
        "proof",
        0.5,
        _words(
            "prove",
            "proof",
            "theorem",
            "lemma",
            "derive",
            "derivation",
            "integral",
            "derivative",
            r"eigen\w*",
            "induction",
        ),
    ),
    _signal(
        "arithmetic",
        0.3,
        r"(?<![\d,.])(?:\d[\d,.]*+\D++){3,}\d",
        _words("calculate", "compute", "how many", "how much", "how long", "percent", "ratio", "probability"),
    ),
    _signal(
        "legal",
        0.45,
        _words(
            "clause",
            "contract",
            r"liabilit\w*",
            r"indemn\w*",
            "statute",
            "plaintiff",
            "defendant",
            "jurisdiction",
            "lawsuit",
            "tort",
        ),
        _words("confidential information", "receiving party", "terms of service"),
    ),
    _signal(
        "medical",
        0.4,
        _words(
            r"diagnos\w*",
            "symptoms?",
            "dosage",
            "patient",
            "syndrome",
            "clinical",
            "medication",
            r"contraindicat\w*",
            r"pathogen\w*",
            "deficiency",
        ),
    ),
    _signal(
        "analysis",
        0.25,
        _words(
            "step[- ]by[- ]step",
            "analy[sz]e",
            "analysis",
            "trade-?offs?",
            "evaluate",
            "critique",
            "architecture",
            "design",
            "strategy",
        ),
        _words(r"optimi[sz]\w*", "model", "curriculum", "comprehensive", "in detail", "detailed"),
    ),
    _signal("exam", 0.3, r"^\s*A[.)] .+\n\s*B[.)] "),
    _signal(
        "writing",
        0.3,
        _words(
            "write",
            "rewrite",
            "rephrase",
            "compose",
            "draft",
            "explain",
            "compare",
            "brainstorm",
            "outline",
            "persuasive",
        ),
        _words("advice", "pros and cons", "difference between", "poem", "story", "essay", "cover letter"),
    ),
)
EASY = (
    _signal(
        "faq",
        0.5,
        r"\b(?:reset|change|forgot)\b.{0,20}\b(?:password|pin)\b",
        _words(
            "opening hours",
            "business hours",
            "refund",
            "balance",
            "my card",
            "top ?up",
            "exchange rate",
            "track my",
            "cancel my",
        ),
    ),
    _signal(
        "command",
        0.5,
        r"^\s*"
        + _words(
            "set",
            "add",
            "play",
            "turn",
            "remind",
            "order",
            "book",
            "call",
            "text",
            "delete",
            "remove",
            "stop",
            "cancel",
        ),
    ),
    _signal(
        "smalltalk",
        0.6,
        r"^\s*"
        + _words("hi", "hello", "hey", "thanks?", "thank you", "bye", "goodbye", "good (?:morning|night)", "see you"),
    ),
    _signal(
        "simple_task",
        0.35,
        _words(
            "summari[sz]e", "tl;?dr", "translate", "define", "spell", "what time", "what is the (?:time|date|weather)"
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Difficulty:
    score: float
    signals: tuple[str, ...]


def assess(text: str) -> Difficulty:
    hits = {s: _distinct_matches(s, text) for s in HARD}
    hard = [s for s in HARD if hits[s]]
    easy = [s for s in EASY if s.pattern.search(text)]
    # A second, different cue of the same kind ("implement ... time complexity") counts again.
    remaining = (
        (1.0 - BASE) * math.prod((1.0 - s.weight) ** min(hits[s], 2) for s in hard) * (1.0 - _length_weight(text))
    )
    score = 1.0 - remaining
    # Easy markers only pull down a query that has no hard signal: "summarise this contract" is hard.
    if easy and not hard:
        score *= math.prod(1.0 - s.weight for s in easy)
    return Difficulty(round(min(max(score, 0.0), 1.0), 4), tuple(s.name for s in hard + easy))


def _distinct_matches(signal: Signal, text: str) -> int:
    return len({m.group(0).strip().lower() for m in signal.pattern.finditer(text)})


def _length_weight(text: str) -> float:
    """Long inputs are long tasks: nothing under ~25 words, then up to 0.3 by ~400 words."""
    words = len(text.split())
    return min(0.3, max(0.0, 0.075 * math.log2(words / 25))) if words > 25 else 0.0
