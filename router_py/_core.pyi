"""Typed surface of the Rust extension `router_py._core` (checked by mypy.stubtest in `make test`)."""

from os import PathLike
from typing import final

__version__: str

def config_json_schema() -> str: ...

class RouterError(Exception): ...
class InvalidConfigError(RouterError): ...
class InvalidRequestError(RouterError): ...
class ModelError(RouterError): ...
class InferenceError(RouterError): ...
class RateLimitedError(RouterError): ...
class NoProviderError(RouterError): ...
class SnapshotError(RouterError): ...
class NotConfiguredError(RouterError): ...

@final
class CachedAnswer:
    tier: int
    provider: str
    model: str
    payload: str
    def __new__(cls, tier: int, provider: str, model: str, payload: str) -> CachedAnswer: ...

@final
class Candidate:
    tier: int
    provider: str
    model: str
    region: str

@final
class StageTimings:
    limits_us: int
    exact_cache_us: int
    embed_us: int
    semantic_cache_us: int
    classify_us: int
    policy_us: int
    total_us: int

@final
class Decision:
    @property
    def tier(self) -> int: ...
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def scores(self) -> list[float]: ...
    @property
    def domain(self) -> str: ...
    @property
    def policy_name(self) -> str: ...
    @property
    def policy_version(self) -> int: ...
    @property
    def estimated_cost_usd(self) -> float: ...
    @property
    def tier3_cost_usd(self) -> float: ...
    @property
    def saved_usd(self) -> float: ...
    @property
    def input_tokens(self) -> int: ...
    @property
    def embedded_tokens(self) -> int: ...
    @property
    def candidates(self) -> list[Candidate]: ...
    @property
    def max_escalation_tier(self) -> int: ...
    @property
    def cached(self) -> CachedAnswer | None: ...
    @property
    def similarity(self) -> float | None: ...
    @property
    def trail(self) -> list[str]: ...
    @property
    def stages(self) -> StageTimings: ...

@final
class BreakerStatus:
    provider: str
    state: str
    since_unix_ms: int
    consecutive_failures: int

@final
class Transition:
    provider: str
    from_state: str
    to_state: str

@final
class PolicyInfo:
    name: str
    version: int

# What the caches and the rate limiter hold (Router.cache_stats), for /metrics. Semantic bytes
# are the resident estimate its byte budget (semantic_max_bytes) is enforced on.
@final
class CacheStats:
    semantic_tenants: int
    semantic_entries: int
    semantic_bytes: int
    semantic_evicted_tenants: int
    exact_entries: int
    exact_bytes: int
    limiter_buckets: int

# `variant` (Router and Embedder): "default" is the manifest's `default`, or its `default_vnni`
# on a CPU with VNNI (avx512_vnni or avx_vnni); "fp32", "int8", or "int8_vnni", which raises
# ModelError on a CPU without VNNI (its signed int8 arithmetic saturates there).
@final
class Router:
    def __new__(
        cls,
        model_dir: str | PathLike[str],
        *,
        ort_library: str | PathLike[str] | None = None,
        variant: str = "default",
        sessions: int = 2,
        intra_threads: int = 1,
        exact_max_entries: int = 100000,
        exact_max_bytes: int = 268435456,
        semantic_max_entries_per_tenant: int = 100000,
        snapshot_dir: str | PathLike[str] | None = None,
        semantic_max_tenants: int = 10000,
        semantic_max_bytes: int = 536870912,
        limiter_max_buckets: int = 100000,
    ) -> Router: ...
    def apply_config(self, config_json: str) -> PolicyInfo: ...
    def policy(self) -> PolicyInfo | None: ...
    def decide(
        self,
        tenant: str,
        text: str,
        *,
        context: str = "",
        user: str | None = None,
        region: str | None = None,
        min_tier: int | None = None,
        max_tier: int | None = None,
        pinned_model: str | None = None,
    ) -> Decision: ...
    def cache_put(self, decision: Decision, answer: CachedAnswer) -> None: ...
    def warm(self, tenant: str, queries: list[str], embeddings: bytes, answers: list[CachedAnswer]) -> int: ...
    def record_outcome(self, provider: str, success: bool) -> Transition | None: ...
    def admit(self, provider: str) -> tuple[bool, Transition | None]: ...
    def tier_candidates(self, tier: int, tenant: str, *, region: str | None = None) -> list[Candidate]: ...
    def breaker_states(self) -> list[BreakerStatus]: ...
    def breaker_transitions(self) -> int: ...
    def snapshot(self, dir: str | PathLike[str]) -> None: ...
    def expire_caches(self) -> int: ...
    def cache_stats(self) -> CacheStats: ...
    def domains(self) -> list[str]: ...
    def count_tokens(self, text: str) -> int: ...
    def embedder_variant(self) -> str: ...

@final
class Embedder:
    def __new__(
        cls,
        dir: str | PathLike[str],
        *,
        ort_library: str | PathLike[str] | None = None,
        variant: str = "default",
        sessions: int = 1,
        intra_threads: int = 1,
    ) -> Embedder: ...
    @property
    def dim(self) -> int: ...
    @property
    def variant(self) -> str: ...
    def encode(self, text: str, max_tokens: int) -> list[int]: ...
    def forward(self, ids: list[int]) -> list[float]: ...
    def embed(self, text: str, max_tokens: int) -> list[float]: ...
    def embed_batch(self, texts: list[str], max_tokens: int = 128, batch_size: int = 32) -> bytes: ...
