"""Per-domain precision and recall of the classifier's domain (tools/router_tools/eval/domains.py)."""

from __future__ import annotations

import pytest

from router_tools.eval.domains import domain_evaluation, domain_report, format_domains


def test_precision_and_recall_on_a_worked_case() -> None:
    # 4 legal items: 3 found, 1 called general; 1 general item called legal;
    # 2 medical items: both called general; 3 general items right.
    labels = ["legal"] * 4 + ["general"] + ["medical"] * 2 + ["general"] * 3
    predicted = ["legal"] * 3 + ["general", "legal"] + ["general"] * 2 + ["general"] * 3
    report = domain_report(labels, predicted)
    assert report is not None
    assert report.n == 10
    assert report.accuracy == pytest.approx(6 / 10)
    legal, general, medical = (report.per_domain[d] for d in ("legal", "general", "medical"))
    assert (legal.support, legal.predicted) == (4, 4)
    assert legal.precision == pytest.approx(3 / 4) and legal.recall == pytest.approx(3 / 4)
    assert (general.support, general.predicted) == (4, 6)
    assert general.precision == pytest.approx(3 / 6) and general.recall == pytest.approx(3 / 4)
    # never predicted: precision undefined, not 0
    assert (medical.support, medical.predicted, medical.precision, medical.recall) == (2, 0, None, 0.0)
    assert list(report.per_domain) == ["general", "legal", "medical"]  # the head's order
    assert report.confusion == {"general": {"general": 3, "legal": 1},
                                "legal": {"general": 1, "legal": 3},
                                "medical": {"general": 2}}


def test_items_without_a_label_or_a_prediction_are_left_out() -> None:
    report = domain_report(["code", None, "math", "math"], ["code", "code", "", None])
    assert report is not None
    assert report.n == 1
    assert report.per_domain["code"].precision == 1.0 and "math" not in report.per_domain
    assert domain_report([None, None], ["code", "math"]) is None
    with pytest.raises(ValueError, match="2 labels for 1"):
        domain_report(["a", "b"], ["a"])


def test_by_source_and_the_printout() -> None:
    labels = ["legal", "legal", "general", "finance"]
    predicted = ["legal", "general", "general", "finance"]
    sources = ["legalbench", "authored_domains", "authored_domains", None]
    evaluation = domain_evaluation(labels, predicted, sources)
    assert evaluation is not None
    assert list(evaluation.by_source) == ["authored_domains", "legalbench", "unknown"]
    ours = evaluation.by_source["authored_domains"]
    assert ours.per_domain["legal"].recall == 0.0 and ours.per_domain["general"].precision == 0.5
    assert evaluation.per_domain["legal"].recall == 0.5
    text = format_domains(evaluation)
    assert "authored_domains (labelled by reading each query)" in text
    assert "legalbench 1.000 (1)" in text
    assert format_domains(None).startswith("domain: no item")
