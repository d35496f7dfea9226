"""gRPC front end: `llmrouter.v1.Router` on a grpc.aio server, with grpc.health.v1, server
reflection, deadlines passed down to provider calls, and field-level INVALID_ARGUMENT."""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from pydantic import ValidationError

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.completion import Completion, CompletionRequest, Conversation
from router_py.ids import new_id
from router_py.routing.request import DecisionRecord, RouteRequest
from router_py.service.app import RouterService
from router_py.service.auth import Authenticator, GrpcAuth
from router_py.service.errors import BadRequestError, Draw, FieldViolation, classify, jittered, unparsable
from router_py.service.limits import RequestLimits
from router_py.telemetry.metrics import metrics

_T = TypeVar("_T")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Router"].full_name


class RouterServicer(pb_grpc.RouterServicer):
    def __init__(self, service: RouterService, limits: RequestLimits | None = None, *,
                 draw: Draw = random.random) -> None:
        self._service = service
        self._limits = limits or RequestLimits()
        self._draw = draw  # Retry-After jitter, uniform in [0, 1)

    async def Route(self, request: pb.RouteRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.RouteResponse:
        started = time.monotonic()
        request_id = request.request_id or new_id()
        try:
            route = _parsed(lambda: _route_request(request, self._limits))
            decision = await self._service.route(route, request_id, api="grpc.route")
        except Exception as e:  # every failure becomes one status, never a dropped call
            await _abort(context, e, "grpc.route", started, self._draw)
        metrics().count_request("grpc.route", "OK", started)
        return pb.RouteResponse(request_id=request_id, decision=decision_pb(decision))

    async def Complete(self, request: pb.CompleteRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.CompleteResponse:
        started = time.monotonic()
        try:
            completion_request = _parsed(lambda: _completion_request(request, self._limits))
            deadline = self._service.deadline(context.time_remaining())
            completion = await self._service.complete(completion_request, deadline, api="grpc.complete")
        except Exception as e:
            await _abort(context, e, "grpc.complete", started, self._draw)
        metrics().count_request("grpc.complete", "OK", started)
        return completion_pb(completion)

    async def CompleteStream(
        self, request: pb.CompleteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.CompleteStreamEvent]:
        started = time.monotonic()
        try:
            completion_request = _parsed(lambda: _completion_request(request, self._limits))
            deadline = self._service.deadline(context.time_remaining())
            async for item in self._service.stream(completion_request, deadline, api="grpc.stream"):
                yield _stream_event(item)
        except Exception as e:
            await _abort(context, e, "grpc.stream", started, self._draw)
        metrics().count_request("grpc.stream", "OK", started)


def _stream_event(item: DecisionRecord | str | Completion) -> pb.CompleteStreamEvent:
    if isinstance(item, DecisionRecord):
        return pb.CompleteStreamEvent(decision=decision_pb(item))
    if isinstance(item, str):
        return pb.CompleteStreamEvent(delta=item)
    return pb.CompleteStreamEvent(done=completion_pb(item))


async def _abort(context: grpc.aio.ServicerContext[Any, Any], error: Exception, api: str, started: float,
                 draw: Draw = random.random) -> None:
    info = classify(error)
    metrics().count_request(api, info.grpc_code.name, started)
    details: list[any_pb2.Any] = []
    if info.violations:
        details.append(_packed(_bad_request(info.violations)))
    retry: tuple[tuple[str, str], ...] = ()
    if info.retry_after_s is not None:
        delay_s = jittered(info.retry_after_s, draw)
        delay = error_details_pb2.RetryInfo()
        delay.retry_delay.FromMilliseconds(round(delay_s * 1000))
        details.append(_packed(delay))
        retry = (("retry-after", f"{delay_s:.3f}"),)
    status = rpc_status.to_status(
        status_pb2.Status(code=getattr(code_pb2, info.grpc_code.name), message=info.message, details=details)
    )
    # abort_with_status sends the status's own trailers only: Retry-After rides with the details.
    await context.abort_with_status(_Status(status.code, status.details, (*status.trailing_metadata, *retry)))


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def _bad_request(violations: list[FieldViolation]) -> error_details_pb2.BadRequest:
    return error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description) for v in violations
    ])


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _messages(messages: Any) -> list[dict[str, str]]:
    """Left for the request model to validate, so errors carry their `messages[i].field` path."""
    return [{"role": m.role, "content": m.content} for m in messages]


