"""Golden-set loading: schema, typed extras, and errors that name the bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router_tools.train.dataset import DOMAINS, GoldenFileError, GoldenItem, load_golden

REPO = Path(__file__).resolve().parents[3]
ROUTING_DATA = REPO / "data" / "routing"

GOOD = {"id": "a", "query": "book me a table for two", "ideal_tier": 1, "source": "clinc150"}


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "golden.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_schema_fields_and_typed_extras(tmp_path: Path) -> None:
    rich = {
        "id": "b", "query": "prove it", "ideal_tier": 3, "domain": "math", "tags": ["tail"],
        "origin": {"repo": "x/y"}, "licence": "MIT", "spec_tier": 3, "outcome_tier": None,
        "something_else": 7,
    }
    path = write_lines(tmp_path, [json.dumps(GOOD), "", json.dumps(rich)])
    items = load_golden(path)
    assert [it.id for it in items] == ["a", "b"]
    assert items[1].is_tail and not items[0].is_tail
    assert items[1].spec_tier == 3 and items[1].outcome_tier is None
    assert items[1].model_extra == {"something_else": 7}


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "x", "query": ', "malformed JSON"),
        ('["not", "an", "object"]', "expected a JSON object"),
        ('{"id": "x", "ideal_tier": 2}', "missing field 'query'"),
        ('{"id": "x", "query": "", "ideal_tier": 2}', "'query'"),
        ('{"id": "x", "query": "q", "ideal_tier": 4}', "'ideal_tier'"),
        ('{"id": "x", "query": "q", "ideal_tier": 0}', "'ideal_tier'"),
        ('{"id": "x", "query": "q", "ideal_tier": true}', "'ideal_tier'"),
        ('{"id": "x", "query": "q", "ideal_tier": "2"}', "'ideal_tier'"),
        ('{"id": "x", "query": "q", "ideal_tier": 2, "spec_tier": 5}', "'spec_tier'"),
        ('{"id": "x", "query": "q", "ideal_tier": 2, "tags": "tail"}', "'tags'"),
    ],
)
def test_bad_line_error_names_line_and_reason(tmp_path: Path, bad_line: str, message: str) -> None:
    path = write_lines(tmp_path, [json.dumps(GOOD), "", bad_line])
    with pytest.raises(GoldenFileError) as info:
        load_golden(path)
    text = str(info.value)
    assert f"{path}:3:" in text
    assert message in text
    assert "\n" not in text


def test_duplicate_id_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [json.dumps(GOOD), json.dumps(GOOD)])
    with pytest.raises(GoldenFileError, match=r":2: duplicate id 'a' \(first on line 1\)"):
        load_golden(path)


def test_items_are_immutable() -> None:
    item = GoldenItem.model_validate(GOOD)
    with pytest.raises(ValueError):
        item.ideal_tier = 3


@pytest.mark.parametrize("name", ["train.jsonl", "holdout.jsonl"])
def test_committed_routing_data_parses(name: str) -> None:
    items = load_golden(ROUTING_DATA / name)
    assert len(items) > 1000
    for it in items:
        assert it.domain in DOMAINS
        assert it.licence and it.origin and it.source
        # ideal tier = outcome label where one exists, else the spec label
        assert it.ideal_tier == (it.outcome_tier if it.outcome_tier is not None else it.spec_tier)


def test_committed_split_is_disjoint() -> None:
    train = load_golden(ROUTING_DATA / "train.jsonl")
    holdout = load_golden(ROUTING_DATA / "holdout.jsonl")
    assert not {it.id for it in train} & {it.id for it in holdout}
    assert not {it.query for it in train} & {it.query for it in holdout}
