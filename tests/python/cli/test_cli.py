"""The `llm-router` commands as a user runs them: real process, real models, stable JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoints
from pathlib import Path

import pytest

from router_py import cli as router_cli

ROOT = Path(__file__).parents[3]
HOLDOUT = ROOT / "data" / "routing" / "holdout.jsonl"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router_py.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_route_json_prints_a_complete_decision() -> None:
    done = cli("route", "How do I reset my password?", "--json")
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    for field in ("tier", "provider", "model", "reason", "confidence", "scores", "policy_name", "policy_version",
                  "estimated_cost_usd", "tier3_cost_usd", "saved_usd", "latency_ms", "candidates"):
        assert field in decision, field
    assert decision["tier"] == 1 and decision["reason"] == "classifier"
    assert "reset my password" not in done.stdout.lower().replace('"', "")  # the prompt is never echoed


def test_bad_input_is_a_one_line_error_and_non_zero_exit(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("apiVersion: llmrouter.io/v1alpha1\nkind: RoutingPolicy\nmetadata: {name: x}\nspec: {typo: 1}\n")
    for args in (("route", "hi", "--config", str(bad)), ("route", "   "), ("route", "hi", "--min-tier", "7")):
        done = cli(*args)
        assert done.returncode != 0
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("llm-router route:")


def test_eval_golden_json_has_the_design_fields(tmp_path: Path) -> None:
    sample = tmp_path / "golden.jsonl"
    # "\n" only: queries hold characters (U+2028...) that str.splitlines() also breaks on.
    lines = [line for line in HOLDOUT.read_text().split("\n") if line]
    sample.write_text("\n".join(lines[::50]) + "\n")
    done = cli("eval", "golden", str(sample), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for field in ("n", "accuracy", "under_routed", "over_routed", "cost_ratio", "regret", "confusion", "tail",
                  "by_source", "latency_ms", "items", "curve", "baselines"):
        assert field in report, field
    assert report["n"] == len(lines[::50])
    item = report["items"][0]
    assert set(item) >= {"id", "ideal_tier", "tier", "reason", "confidence", "scores"} and len(item["scores"]) == 3


def test_eval_golden_names_the_bad_line(tmp_path: Path) -> None:
    broken = tmp_path / "golden.jsonl"
    broken.write_text('{"id": "a", "query": "hi", "ideal_tier": 1}\n{"id": "b", "query": "x", "ideal_tier": 5}\n')
    done = cli("eval", "golden", str(broken))
    assert done.returncode != 0 and "golden.jsonl:2:" in done.stderr and "ideal_tier" in done.stderr


def test_the_tools_commands_come_from_the_tools_package() -> None:
    done = cli("--help")
    assert done.returncode == 0, done.stderr
    for command in ("route", "serve", "keys", "train", "demo", "eval", "calibrate", "mock-provider"):
        assert command in done.stdout, command


def test_serving_imports_none_of_the_tools() -> None:
    probe = ("import sys\nfrom router_py.cli import main\ntry:\n    main(['serve', '--help'])\nexcept SystemExit:\n"
             "    pass\nprint(sorted(m for m in sys.modules if m.startswith('router_tools')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_tools_command_without_the_tools_names_the_package(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(router_cli, "entry_points", lambda group: EntryPoints(()))
    for args in (["demo"], ["eval", "golden", "x.jsonl"]):
        assert router_cli.main(args) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"llm-router: no command '{args[0]}'") and router_cli.TOOLS_PACKAGE in err
