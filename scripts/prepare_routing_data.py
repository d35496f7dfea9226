#!/usr/bin/env python3
"""Build data/routing/{train,holdout}.jsonl and STATS.md from the shared routing data.

Deterministic: every random choice is seeded from SEED and a stable key, so the
same inputs always give byte-identical outputs. The output is committed because
the project must build without ../shared. The rules implemented here are
documented in data/routing/README.md; keep the two in step.

Usage: prepare_routing_data.py [--src DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

SEED = 20250101
HOLDOUT_SHARE = 0.2
# Sources split by topic group (their `intent`) rather than by row, so the hold-out asks about
# topics the head never saw; the share is of each domain's groups.
GROUP_SPLIT_SOURCES = frozenset({"authored_domains"})
GROUP_HOLDOUT_SHARE = 0.35
REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / "shared" / "data" / "routing"
DEFAULT_OUT = REPO / "data" / "routing"
AUTHORED = "authored_tier2.jsonl"
AUTHORED_DOMAINS = "authored_domains.jsonl"
DOMAINS = ("general", "code", "math", "legal", "medical", "finance")

MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GPT4 = "gpt-4-1106-preview"

# Per-source caps: the raw sources differ by 15x in size; without caps MMLU and
# CLINC would be most of the data and the head would learn their style.
CAPS: dict[str, int] = {
    "clinc150": 1200,
    "banking77": 800,
    "hwu64": 600,
    "routellm_mmlu": 2000,
}

# Tail: the embedder truncates at 128 word pieces (~500 characters of English),
# so prompts several times longer are seen only by their opening.
LONG_PROMPT_CHARS = 2000
RARE_GROUP_MAX_TRAIN = 2
NON_LATIN_SHARE = 0.3

LICENCES = {
    "clinc150": "CC-BY-3.0",
    "banking77": "CC-BY-4.0",
    "hwu64": "CC-BY-4.0",
    "arena_hard": "Apache-2.0",
    "routellm_gsm8k": "MIT (questions), Apache-2.0 (RouteLLM outcomes)",
    "routellm_mmlu": "MIT (questions), Apache-2.0 (RouteLLM outcomes)",
}

# MMLU subjects whose spec label is tier 3 (the README's "law, medicine,
# accounting, math, logic, physics, CS subjects"); other subjects get no spec
# label, their ideal tier comes from the outcome alone.
MMLU_HARD = frozenset({
    "professional_law", "international_law", "jurisprudence",
    "professional_medicine", "college_medicine", "clinical_knowledge", "anatomy",
    "medical_genetics", "virology",
    "professional_accounting", "econometrics",
    "abstract_algebra", "college_mathematics", "high_school_mathematics",
    "elementary_mathematics", "high_school_statistics",
    "formal_logic", "logical_fallacies",
    "college_physics", "high_school_physics", "conceptual_physics",
    "college_computer_science", "high_school_computer_science",
    "computer_security", "machine_learning",
})

MMLU_DOMAIN: dict[str, str] = {
    **dict.fromkeys(("professional_law", "international_law", "jurisprudence"), "legal"),
    **dict.fromkeys((
        "professional_medicine", "college_medicine", "clinical_knowledge", "anatomy",
        "medical_genetics", "virology", "nutrition", "human_aging",
    ), "medical"),
    **dict.fromkeys((
        "professional_accounting", "econometrics",
        "high_school_macroeconomics", "high_school_microeconomics",
    ), "finance"),
    **dict.fromkeys((
        "abstract_algebra", "college_mathematics", "high_school_mathematics",
        "elementary_mathematics", "high_school_statistics", "formal_logic",
    ), "math"),
    **dict.fromkeys((
        "college_computer_science", "high_school_computer_science",
        "computer_security", "machine_learning",
    ), "code"),
}

# Intent utterances that ask for arithmetic: still tier 1, but their subject is
# math, which keeps the domain head from equating "math" with "hard".
MATH_INTENTS = frozenset({"calculator", "qa_maths"})

# Arena-Hard v0.1 cluster names are unreliable (the two prompts of a cluster
# are often unrelated), so its domain comes from the prompt text: the first
# pattern that matches wins. Code goes first because a prompt asking for a
# trading script needs programming, not financial, expertise.
ARENA_DOMAIN_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("code", re.compile(
        r"```|\bdef \w+\(|#include|\bimport \w|\bc\+\+|\bc#|\b(python|javascript|typescript|java|"
        r"rust|golang|sql|bash|powershell|regex|html|css|react|vue|node\.?js|django|flask|"
        r"fastapi|docker|kubernetes|terraform|linux|git|api|apis|function|script|code|"
        r"program|algorithm|matlab|numpy|pandas|pytorch|tensorflow|keras|vba|solidity|"
        r"smart contract|nix|kotlin|swift|php|laravel|ruby|scala|haskell|assembly|cuda|"
        r"json|yaml|sdk|compile|debug|database|server|programming|software|implement\w*|"
        r"gdscript|godot|pyqt|shell|command line)\b", re.I)),
    ("medical", re.compile(
        r"\b(medical|patient|clinical|symptoms?|diagnos\w*|disease|hospital|doctor|"
        r"medication|drug|nurse|therapy|healthcare)\b", re.I)),
    ("legal", re.compile(
        r"\b(law|laws|legal|lawsuit|court|attorney|lawyer|patent|gdpr|regulation|"
        r"directive|liability|statute|contract law)\b", re.I)),
    ("finance", re.compile(
        r"\b(invest\w*|stocks?|portfolio|tax|taxes|vat|gst|accounting|ledger|revenue|"
        r"loan|mortgage|dividend|hedg\w*|forex|trading|crypto\w*|mutual funds?|"
        r"interest rates?|financ\w*|bank)\b", re.I)),
    ("math", re.compile(
        r"\b(prove|proof|theorem|integral|derivative|probability|equation|polynomial|"
        r"primes?|irrational|geometry|triangle|expected value|combinatorics|dice|solve|"
        r"solutions?)\b",
        re.I)),
]

Row = dict[str, Any]


def read_jsonl(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def rng_for(*key: object) -> random.Random:
    # random.Random hashes str seeds with SHA-512: stable across runs and
    # platforms, unlike hash().
    return random.Random(f"{SEED}:" + ":".join(map(str, key)))


def normalise_licence(raw: str) -> str | None:
    """Map LegalBench's free-text task licence to an SPDX-like id; None for non-commercial."""
    low = raw.lower()
    if "noncommercial" in low or "non-commercial" in low:
        return None
    if "by-sa 4.0" in low:
        return "CC-BY-SA-4.0"
    if "by 4.0" in low:
        return "CC-BY-4.0"
    if low.startswith("mit") or low.startswith("[mit]"):
        return "MIT"
    raise ValueError(f"unknown LegalBench licence: {raw!r}")