def _hints(request: pb.RouteRequest | pb.CompleteRequest) -> dict[str, Any]:
    hints = request.hints
    return {
        "min_tier": hints.min_tier if hints.HasField("min_tier") else None,
        "max_tier": hints.max_tier if hints.HasField("max_tier") else None,
        "region": hints.region or None,
    }


def _parsed(parse: Callable[[], _T]) -> _T:
    """Whatever goes wrong turning the message into the router's request is the request's
    doing: INVALID_ARGUMENT, never INTERNAL, even where the error is not one we foresaw."""
    try:
        return parse()
    except (ValidationError, BadRequestError):
        raise
    except Exception as e:
        raise unparsable(e) from e


def _route_request(request: pb.RouteRequest, limits: RequestLimits) -> RouteRequest:
    """A decision needs the conversation, who asks and the hints, checked as a Complete call's
    are; nothing about an answer."""
    checked = Conversation.model_validate({"messages": _messages(request.messages), **_identity(request),
                                           **_hints(request)})
    limits.check(checked)
    return checked.route_request()


def _identity(request: pb.RouteRequest | pb.CompleteRequest) -> dict[str, Any]:
    # No default tenant: proto3 cannot tell an unset field from "", and a caller that forgot it
    # would share the `default` tenant's cache and limits. (With auth on, the key's tenant has
    # been filled in before the servicer runs.)
    return {"tenant": request.tenant, "user": request.user or None}


def _f32(value: float) -> float:
    """A proto `float` is 32 bits: 0.9 arrives as 0.899999976...; the caller meant 0.9."""
    return float(f"{value:.7g}")


def _completion_request(request: pb.CompleteRequest, limits: RequestLimits) -> CompletionRequest:
    schema: Any = None
    if request.response_json_schema:
        try:
            schema = json.loads(request.response_json_schema)
        except json.JSONDecodeError as e:
            raise _field_error("response_json_schema", f"not valid JSON: {e.msg}") from e
        except RecursionError as e:
            raise _field_error("response_json_schema", "nests too deeply") from e
    checked = CompletionRequest.model_validate({
        "request_id": request.request_id or new_id(),
        "messages": _messages(request.messages),
        "response_schema": schema,
        "max_tokens": request.max_tokens if request.HasField("max_tokens") else None,
        "temperature": _f32(request.temperature) if request.HasField("temperature") else None,
        "top_p": _f32(request.top_p) if request.HasField("top_p") else None,
        "stop": list(request.stop) or None,
        "seed": request.seed if request.HasField("seed") else None,
        "pinned_model": request.model if request.model not in ("", "auto") else None,
        **_identity(request),
        **_hints(request),
    })
    limits.check(checked)
    return checked


def _field_error(field: str, message: str) -> ValidationError:
    return ValidationError.from_exception_data("CompleteRequest", [
        {"type": "value_error", "loc": (field,), "input": None, "ctx": {"error": ValueError(message)}}
    ])


def decision_pb(d: DecisionRecord) -> pb.Decision:
    s = d.latency_ms
    return pb.Decision(
        tier=d.tier, provider=d.provider, model=d.model, reason=d.reason, confidence=d.confidence, scores=d.scores,
        domain=d.domain, policy_name=d.policy_name, policy_version=d.policy_version,
        estimated_cost_usd=d.estimated_cost_usd, tier3_cost_usd=d.tier3_cost_usd, saved_usd=d.saved_usd,
        input_tokens=d.input_tokens, cache_similarity=d.cache_similarity, trail=d.trail,
        max_escalation_tier=d.max_escalation_tier,
        latency=pb.StageLatency(limits_ms=s.limits, exact_cache_ms=s.exact_cache, embed_ms=s.embed,
                                semantic_cache_ms=s.semantic_cache, classify_ms=s.classify, policy_ms=s.policy,
                                total_ms=s.total),
    )


