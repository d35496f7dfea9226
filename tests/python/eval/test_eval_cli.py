"""`llm-router eval golden` end to end on small files: bad input, the JSON fields, `--html`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from test_baselines import TIER1, TIER2, TIER3, fake_embedding

from router_py.cli import main
from router_tools.eval import cli as eval_cli
from router_tools.eval.files import load_eval_file
from router_tools.train.dataset import GoldenFileError


def write_jsonl(path: Path, rows: Sequence[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def rows(step: int, offset: int = 0) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for tier, texts in ((1, TIER1), (2, TIER2), (3, TIER3)):
        for i, q in enumerate(texts[offset::step]):
            row: dict[str, object] = {"id": f"t{tier}-{offset}-{i}", "query": q, "ideal_tier": tier,
                                      "source": f"src{tier}", "spec_tier": tier}
            if tier > 1 and i % 2:  # some items carry an outcome label that disagrees with the spec one
                row["outcome_tier"] = 5 - tier
                row["ideal_tier"] = 5 - tier
            out.append(row)
    return out


def fail(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["eval", "golden", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_bad_files_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "query": "hi", "ideal_tier": 1}\n\n{"id": "b", "query": "x"\n')
    assert "bad.jsonl:3: malformed JSON" in fail(capsys, str(bad))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    assert "empty.jsonl: no items" in fail(capsys, str(empty))
    typo = write_jsonl(tmp_path / "typo.jsonl", [{"id": "a", "query": "hi", "ideal_tier": 1},
                                                 {"id": "b", "query": "hi", "ideal_tier": 3, "spec_teir": 3}])
    assert "typo.jsonl:2: unknown field(s) 'spec_teir'" in fail(capsys, str(typo))
    assert "No such file" in fail(capsys, str(tmp_path / "missing.jsonl"))
    good = write_jsonl(tmp_path / "good.jsonl", rows(4))
    assert "unknown baseline" in fail(capsys, str(good), "--baselines", "length,oracle")
    # the training file is held to the same rules
    assert "typo.jsonl:2:" in fail(capsys, str(good), "--baseline-train", str(typo))


def test_unknown_field_line_counts_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "g.jsonl"
    f.write_text('\n{"id": "a", "query": "q", "ideal_tier": 1}\n\n{"id": "b", "query": "q", "ideal_tier": 1, "x": 1}\n')
    with pytest.raises(GoldenFileError, match=r"g.jsonl:4: unknown field\(s\) 'x'"):
        load_eval_file(f)


@pytest.fixture()
def fake_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The router's embedder swapped for a cheap stand-in, its cache in tmp_path."""
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.stack([fake_embedding(t) for t in texts]).astype(np.float32)

    monkeypatch.setattr(eval_cli, "core_embedder",
                        lambda: eval_cli.Embedder(embed=embed, key="fake", cache_dir=tmp_path / "cache"))
    return calls


def test_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_embedder: list[int]) -> None:
    golden = write_jsonl(tmp_path / "golden.jsonl", rows(3, offset=1))
    train = write_jsonl(tmp_path / "train.jsonl", rows(1))
    page, curve = tmp_path / "report.html", tmp_path / "curve.png"
    args = ["eval", "golden", str(golden), "--baseline-train", str(train), "--resamples", "50",
            "--html", str(page), "--curve-png", str(curve), "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["budget"] for p in doc["curve"]["points"]] == [0.01, 0.03, 0.05, 0.1]
    assert doc["curve"]["resamples"] == 50
    assert list(doc["baselines"]) == ["length", "keywords", "tfidf_lr", "knn", "always_tier2"]
    for b in doc["baselines"].values():
        assert {"accuracy", "under_routed", "cost_ratio", "by_source", "curve", "labels"} <= set(b)
    assert doc["baseline_train"]["n"] == len(rows(1))
    spec, outcome = doc["labels"]["spec"], doc["labels"]["outcome"]
    assert spec["n"] == doc["n"] and 0 < outcome["n"] < doc["n"]
    assert set(outcome["by_source"]) == {"src2", "src3"}
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 3  # curves, reliability, confusion matrices
    assert curve.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    for name in ("router", "tfidf_lr", "knn", "always_tier2", "src1", "spec_tier", "outcome_tier"):
        assert name in text
    # a second run finds both files' embeddings in the cache
    before = len(fake_embedder)
    assert main(args) == 0
    assert len(fake_embedder) == before == 2
    assert json.loads(capsys.readouterr().out)["curve"] == doc["curve"]  # same seed, same intervals


def test_without_baselines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = write_jsonl(tmp_path / "golden.jsonl", rows(4))
    assert main(["eval", "golden", str(golden), "--baselines", "", "--resamples", "10"]) == 0
    out = capsys.readouterr().out
    assert "cost ratio within an under-routing budget" in out and "tfidf_lr" not in out