def outcome_tier(correct: dict[str, bool]) -> int:
    """Cheapest tier whose stand-in model was right; 3 when neither was (no cheaper tier sufficed)."""
    return 2 if correct[MIXTRAL] else 3


def arena_domain(row: Row) -> str:
    if row["version"] == "v2.0":
        return {"coding": "code", "math": "math"}.get(row["subcategory"], "general")
    for domain, pattern in ARENA_DOMAIN_PATTERNS:
        if pattern.search(row["prompt"]):
            return domain
    return "general"


def item(row: Row, *, spec: int | None, outcome: int | None, domain: str,
         intent: str | None, licence: str) -> Row:
    ideal = outcome if outcome is not None else spec
    assert ideal in (1, 2, 3), row["id"]
    return {
        "id": row["id"],
        "query": row["prompt"],
        "ideal_tier": ideal,
        "source": row["source"],
        "intent": intent,
        "domain": domain,
        "tags": [],
        "origin": row["origin"],
        "licence": licence,
        "spec_tier": spec,
        "outcome_tier": outcome,
    }


def from_intent_set(rows: Iterable[Row]) -> list[Row]:
    return [
        item(r, spec=1, outcome=None, intent=r["intent"], licence=LICENCES[r["source"]],
             domain="math" if r["intent"] in MATH_INTENTS else "general")
        for r in rows
    ]


def from_clinc(rows: Iterable[Row]) -> list[Row]:
    # Out-of-scope utterances are open general questions of unknown difficulty;
    # labelling them by hand was not worth the risk of a noisy tier 1.
    return from_intent_set(r for r in rows if r["in_scope"])


def from_arena(rows: Iterable[Row]) -> list[Row]:
    out = []
    for r in rows:
        creative = r["subcategory"] == "creative_writing"
        intent = r["subcategory"] if r["version"] == "v2.0" else r["cluster"]
        out.append(item(r, spec=2 if creative else 3, outcome=None, intent=intent,
                        domain=arena_domain(r), licence=LICENCES["arena_hard"]))
    return out


def from_legalbench(rows: Iterable[Row]) -> list[Row]:
    out = []
    for r in rows:
        licence = normalise_licence(r["task_license"])
        if licence is None:
            continue
        out.append(item(r, spec=3, outcome=None, intent=r["task"], domain="legal",
                        licence=licence))
    return out


def from_gsm8k(rows: Iterable[Row]) -> list[Row]:
    return [
        item(r, spec=3, outcome=outcome_tier(r["correct"]), intent=None, domain="math",
             licence=LICENCES["routellm_gsm8k"])
        for r in rows
    ]