def completion_pb(c: Completion) -> pb.CompleteResponse:
    return pb.CompleteResponse(
        request_id=c.request_id, decision=decision_pb(c.decision), content=c.content, finish_reason=c.finish_reason,
        tier=c.tier, provider=c.provider, model=c.model,
        usage=pb.Usage(input_tokens=c.usage.input_tokens, output_tokens=c.usage.output_tokens),
        cost_usd=c.cost_usd, tier3_cost_usd=c.tier3_cost_usd, saved_usd=c.saved_usd, escalations=c.escalations,
        failovers=c.failovers, cached=c.cached, accepted=c.accepted, latency_ms=c.latency_ms,
        attempts=[pb.Attempt(tier=a.tier, provider=a.provider, outcome=a.outcome, gate_failures=a.gate_failures,
                             latency_ms=a.latency_ms) for a in c.attempts],
    )


class _Malformed:
    """What the lenient deserializer hands on in place of a message it could not parse."""

    def __init__(self, why: str) -> None:
        self.why = why


def _lenient(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except Exception as e:  # DecodeError, or whatever else the parser makes of hostile bytes
            return _Malformed(f"{type(e).__name__}: {e}")

    return parse


Handler = Any  # grpc.RpcMethodHandler, generic in the stubs only


class MalformedRequests(grpc.aio.ServerInterceptor):
    """Bytes that are not the method's request message are the caller's error: INVALID_ARGUMENT.
    grpc.aio answers UNKNOWN when a deserializer raises, so the deserializer here never raises;
    it hands on a `_Malformed`, which the wrapped handler refuses before the servicer sees it."""

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None or handler.request_streaming:
            return handler  # client streams (reflection) parse message by message inside the library
        api = _GRPC_APIS.get(details.method, "grpc")
        parse = _lenient(handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(_refusing(handler.unary_unary, api), parse,
                                                       handler.response_serializer)
        return grpc.unary_stream_rpc_method_handler(_refusing(handler.unary_stream, api), parse,
                                                    handler.response_serializer)


_GRPC_APIS = {f"/{SERVICE_NAME}/Route": "grpc.route", f"/{SERVICE_NAME}/Complete": "grpc.complete",
              f"/{SERVICE_NAME}/CompleteStream": "grpc.stream"}


def _refusing(inner: Callable[..., Any], api: str) -> Callable[..., Any]:
    """`inner` behind a check for `_Malformed`; an async generator stays one (a server stream),
    a coroutine stays one (a unary call, or a stream written with context.write)."""

    async def refuse(request: _Malformed, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        metrics().count_request(api, grpc.StatusCode.INVALID_ARGUMENT.name, time.monotonic())
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the request is not a valid message: {request.why}"[:500])

    if inspect.isasyncgenfunction(inner):
        async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            if isinstance(request, _Malformed):
                await refuse(request, context)
            async for item in inner(request, context):
                yield item

        return stream

    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, _Malformed):
            await refuse(request, context)
        return await inner(request, context)

    return unary


class GrpcServer:
    """The aio server with the Router service, health (SERVING only while a config is live and
    the server is not draining) and reflection."""

    def __init__(self, service: RouterService, address: str, *, auth: Authenticator | None = None,
                 credentials: grpc.ServerCredentials | None = None, limits: RequestLimits | None = None,
                 draw: Draw = random.random) -> None:
        limits = limits or RequestLimits()
        # Auth first, so a caller without a key hears UNAUTHENTICATED whatever it sent.
        interceptors: list[grpc.aio.ServerInterceptor] = [GrpcAuth(auth)] if auth is not None and auth.enabled else []
        interceptors.append(MalformedRequests())
        # Past the limit the transport refuses the message (RESOURCE_EXHAUSTED) before it is parsed.
        options = [("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", limits.max_body_bytes)]
        self._server = grpc.aio.server(options=options, interceptors=interceptors)
        pb_grpc.add_RouterServicer_to_server(RouterServicer(service, limits, draw=draw), self._server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server)
        self.port = (self._server.add_secure_port(address, credentials) if credentials is not None
                     else self._server.add_insecure_port(address))
        if self.port == 0:
            raise OSError(f"cannot listen on {address}")
        self._updates: set[asyncio.Task[None]] = set()
        service.on_readiness(self._publish)

    def _publish(self, ready: bool) -> None:
        """Readiness listeners fire synchronously on the event loop; the health servicer is async."""
        task = asyncio.get_running_loop().create_task(self._set_health(ready))
        self._updates.add(task)
        task.add_done_callback(self._updates.discard)

    async def _set_health(self, ready: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            await self._health.set(name, status)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace_s: float) -> None:
        await self._server.stop(grace_s)
