from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class Hints(_message.Message):
    __slots__ = ("min_tier", "max_tier", "region")
    MIN_TIER_FIELD_NUMBER: _ClassVar[int]
    MAX_TIER_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    min_tier: int
    max_tier: int
    region: str
    def __init__(self, min_tier: _Optional[int] = ..., max_tier: _Optional[int] = ..., region: _Optional[str] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("request_id", "tenant", "user", "messages", "hints")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    tenant: str
    user: str
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    hints: Hints
    def __init__(self, request_id: _Optional[str] = ..., tenant: _Optional[str] = ..., user: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., hints: _Optional[_Union[Hints, _Mapping]] = ...) -> None: ...

class CompleteRequest(_message.Message):
    __slots__ = ("request_id", "tenant", "user", "messages", "hints", "response_json_schema", "max_tokens", "temperature", "model")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_JSON_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    tenant: str
    user: str
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    hints: Hints
    response_json_schema: str
    max_tokens: int
    temperature: float
    model: str
    def __init__(self, request_id: _Optional[str] = ..., tenant: _Optional[str] = ..., user: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., hints: _Optional[_Union[Hints, _Mapping]] = ..., response_json_schema: _Optional[str] = ..., max_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., model: _Optional[str] = ...) -> None: ...

class StageLatency(_message.Message):
    __slots__ = ("limits_ms", "exact_cache_ms", "embed_ms", "semantic_cache_ms", "classify_ms", "policy_ms", "total_ms")
    LIMITS_MS_FIELD_NUMBER: _ClassVar[int]
    EXACT_CACHE_MS_FIELD_NUMBER: _ClassVar[int]
    EMBED_MS_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_CACHE_MS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFY_MS_FIELD_NUMBER: _ClassVar[int]
    POLICY_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    limits_ms: float
    exact_cache_ms: float
    embed_ms: float
    semantic_cache_ms: float
    classify_ms: float
    policy_ms: float
    total_ms: float
    def __init__(self, limits_ms: _Optional[float] = ..., exact_cache_ms: _Optional[float] = ..., embed_ms: _Optional[float] = ..., semantic_cache_ms: _Optional[float] = ..., classify_ms: _Optional[float] = ..., policy_ms: _Optional[float] = ..., total_ms: _Optional[float] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("tier", "provider", "model", "reason", "confidence", "scores", "domain", "policy_name", "policy_version", "estimated_cost_usd", "tier3_cost_usd", "saved_usd", "input_tokens", "cache_similarity", "trail", "latency", "max_escalation_tier")
    TIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_USD_FIELD_NUMBER: _ClassVar[int]
    TIER3_COST_USD_FIELD_NUMBER: _ClassVar[int]
    SAVED_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    TRAIL_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    MAX_ESCALATION_TIER_FIELD_NUMBER: _ClassVar[int]
    tier: int
    provider: str
    model: str
    reason: str
    confidence: float
    scores: _containers.RepeatedScalarFieldContainer[float]
    domain: str
    policy_name: str
    policy_version: int
    estimated_cost_usd: float
    tier3_cost_usd: float
    saved_usd: float
    input_tokens: int
    cache_similarity: float
    trail: _containers.RepeatedScalarFieldContainer[str]
    latency: StageLatency
    max_escalation_tier: int
    def __init__(self, tier: _Optional[int] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., reason: _Optional[str] = ..., confidence: _Optional[float] = ..., scores: _Optional[_Iterable[float]] = ..., domain: _Optional[str] = ..., policy_name: _Optional[str] = ..., policy_version: _Optional[int] = ..., estimated_cost_usd: _Optional[float] = ..., tier3_cost_usd: _Optional[float] = ..., saved_usd: _Optional[float] = ..., input_tokens: _Optional[int] = ..., cache_similarity: _Optional[float] = ..., trail: _Optional[_Iterable[str]] = ..., latency: _Optional[_Union[StageLatency, _Mapping]] = ..., max_escalation_tier: _Optional[int] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("request_id", "decision")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    decision: Decision
    def __init__(self, request_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("tier", "provider", "outcome", "gate_failures", "latency_ms")
    TIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    GATE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    tier: int
    provider: str
    outcome: str
    gate_failures: _containers.RepeatedScalarFieldContainer[str]
    latency_ms: float
    def __init__(self, tier: _Optional[int] = ..., provider: _Optional[str] = ..., outcome: _Optional[str] = ..., gate_failures: _Optional[_Iterable[str]] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class CompleteResponse(_message.Message):
    __slots__ = ("request_id", "decision", "content", "finish_reason", "tier", "provider", "model", "usage", "cost_usd", "tier3_cost_usd", "saved_usd", "escalations", "failovers", "attempts", "cached", "accepted", "latency_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    TIER3_COST_USD_FIELD_NUMBER: _ClassVar[int]
    SAVED_USD_FIELD_NUMBER: _ClassVar[int]
    ESCALATIONS_FIELD_NUMBER: _ClassVar[int]
    FAILOVERS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    decision: Decision
    content: str
    finish_reason: str
    tier: int
    provider: str
    model: str
    usage: Usage
    cost_usd: float
    tier3_cost_usd: float
    saved_usd: float
    escalations: int
    failovers: int
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    cached: bool
    accepted: bool
    latency_ms: float
    def __init__(self, request_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., content: _Optional[str] = ..., finish_reason: _Optional[str] = ..., tier: _Optional[int] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., tier3_cost_usd: _Optional[float] = ..., saved_usd: _Optional[float] = ..., escalations: _Optional[int] = ..., failovers: _Optional[int] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., cached: _Optional[bool] = ..., accepted: _Optional[bool] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class CompleteStreamEvent(_message.Message):
    __slots__ = ("decision", "delta", "done")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    delta: str
    done: CompleteResponse
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., delta: _Optional[str] = ..., done: _Optional[_Union[CompleteResponse, _Mapping]] = ...) -> None: ...
