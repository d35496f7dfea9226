"""One mapping from what went wrong to what each front end answers (gRPC status, HTTP status)."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable

import grpc
from pydantic import BaseModel, ConfigDict, ValidationError
from referencing.exceptions import Unresolvable

from router_py import _core
from router_py.complete.catalog import UnknownModelError
from router_py.complete.failover import DeadlineExceededError, TierUnavailableError
from router_py.complete.gate import InvalidSchemaError
from router_py.complete.pipeline import StreamBrokenError
from router_py.providers.types import ProviderError
from router_py.routing.engine import DecisionBacklogError
from router_py.service.overload import OverloadedError

log = logging.getLogger("llm_router.errors")

# What a 503 asks the caller to wait when nothing better is known (no provider, a broken stream).
UNAVAILABLE_RETRY_S = 1.0


class BadRequestError(ValueError):
    """A request a front end refuses: the field, as the caller wrote it (a JSON path, a header
    name, a proto field), and why."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


def unparsable(error: Exception) -> BadRequestError:
    """An error neither front end foresaw while turning a request into the router's: the
    request's doing all the same, so a 400 / INVALID_ARGUMENT, never a 500 (logged, as a parser
    gap worth closing)."""
    log.warning("request refused: unforeseen parse error", exc_info=error)
    return BadRequestError("(request)", f"cannot be parsed ({type(error).__name__})")


class PayloadTooLargeError(BadRequestError):
    """Over a size bound checked before the request is parsed: 413 / RESOURCE_EXHAUSTED."""


class FieldViolation(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    description: str


class ErrorInfo(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    grpc_code: grpc.StatusCode
    http_status: int
    # OpenAI's error `type` vocabulary, for the HTTP API.
    kind: str
    message: str
    violations: list[FieldViolation] = []
    retry_after_s: float | None = None


def violations_of(error: ValidationError) -> list[FieldViolation]:
    """`messages[0].content: Field required`-style paths, as a caller would write them."""
    out = []
    for e in error.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
        out.append(FieldViolation(field=path or "(request)", description=e["msg"]))
    return out


def _invalid(message: str, violations: list[FieldViolation] | None = None) -> ErrorInfo:
    return ErrorInfo(grpc_code=grpc.StatusCode.INVALID_ARGUMENT, http_status=400, kind="invalid_request_error",
                     message=message, violations=violations or [])


def _unavailable(message: str, retry_after_s: float = UNAVAILABLE_RETRY_S) -> ErrorInfo:
    return ErrorInfo(grpc_code=grpc.StatusCode.UNAVAILABLE, http_status=503, kind="service_unavailable",
                     message=message, retry_after_s=retry_after_s)


def classify(error: Exception) -> ErrorInfo:
    match error:
        case ValidationError():
            found = violations_of(error)
            return _invalid("; ".join(f"{v.field}: {v.description}" for v in found), found)
        case PayloadTooLargeError():
            return ErrorInfo(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, http_status=413,
                             kind="invalid_request_error", message=str(error),
                             violations=[FieldViolation(field=error.field, description=error.description)])
        case BadRequestError():
            return _invalid(str(error), [FieldViolation(field=error.field, description=error.description)])
        case InvalidSchemaError() | _core.InvalidRequestError() | UnknownModelError():
            return _invalid(str(error).strip("'\""))
        case Unresolvable():
            # Only a request's response schema holds references: one that does not resolve is
            # the caller's to fix, wherever the gate found it.
            return _invalid(f"response schema: reference does not resolve: {error}")
        case ProviderError() if not error.fails_over:
            return _invalid(f"the provider refused the request: {error}")
        case OverloadedError() | DecisionBacklogError():
            return ErrorInfo(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, http_status=429, kind="rate_limit_error",
                             message=str(error), retry_after_s=error.retry_after_s)
        case _core.RateLimitedError():
            message, _rule, retry_after = error.args
            return ErrorInfo(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, http_status=429, kind="rate_limit_error",
                             message=str(message), retry_after_s=float(retry_after))
        case DeadlineExceededError():
            return ErrorInfo(grpc_code=grpc.StatusCode.DEADLINE_EXCEEDED, http_status=504, kind="timeout",
                             message=str(error))
        case TierUnavailableError() | _core.NoProviderError() | StreamBrokenError() | ProviderError():
            return _unavailable(str(error))
        case _core.NotConfiguredError():
            return _unavailable("no routing config is live yet")
        case _:
            log.error("unexpected error", exc_info=error)
            return ErrorInfo(grpc_code=grpc.StatusCode.INTERNAL, http_status=500, kind="internal_error",
                             message=f"internal error: {type(error).__name__}")


Draw = Callable[[], float]


def jittered(retry_after_s: float, draw: Draw = random.random) -> float:
    """The delay to ask for: the base times a factor uniform in [1, 2), so callers refused
    together do not all come back in the same instant. Never less than the base: a rate limit's
    base is when its bucket has a token again. `draw` is uniform in [0, 1) (injectable for tests)."""
    return retry_after_s * (1.0 + min(max(draw(), 0.0), 1.0 - 1e-9))


def retry_after_header(delay_s: float, base_s: float) -> str:
    """HTTP's Retry-After is whole seconds. Rounding the jittered delay to the nearest second
    keeps the spread (a 1 s base gives 1 or 2), and the floor at the base rounded up keeps a
    caller from coming back before it; ceil alone would turn every 1 s base into 2."""
    return str(max(1, math.ceil(base_s), round(delay_s)))
