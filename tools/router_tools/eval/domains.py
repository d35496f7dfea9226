"""How well the classifier's domain (what the policy's domain overrides act on) matches the labels.

Per domain: precision (of the items the head gave that domain, the share labelled with it),
recall (of the items labelled with it, the share the head found) and support (items labelled
with it). Only items with both a domain label and a classifier domain count: a cache hit has
no domain, and a file may label only some items.

Reported over all labelled items and per source. The sources' domains differ in how they were
set: most take a default from the source or its subject (every LegalBench row is `legal`, every
Banking77 row `general`), while `authored_domains` was labelled by reading each query, so its
figures are the ones that say whether the head found the domain rather than the source's style.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel

from router_tools.train.dataset import DOMAINS

UNKNOWN_SOURCE = "unknown"
# Sources whose domain was set by reading each query; the text table shows them apart.
READ_LABEL_SOURCES: tuple[str, ...] = ("authored_domains",)


class DomainFigures(BaseModel):
    support: int  # items labelled with this domain
    predicted: int  # items the classifier gave this domain
    precision: float | None  # None when the classifier never gave it
    recall: float | None  # None when no item is labelled with it


class DomainReport(BaseModel):
    n: int  # items with both a label and a classifier domain
    accuracy: float
    per_domain: dict[str, DomainFigures]  # the classifier's domains first, in its order
    confusion: dict[str, dict[str, int]]  # label -> classifier domain -> items; zeros left out


class DomainEvaluation(DomainReport):
    by_source: dict[str, DomainReport]


def domain_report(labels: Sequence[str | None], predicted: Sequence[str | None]) -> DomainReport | None:
    """Figures over the pairs where both sides are known; None when there are none."""
    if len(labels) != len(predicted):
        raise ValueError(f"{len(labels)} labels for {len(predicted)} predictions")
    pairs = [(y, p) for y, p in zip(labels, predicted) if y and p]
    if not pairs:
        return None
    seen = {d for pair in pairs for d in pair}
    names = [d for d in DOMAINS if d in seen] + sorted(seen - set(DOMAINS))
    support = Counter(y for y, _ in pairs)
    given = Counter(p for _, p in pairs)
    hits = Counter(y for y, p in pairs if y == p)
    confusion: dict[str, dict[str, int]] = {}
    for (y, p), count in sorted(Counter(pairs).items()):
        confusion.setdefault(y, {})[p] = count
    return DomainReport(
        n=len(pairs),
        accuracy=sum(hits.values()) / len(pairs),
        per_domain={
            d: DomainFigures(support=support[d], predicted=given[d],
                             precision=hits[d] / given[d] if given[d] else None,
                             recall=hits[d] / support[d] if support[d] else None)
            for d in names
        },
        confusion=confusion,
    )


def domain_evaluation(labels: Sequence[str | None], predicted: Sequence[str | None],
                      sources: Sequence[str | None]) -> DomainEvaluation | None:
    """`domain_report` over everything, and per source (sources with no scored item left out)."""
    overall = domain_report(labels, predicted)
    if overall is None:
        return None
    if len(sources) != len(labels):
        raise ValueError(f"{len(sources)} sources for {len(labels)} labels")
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(sources):
        groups.setdefault(s or UNKNOWN_SOURCE, []).append(i)
    by_source = {}
    for name, idx in sorted(groups.items()):
        report = domain_report([labels[i] for i in idx], [predicted[i] for i in idx])
        if report is not None:
            by_source[name] = report
    return DomainEvaluation(**overall.model_dump(), by_source=by_source)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(title: str, report: DomainReport) -> list[str]:
    lines = [f"{title} ({report.n} items, accuracy {report.accuracy:.3f})",
             f"  {'domain':<10}{'precision':>10}{'recall':>8}{'support':>9}{'given':>7}"]
    for name, f in report.per_domain.items():
        lines.append(f"  {name:<10}{_cell(f.precision):>10}{_cell(f.recall):>8}{f.support:>9}{f.predicted:>7}")
    return lines


def format_domains(evaluation: DomainEvaluation | None) -> str:
    """The text printout: per-domain tables for all items and for the read-label sources,
    and the domain accuracy of every source."""
    if evaluation is None:
        return "domain: no item has both a domain label and a classifier domain"
    lines = _table("domain, all labelled items (most labels are their source's default)", evaluation)
    for name in READ_LABEL_SOURCES:
        if name in evaluation.by_source:
            lines += ["", *_table(f"domain, {name} (labelled by reading each query)", evaluation.by_source[name])]
    lines += ["", "domain accuracy per source: " + ", ".join(
        f"{name} {r.accuracy:.3f} ({r.n})" for name, r in evaluation.by_source.items())]
    return "\n".join(lines)
