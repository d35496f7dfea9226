"""The router config schema on the Python side: the same shape as `router_core/src/config.rs`.

`RoutingPolicy.spec` is `PolicySpec` without name/version (stamped from the resource) and
`ProviderTier.spec` is `TierSpec`. `tests/python/config/test_schema_drift.py` fails when this file
and the Rust structs disagree; the Rust core re-validates everything on `apply_config`.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Tier = Annotated[int, Field(ge=1, le=3)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
KEY_REF_PATTERN = r"^(env:[A-Za-z_][A-Za-z0-9_]*|secret:[a-z0-9_.-]+/[A-Za-z0-9_.-]+)$"


class _Spec(BaseModel):
    """camelCase on the wire (as in a custom resource), unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class ClassifierSpec(_Spec):
    max_underroute_risk: Probability = 0.5
    confidence_threshold: Probability = 0.5
    max_tokens: Annotated[int, Field(ge=8, le=512)] = 128


class ExactCacheSpec(_Spec):
    enabled: bool = True
    ttl_seconds: Annotated[int, Field(gt=0)] = 3600


class SemanticCacheSpec(_Spec):
    enabled: bool = True
    ttl_seconds: Annotated[int, Field(gt=0)] = 3600
    similarity_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.81
    verifier_threshold: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.91


class CacheSpec(_Spec):
    exact: ExactCacheSpec = ExactCacheSpec()
    semantic: SemanticCacheSpec = SemanticCacheSpec()


class DomainOverride(_Spec):
    name: str
    domain: str
    min_tier: Tier


class TenantOverride(_Spec):
    name: str
    tenant: str
    min_tier: Tier | None = None
    max_tier: Tier | None = None


class UserOverride(_Spec):
    name: str
    user: str
    min_tier: Tier | None = None
    max_tier: Tier | None = None


class ResidencyRule(_Spec):
    name: str
    tenant: str | None = None
    request_region: str | None = None
    allowed_regions: list[str]


class OverridesSpec(_Spec):
    domains: list[DomainOverride] = []
    tenants: list[TenantOverride] = []
    users: list[UserOverride] = []
    residency: list[ResidencyRule] = []


class RateLimit(_Spec):
    name: str
    tenant: str
    requests_per_second: Annotated[float, Field(gt=0.0)]
    burst: Annotated[int, Field(ge=1)]


class OnExceed(str, Enum):
    DOWNGRADE = "downgrade"
    REJECT = "reject"


class Tier3Limit(RateLimit):
    on_exceed: OnExceed = OnExceed.DOWNGRADE


class LimitsSpec(_Spec):
    tenants: list[RateLimit] = []
    tier3: list[Tier3Limit] = []


class GateSpec(_Spec):
    reject_refusals: bool = True
    require_complete: bool = True
    min_length: Annotated[int, Field(ge=0)] = 0
    validate_json_schema: bool = True
    min_verifier_score: Probability | None = None


class CascadeSpec(_Spec):
    max_depth: Annotated[int, Field(ge=0, le=2)] = 1
    gate: GateSpec = GateSpec()


class PolicyBody(_Spec):
    """`RoutingPolicy.spec`: everything but the name and version the config source stamps."""

    classifier: ClassifierSpec = ClassifierSpec()
    cache: CacheSpec = CacheSpec()
    overrides: OverridesSpec = OverridesSpec()
    limits: LimitsSpec = LimitsSpec()
    cascade: CascadeSpec = CascadeSpec()
    expected_output_tokens: Annotated[int, Field(gt=0)] = 256
    log_prompts: bool = False


class RoutingPolicySpec(PolicyBody):
    """`RoutingPolicy.spec` in the cluster: the policy plus the RoutingPolicy evaluated beside it in
    shadow. The operator strips `shadowPolicy` before compiling, so the core never sees it."""

    shadow_policy: str | None = None


class PolicySpec(PolicyBody):
    name: str
    version: Annotated[int, Field(ge=0)]


class ProviderApi(str, Enum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


class ProviderSpec(_Spec):
    name: str
    api: ProviderApi = ProviderApi.OPENAI
    model: str
    base_url: str
    region: str
    price_input_per_mtok: Annotated[float, Field(ge=0.0)]
    price_output_per_mtok: Annotated[float, Field(ge=0.0)]
    timeout_ms: Annotated[int, Field(gt=0)] | None = None
    # env:VARIABLE or secret:NAME/KEY (a Kubernetes Secret mounted into the router); never the key
    api_key_ref: Annotated[str, Field(pattern=KEY_REF_PATTERN)] | None = None


class BreakerSpec(_Spec):
    failure_threshold: Annotated[int, Field(ge=1)] = 5
    open_seconds: Annotated[float, Field(gt=0.0)] = 30.0
    half_open_probes: Annotated[int, Field(ge=1)] = 1
    success_threshold: Annotated[int, Field(ge=1)] = 2


class TierSpec(_Spec):
    """`ProviderTier.spec`."""

    tier: Tier
    name: str
    timeout_ms: Annotated[int, Field(gt=0)] = 30_000
    providers: list[ProviderSpec]
    breaker: BreakerSpec = BreakerSpec()


class RouterConfig(_Spec):
    """What the core's `apply_config` takes: one policy and the tiers it routes to."""

    policy: PolicySpec
    tiers: list[TierSpec]

    def to_core_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)
