"""The operator's kinds: where they live in the API, their objects as read, and their status.

The status models are the source of the CRDs' status schemas (`crds.py`), as the config schema
(`router_py.config.schema`) is of their specs.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from pydantic.alias_generators import to_camel

from router_py.config.kube_objects import Kind, KubeObject

GROUP = "llmrouter.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
ROUTING_POLICIES = Kind(GROUP, VERSION, "RoutingPolicy", "routingpolicies")
PROVIDER_TIERS = Kind(GROUP, VERSION, "ProviderTier", "providertiers")


class _Status(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class ConditionType(str, Enum):
    ACCEPTED = "Accepted"
    LIVE = "Live"


class ConditionStatus(str, Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Reason(str, Enum):
    """Why a condition has its status. Accepted: VALID, or why not. Live: PUBLISHED or SHADOW,
    or why not."""

    # Accepted=True: the spec parses, its references resolve and the Rust core compiles it.
    VALID = "Valid"
    # Accepted=False: the spec does not parse (stored under an older CRD schema).
    INVALID_SPEC = "InvalidSpec"
    # Accepted=False: an `apiKeyRef: secret:NAME/KEY` names a Secret or key that does not exist.
    SECRET_MISSING = "SecretMissing"
    # Accepted=False: an older ProviderTier already serves this tier number.
    DUPLICATE_TIER = "DuplicateTier"
    # Accepted=False: `shadowPolicy` names no RoutingPolicy.
    SHADOW_MISSING = "ShadowMissing"
    # Accepted=False: the shadow RoutingPolicy is not accepted itself.
    SHADOW_NOT_ACCEPTED = "ShadowNotAccepted"
    # Accepted=False: the Rust core refused the compiled config; the message names the field.
    REJECTED_BY_CORE = "RejectedByCore"
    # Accepted=Unknown: a tier number has no accepted ProviderTier, so no policy can be compiled.
    TIERS_INCOMPLETE = "TiersIncomplete"
    # Live=True: this generation is in the published ConfigMap the routers follow.
    PUBLISHED = "Published"
    # Live=True: published as the live policy's shadow (evaluated, never routed by).
    SHADOW = "Shadow"
    # Live=False: neither the live policy nor its shadow.
    NOT_REFERENCED = "NotReferenced"
    # Live=False: this generation is not published (see Accepted); routers keep the last good one.
    PENDING = "Pending"


class Condition(_Status):
    """Shaped like metav1.Condition."""

    type: ConditionType
    status: ConditionStatus
    reason: Reason
    message: Annotated[str, Field(max_length=32768)]
    last_transition_time: datetime
    observed_generation: Annotated[int, Field(ge=0)]


class RoutingPolicyStatus(_Status):
    conditions: list[Condition] = []
    # The published revision that holds this policy, while it is live or shadow.
    revision: str | None = None


class BreakerState(str, Enum):
    """A provider's breaker across live replicas: the worst state any replica reports."""

    CLOSED = "closed"
    HALF_OPEN = "half-open"
    OPEN = "open"
    # No live replica reports this provider.
    UNKNOWN = "unknown"


class ReplicaCounts(_Status):
    closed: Annotated[int, Field(ge=0)] = 0
    half_open: Annotated[int, Field(ge=0)] = 0
    open: Annotated[int, Field(ge=0)] = 0


class ProviderHealth(_Status):
    name: str
    state: BreakerState
    # When the first replica still in `state` entered it.
    since: datetime | None = None
    replicas: ReplicaCounts = ReplicaCounts()


class ProviderTierStatus(_Status):
    conditions: list[Condition] = []
    providers: list[ProviderHealth] = []
    # Providers whose breaker is open on at least one live replica.
    open_breakers: Annotated[int, Field(ge=0)] = 0


S = TypeVar("S", bound=BaseModel)
T = TypeVar("T", RoutingPolicyStatus, ProviderTierStatus)


class CustomObject(KubeObject):
    """An object of ours as read from the API; spec and status are parsed on use, so one bad
    object is reported on its own instead of failing the whole list."""

    spec: JsonValue = None
    status: JsonValue = None

    @property
    def generation(self) -> int:
        return self.metadata.generation or 0

    def parse_spec(self, model: type[S]) -> S | str:
        """The typed spec, or the first schema error as `spec.<field>: <why>`."""
        try:
            return model.model_validate(self.spec)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(["spec", *(str(p) for p in first["loc"])])
            return f"{field}: {first['msg']}"

    def parse_status(self, model: type[T]) -> T:
        """The current status; one we cannot read is as good as none (it is about to be rewritten)."""
        try:
            return model.model_validate(self.status or {})
        except ValidationError:
            return model()
