"""The config contract is written once, in the Rust core (`router_core/src/config.rs`), and every
artefact is generated from its JSON Schema: `router_py/config/schema.json`, the Python models
(`router_py/config/schema.py`, by `scripts/gen_config.py`) and the CRDs (`scripts/gen_crds.py`).

These fail when a checked-in artefact is stale, and show that a bound moved in the source moves in
every artefact (the generators are functions of the schema, so no Rust rebuild is needed).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from router_operator.crds import PROVIDER_TIER, ROUTING_POLICY, crd_files, custom_resource_definition

from router_py import _core
from router_py.config import schema as models
from router_py.config.manifests import embedded_default_dir, load_config

ROOT = Path(__file__).resolve().parents[3]
Schema = dict[str, Any]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # pydantic resolves the models' postponed annotations through sys.modules
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


gen_config = _load("gen_config", ROOT / "scripts" / "gen_config.py")


def core_schema() -> Schema:
    schema: Schema = json.loads(_core.config_json_schema())
    return schema


def test_checked_in_schema_and_models_are_generated_from_the_core() -> None:
    schema = core_schema()
    assert gen_config.SCHEMA_JSON.read_text() == gen_config.render_schema(schema), "run `make generate`"
    assert gen_config.MODELS_PY.read_text() == gen_config.render_models(schema), "run `make generate`"


def _property(crd: Schema, *path: str) -> Schema:
    node: Schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for key in path:
        node = node["items"] if key == "[]" else node["properties"][key]
    return node


def test_a_bound_moved_in_the_source_moves_in_every_artefact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = core_schema()
    tokens = schema["$defs"]["ClassifierSpec"]["properties"]["maxTokens"]
    assert (tokens["maximum"], tokens["default"]) == (512, 128), "the test's premise: the core's bound and default"
    tokens |= {"maximum": 1024, "default": 256}
    # the Rust default moves the default of the enclosing object too, as the core would export it
    schema["$defs"]["PolicySpec"]["properties"]["classifier"]["default"]["maxTokens"] = 256
    timeout = schema["$defs"]["ProviderSpec"]["properties"]["timeoutMs"]
    timeout["minimum"] = 50

    assert '"maximum": 1024' in gen_config.render_schema(schema)
    (tmp_path / "moved.py").write_text(gen_config.render_models(schema))
    monkeypatch.setitem(sys.modules, "moved", None)
    moved = _load("moved", tmp_path / "moved.py")

    assert moved.ClassifierSpec(max_tokens=1024).max_tokens == 1024
    assert moved.ClassifierSpec().max_tokens == 256
    with pytest.raises(ValidationError):
        models.ClassifierSpec(max_tokens=1024)
    provider: Schema = {"name": "p", "model": "m", "baseUrl": "http://p", "region": "r"}
    provider |= {"priceInputPerMtok": 1, "priceOutputPerMtok": 1, "timeoutMs": 49}
    with pytest.raises(ValidationError):
        moved.ProviderSpec.model_validate(provider)
    assert models.ProviderSpec.model_validate(provider).timeout_ms == 49

    policy = custom_resource_definition(ROUTING_POLICY.model_copy(update={"spec": moved.RoutingPolicySpec}))
    assert _property(policy, "classifier", "maxTokens")["maximum"] == 1024
    assert "Default: 256." in _property(policy, "classifier", "maxTokens")["description"]
    tier = custom_resource_definition(PROVIDER_TIER.model_copy(update={"spec": moved.TierSpec}))
    assert _property(tier, "providers", "[]", "timeoutMs")["minimum"] == 50


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args], capture_output=True, text=True, check=False
    )


def test_the_lint_checks_fail_on_stale_artefacts(tmp_path: Path) -> None:
    """What `make lint` runs: each generator's `--check` exits 1 naming the stale file."""
    assert _run("gen_config.py", "--check").returncode == 0
    schema = core_schema()
    schema["$defs"]["TierSpec"]["properties"]["tier"]["maximum"] = 4
    moved = tmp_path / "schema.json"
    moved.write_text(json.dumps(schema))
    done = _run("gen_config.py", "--schema", str(moved), "--check")
    assert done.returncode == 1
    assert "router_py/config/schema.json is stale" in done.stderr
    assert "router_py/config/schema.py is stale" in done.stderr

    crds = tmp_path / "crds"
    shutil.copytree(ROOT / "charts" / "llm-router" / "crds", crds)
    assert _run("gen_crds.py", "--out", str(crds), "--check").returncode == 0
    name = next(iter(crd_files()))
    (crds / name).write_text((crds / name).read_text().replace("maximum: 3", "maximum: 4"))
    done = _run("gen_crds.py", "--out", str(crds), "--check")
    assert (done.returncode, f"{name} is stale" in done.stderr) == (1, True)


def test_the_generator_refuses_what_it_cannot_translate() -> None:
    schema = core_schema()
    schema["$defs"]["TierSpec"]["properties"]["tier"]["multipleOf"] = 1
    with pytest.raises(gen_config.GenerationError, match="TierSpec.tier: unsupported keywords"):
        gen_config.render_models(schema)
    schema = core_schema()
    schema["$defs"]["CacheSpec"]["properties"]["exact"]["default"] = {"enabled": False, "ttlSeconds": 3600}
    with pytest.raises(gen_config.GenerationError, match="differs from ExactCacheSpec's own defaults"):
        gen_config.render_models(schema)


def test_f32_defaults_are_written_as_the_core_reads_them() -> None:
    semantic = core_schema()["$defs"]["SemanticCacheSpec"]["properties"]["similarityThreshold"]
    assert semantic["default"] != models.SemanticCacheSpec().similarity_threshold  # widened to f64 in the schema
    assert abs(semantic["default"] - models.SemanticCacheSpec().similarity_threshold) < 1e-7


@settings(max_examples=60, deadline=None)
@given(
    risk=st.floats(0, 1),
    gate=st.floats(0, 1),
    max_tokens=st.integers(8, 512),
    threshold=st.floats(0.01, 1),
    depth=st.integers(0, 2),
)
def test_python_valid_configs_round_trip_through_json(
    risk: float, gate: float, max_tokens: int, threshold: float, depth: int
) -> None:
    base = load_config(embedded_default_dir())
    raw = base.model_dump(by_alias=True, mode="json")
    raw["policy"]["classifier"] = {"maxUnderrouteRisk": risk, "confidenceThreshold": gate, "maxTokens": max_tokens}
    raw["policy"]["cache"]["semantic"]["similarityThreshold"] = threshold
    raw["policy"]["cascade"]["maxDepth"] = depth
    config = models.RouterConfig.model_validate(raw)
    assert models.RouterConfig.model_validate_json(config.to_core_json()) == config