def from_mmlu(rows: Iterable[Row]) -> list[Row]:
    return [
        item(r, spec=3 if r["subject"] in MMLU_HARD else None,
             outcome=outcome_tier(r["correct"]), intent=r["subject"],
             domain=MMLU_DOMAIN.get(r["subject"], "general"),
             licence=LICENCES["routellm_mmlu"])
        for r in rows
    ]


def from_authored(rows: Iterable[Row]) -> list[Row]:
    origin = {"repo": "llm-router", "path": f"data/routing/{AUTHORED}"}
    out = []
    for r in rows:
        assert r["ideal_tier"] == 2 and r["source"] == "authored", r["id"]
        out.append({
            "id": r["id"], "query": r["query"], "ideal_tier": 2, "source": "authored",
            "intent": r["intent"], "domain": r["domain"], "tags": [], "origin": origin,
            "licence": r["licence"], "spec_tier": 2, "outcome_tier": None,
        })
    return out


def from_authored_domains(rows: Iterable[Row]) -> list[Row]:
    """Hand-written queries whose domain was set by reading each one (not by the source)."""
    origin = {"repo": "llm-router", "path": f"data/routing/{AUTHORED_DOMAINS}"}
    out = []
    for r in rows:
        assert r["source"] == "authored_domains" and r["domain"] in DOMAINS and r["intent"], r["id"]
        assert r["ideal_tier"] == r["spec_tier"] and r["outcome_tier"] is None, r["id"]
        out.append({
            "id": r["id"], "query": r["query"], "ideal_tier": r["ideal_tier"],
            "source": r["source"], "intent": r["intent"], "domain": r["domain"], "tags": [],
            "origin": origin, "licence": r["licence"], "spec_tier": r["spec_tier"],
            "outcome_tier": None,
        })
    return out


SOURCES: dict[str, tuple[str, Callable[[Iterable[Row]], list[Row]]]] = {
    "clinc150": ("clinc150.jsonl", from_clinc),
    "banking77": ("banking77.jsonl", from_intent_set),
    "hwu64": ("hwu64.jsonl", from_intent_set),
    "arena_hard": ("arena_hard.jsonl", from_arena),
    "legalbench": ("legalbench_train.jsonl", from_legalbench),
    "routellm_gsm8k": ("routellm_gsm8k.jsonl", from_gsm8k),
    "routellm_mmlu": ("routellm_mmlu.jsonl", from_mmlu),
}


def cap_balanced(items: list[Row], cap: int, source: str) -> list[Row]:
    """Take `cap` items round-robin over intent/subject groups, so small groups survive whole."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for it in items:
        groups[it["intent"] or ""].append(it)
    queues = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda it: it["id"])
        rng_for("cap", source, key).shuffle(members)
        queues.append(members)
    taken: list[Row] = []
    depth = 0
    while len(taken) < cap and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and len(taken) < cap:
                taken.append(q[depth])
        depth += 1
    return taken


def split_by_group(items: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """Hold out whole topic groups (`intent`): within each domain, the groups ranked by a
    seeded hash of their name, the first GROUP_HOLDOUT_SHARE of them (rounded)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for it in items:
        groups[it["intent"]].append(it)
    by_domain: dict[str, list[str]] = defaultdict(list)
    for name, members in groups.items():
        domains = Counter(it["domain"] for it in members)
        by_domain[min(domains, key=lambda d: (-domains[d], d))].append(name)
    held: set[str] = set()
    for names in by_domain.values():
        ranked = sorted(names, key=lambda g: hashlib.sha256(f"{SEED}:group:{g}".encode()).hexdigest())
        held.update(ranked[:round(len(ranked) * GROUP_HOLDOUT_SHARE)])
    train = [it for it in items if it["intent"] not in held]
    holdout = [it for it in items if it["intent"] in held]
    return train, holdout


def split(items: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """80/20 split stratified by (source, ideal_tier); GROUP_SPLIT_SOURCES by topic group."""
    strata: dict[tuple[str, int], list[Row]] = defaultdict(list)
    grouped: dict[str, list[Row]] = defaultdict(list)
    for it in items:
        if it["source"] in GROUP_SPLIT_SOURCES:
            grouped[it["source"]].append(it)
        else:
            strata[(it["source"], it["ideal_tier"])].append(it)
    train: list[Row] = []
    holdout: list[Row] = []
    for source in sorted(grouped):
        tr, ho = split_by_group(grouped[source])
        train.extend(tr)
        holdout.extend(ho)
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda it: it["id"])
        rng_for("split", *key).shuffle(members)
        n_hold = round(len(members) * HOLDOUT_SHARE)
        holdout.extend(members[:n_hold])
        train.extend(members[n_hold:])
    return train, holdout


def group_key(it: Row) -> str:
    return f"{it['source']}/{it['intent'] or ''}"


def non_latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if ord(c) > 0x24F) / len(letters)


def tag_tail(train: Sequence[Row], holdout: Sequence[Row]) -> None:
    """Tag long-tail items in place: a rare group, a very long prompt, or a non-Latin script."""
    seen = Counter(group_key(it) for it in train)
    for it in [*train, *holdout]:
        tags = []
        if it["intent"] and seen[group_key(it)] <= RARE_GROUP_MAX_TRAIN:
            tags.append("rare_group")
        if len(it["query"]) > LONG_PROMPT_CHARS:
            tags.append("long")
        if non_latin_share(it["query"]) > NON_LATIN_SHARE:
            tags.append("non_latin")
        it["tags"] = ["tail", *tags] if tags else []


def load_all(src: Path, out: Path) -> list[Row]:
    items: list[Row] = []
    for source, (fname, convert) in SOURCES.items():
        converted = convert(read_jsonl(src / fname))
        if source in CAPS:
            converted = cap_balanced(converted, CAPS[source], source)
        items.extend(converted)
    items.extend(from_authored(read_jsonl(out / AUTHORED)))
    items.extend(from_authored_domains(read_jsonl(out / AUTHORED_DOMAINS)))
    return dedupe(items)


def dedupe(items: list[Row]) -> list[Row]:
    """Make ids unique and drop repeated query texts.

    HWU64 reuses a few ids for different utterances (one per intent file), so
    those get the intent appended. A query text seen twice would leak between
    train and hold-out, so only its first occurrence (in id order) is kept.
    """
    ids = Counter(it["id"] for it in items)
    for it in items:
        if ids[it["id"]] > 1:
            it["id"] = f"{it['id']}-{it['intent']}"
    if len({it["id"] for it in items}) != len(items):
        raise ValueError("ids still not unique after disambiguation")
    seen: set[str] = set()
    kept = []
    for it in sorted(items, key=lambda it: it["id"]):
        text = " ".join(it["query"].lower().split())
        if text not in seen:
            seen.add(text)
            kept.append(it)
    return kept


def write_jsonl(path: Path, items: Iterable[Row]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for it in sorted(items, key=lambda it: it["id"]):
            fh.write(json.dumps(it, ensure_ascii=False, sort_keys=False) + "\n")


def table(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def tier_table(items: Sequence[Row]) -> str:
    counts = Counter((it["source"], it["ideal_tier"]) for it in items)
    sources = sorted({it["source"] for it in items})
    rows = [["source", "tier 1", "tier 2", "tier 3", "total"]]
    for s in [*sources, "total"]:
        per = [sum(n for (src, t), n in counts.items() if t == tier and s in (src, "total"))
               for tier in (1, 2, 3)]
        rows.append([s, *map(str, per), str(sum(per))])
    return table(rows)


def count_table(items: Sequence[Row], field: str) -> str:
    counts = Counter(str(v) for it in items for v in
                     (it[field] if isinstance(it[field], list) else [it[field]]))
    return table([[field, "items"], *[[k, str(n)] for k, n in sorted(counts.items())]])


def domain_table(items: Sequence[Row]) -> str:
    counts = Counter((it["source"], it["domain"]) for it in items)
    sources = sorted({it["source"] for it in items})
    rows = [["source", *DOMAINS]]
    rows += [[s, *(str(counts[(s, d)]) for d in DOMAINS)] for s in sources]
    return table(rows)


def label_table(items: Sequence[Row]) -> str:
    counts = Counter((it["spec_tier"], it["outcome_tier"]) for it in items)
    rows = [["spec_tier", "outcome_tier", "items"]]
    rows += [[str(s), str(o), str(n)] for (s, o), n in
             sorted(counts.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))]
    return table(rows)


def stats_markdown(train: Sequence[Row], holdout: Sequence[Row]) -> str:
    parts = ["# Routing data statistics\n",
             "Generated by `scripts/prepare_routing_data.py`; do not edit by hand.\n"]
    for name, items in (("train.jsonl", train), ("holdout.jsonl", holdout)):
        parts += [
            f"## {name}: {len(items)} items\n",
            "### ideal tier per source\n", tier_table(items) + "\n",
            "### spec vs outcome label\n", label_table(items) + "\n",
            "### domain\n", count_table(items, "domain") + "\n",
            "### domain per source\n", domain_table(items) + "\n",
            "### tags\n", count_table(items, "tags") + "\n",
        ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    items = load_all(args.src, args.out)
    train, holdout = split(items)
    tag_tail(train, holdout)
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out / "train.jsonl", train)
    write_jsonl(args.out / "holdout.jsonl", holdout)
    (args.out / "STATS.md").write_text(stats_markdown(train, holdout), encoding="utf-8")
    print(f"train {len(train)}, holdout {len(holdout)} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
