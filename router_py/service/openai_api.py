"""OpenAI-compatible HTTP front end (Starlette): `/v1/chat/completions` (streaming and not),
`/v1/models`, `/healthz`, `/readyz`, `/metrics`. Model `auto` routes; a concrete model pins it.

Router-specific inputs ride in headers (`x-llm-router-tenant`, `-min-tier`, `-max-tier`,
`-region`) so unmodified OpenAI clients keep working; the router's view of the request comes
back in the `llm_router` field of the response and in `x-llm-router-*` response headers."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from router_py.completion import Completion, CompletionRequest
from router_py.ids import new_id
from router_py.providers.types import ChatMessage
from router_py.routing.request import DecisionRecord
from router_py.service.app import RouterService
from router_py.service.auth import Authenticator, HttpAuth
from router_py.service.errors import (
    UNAVAILABLE_RETRY_S,
    BadRequestError,
    Draw,
    ErrorInfo,
    PayloadTooLargeError,
    classify,
    jittered,
    retry_after_header,
    unparsable,
)
from router_py.service.limits import RequestLimits
from router_py.service.overload import Admission
from router_py.telemetry.metrics import exposition, metrics

API = "http.chat"


# The request fields the router accepts; any other is refused (400 naming it), never ignored.
#
# Honoured: model ("auto" routes, a model or provider name pins), messages, stream,
#   stream_options.include_usage, max_tokens / max_completion_tokens, temperature, top_p, stop (a
#   string or up to 4), seed (best effort, as OpenAI documents it: not sent to Anthropic, whose
#   API has none), response_format (text, json_object, json_schema: checked by the acceptance
#   gate), n (1 only), user (tenant/user limits and the decision log; not forwarded), metadata
#   (it only tags completions stored with `store`, and the router stores none).
# Accepted at their neutral value only (what OpenAI does when they are absent), since not every
#   provider a request may be routed to can honour anything else: see NEUTRAL_ONLY.
# Refused, not supported yet (the router does not pass tools to providers): TOOL_FIELDS, and
#   messages with role `tool` / `function` or carrying `tool_calls` / `function_call`.
NEUTRAL_ONLY: dict[str, tuple[object, ...]] = {
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "logit_bias": ({},),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "store": (False,),
    "service_tier": ("auto", "default"),
}
TOOL_FIELDS = ("tools", "tool_choice", "functions", "function_call", "parallel_tool_calls")
NO_TOOLS = "tool calling is not supported yet: the router does not pass tools to providers"
# Message fields an assistant message echoed back from a response carries; only their empty
# value is accepted, as anything else would be dropped on the way to the provider.
MESSAGE_NULL_ONLY = ("name", "refusal", "annotations", "audio")


class _TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # `tool` and `function` are listed so they get the tool refusal, not "not a valid role".
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[_TextPart] | None = None
    tool_calls: Any = None
    function_call: Any = None
    tool_call_id: Any = None
    name: Any = None
    refusal: Any = None
    annotations: Any = None
    audio: Any = None

    @field_validator("role")
    @classmethod
    def _no_tool_role(cls, role: str) -> str:
        if role in ("tool", "function"):
            raise ValueError(f"{role} messages are not supported: {NO_TOOLS}")
        return role

    @field_validator("tool_calls", "function_call", "tool_call_id")
    @classmethod
    def _no_tool_calls(cls, value: Any) -> Any:
        if value is not None and value != []:
            raise ValueError(NO_TOOLS)
        return value

    @field_validator(*MESSAGE_NULL_ONLY)
    @classmethod
    def _null_only(cls, value: Any) -> Any:
        if value is not None and value != []:
            raise ValueError("not supported: only null is accepted (it would not reach the provider)")
        return value

    def chat(self) -> ChatMessage:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content or [])
        return ChatMessage(role=_ROLES[self.role], content=text)


# `tool` and `function` never get here (refused above); `developer` is OpenAI's new `system`.
_ROLES: dict[str, Literal["system", "user", "assistant"]] = {
    "system": "system", "developer": "system", "user": "user", "assistant": "assistant",
}


class _JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class _ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JsonSchemaFormat | None = None


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class ChatCompletionBody(BaseModel):
    """OpenAI's request, strictly: the fields listed above, each checked (`extra="forbid"`)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    messages: list[_Message] = Field(min_length=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    response_format: _ResponseFormat | None = None
    user: str | None = None
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    n: int = Field(default=1, ge=1, le=1)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    store: bool | None = None
    service_tier: str | None = None
    tools: Any = None
    tool_choice: Any = None
    functions: Any = None
    function_call: Any = None
    parallel_tool_calls: Any = None

    @field_validator(*NEUTRAL_ONLY)
    @classmethod
    def _neutral(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = NEUTRAL_ONLY[info.field_name or ""]
        if value is not None and value not in allowed:
            words = " or ".join(json.dumps(a) for a in allowed)
            raise ValueError(f"only {words} is supported: not every provider the request may be routed to "
                             "can honour another value")
        return value

    @field_validator(*TOOL_FIELDS)
    @classmethod
    def _no_tools(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError(NO_TOOLS)
        return value

    def completion_request(self, request_id: str, router: dict[str, Any]) -> CompletionRequest:
        """`router`: what the x-llm-router-* headers said (`_router_headers`)."""
        schema: dict[str, Any] | None = None
        if self.response_format is not None and self.response_format.type == "json_schema":
            if self.response_format.json_schema is None:
                raise BadRequestError("response_format.json_schema", "required when type is json_schema")
            schema = self.response_format.json_schema.schema_
        elif self.response_format is not None and self.response_format.type == "json_object":
            schema = {"type": "object"}
        return CompletionRequest.model_validate({
            "request_id": request_id,
            "user": self.user,
            "messages": [m.chat() for m in self.messages],
            "response_schema": schema,
            "max_tokens": self.max_completion_tokens or self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            # OpenAI takes one string or a list; the router carries a list.
            "stop": [self.stop] if isinstance(self.stop, str) else self.stop or None,
            "seed": self.seed,
            "pinned_model": None if self.model == "auto" else self.model,
            **router,
        })


def _error_response(info: ErrorInfo, draw: Draw = random.random) -> JSONResponse:
    param = info.violations[0].field if info.violations else None
    body = {"error": {"message": info.message, "type": info.kind, "param": param, "code": info.grpc_code.name.lower()}}
    headers = None
    if info.retry_after_s is not None:
        headers = {"retry-after": retry_after_header(jittered(info.retry_after_s, draw), info.retry_after_s)}
    return JSONResponse(body, status_code=info.http_status, headers=headers)


def _router_view(c: Completion) -> dict[str, Any]:
    return {
        "decision": c.decision.model_dump(mode="json"), "tier": c.tier, "provider": c.provider,
        "cached": c.cached, "accepted": c.accepted, "escalations": c.escalations, "failovers": c.failovers,
        "cost_usd": c.cost_usd, "tier3_cost_usd": c.tier3_cost_usd, "saved_usd": c.saved_usd,
        "cost_basis": c.cost_basis, "attempts": [a.model_dump(mode="json") for a in c.attempts],
    }


def _usage(c: Completion) -> dict[str, int]:
    return {"prompt_tokens": c.usage.input_tokens, "completion_tokens": c.usage.output_tokens,
            "total_tokens": c.usage.input_tokens + c.usage.output_tokens}


def _completion_body(c: Completion, created: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{c.request_id}", "object": "chat.completion", "created": created, "model": c.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": c.content},
                     "finish_reason": c.finish_reason, "logprobs": None}],
        "usage": _usage(c), "llm_router": _router_view(c),
    }


def _decision_headers(d: DecisionRecord) -> dict[str, str]:
    return {"x-llm-router-tier": str(d.tier), "x-llm-router-reason": d.reason, "x-llm-router-provider": d.provider}


class OpenAIApp:
    def __init__(self, service: RouterService, auth: Authenticator | None = None, *,
                 limits: RequestLimits | None = None, draw: Draw = random.random) -> None:
        self._service = service
        self._limits = limits or RequestLimits()
        self._draw = draw  # Retry-After jitter, uniform in [0, 1)
        self._auth = auth or Authenticator()
        self.app = Starlette(middleware=[Middleware(HttpAuth, auth=self._auth)], routes=[
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ])

    async def chat_completions(self, request: Request) -> Response:
        started = time.monotonic()
        request_id = request.headers.get("x-request-id") or new_id()
        admitted: Admission | None = None
        try:
            # Admitted (the request's one check) before the body is read and parsed: past
            # capacity, a refusal must be cheap. The service releases it when the request ends.
            admitted = self._service.admission.admit(API)
            body, completion_request, timeout_s = await self._parse(request, request_id)
            deadline = self._service.deadline(timeout_s)
            if body.stream:
                include_usage = body.stream_options is not None and body.stream_options.include_usage
                return await self._stream(completion_request, deadline, include_usage, started, admitted)
            completion = await self._service.complete(completion_request, deadline, api=API, admitted=admitted)
        except Exception as e:  # every failure becomes one error response
            if admitted is not None:
                admitted.release()  # a no-op where the service has released it already
            return self._failed(e, started)
        metrics().count_request(API, "200", started)
        return JSONResponse(_completion_body(completion, int(time.time())), headers=_decision_headers(completion.decision))

    async def _parse(self, request: Request, request_id: str) -> tuple[ChatCompletionBody, CompletionRequest, float | None]:
        """The body and headers, checked. Whatever goes wrong here is the request's doing: it
        is a 400 (or 413), never a 500, even where the error is not one we foresaw."""
        try:
            router = _router_headers(request.headers)
            timeout_s = router.pop("timeout_s")
            body = ChatCompletionBody.model_validate_json(await _read_body(request, self._limits.max_body_bytes))
            try:
                completion_request = body.completion_request(request_id, router)
            except ValidationError as e:
                raise _named_for_headers(e) from None
            self._limits.check(completion_request)
        except (ValidationError, BadRequestError):
            raise
        except Exception as e:
            raise unparsable(e) from e
        return body, completion_request, timeout_s

    async def _stream(self, request: CompletionRequest, deadline: float, include_usage: bool, started: float,
                      admitted: Admission) -> Response:
        items = self._service.stream(request, deadline, api=API + ".stream", admitted=admitted)
        # The decision comes first; an error before it is an ordinary HTTP error, not a stream.
        first = await anext(items)
        if not isinstance(first, DecisionRecord):
            raise TypeError("the pipeline's stream must start with the decision")
        return StreamingResponse(self._sse(first, items, include_usage, started), media_type="text/event-stream",
                                 headers=_decision_headers(first))

    async def _sse(self, decision: DecisionRecord, items: AsyncIterator[DecisionRecord | str | Completion],
                   include_usage: bool, started: float) -> AsyncIterator[str]:
        chunk_id, created = f"chatcmpl-{new_id()}", int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": decision.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
            return f"data: {json.dumps(body)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        try:
            async for item in items:
                if isinstance(item, str):
                    yield chunk({"content": item})
                elif isinstance(item, Completion):
                    yield chunk({}, item.finish_reason, llm_router=_router_view(item))
                    if include_usage:
                        yield f"data: {json.dumps({'id': chunk_id, 'object': 'chat.completion.chunk', 'created': created, 'model': item.model, 'choices': [], 'usage': _usage(item)})}\n\n"
        except Exception as e:  # after the first byte the status is sent: the error goes in the stream
            info = classify(e)
            metrics().count_request(API, str(info.http_status), started)
            yield f"data: {json.dumps({'error': {'message': info.message, 'type': info.kind, 'code': info.grpc_code.name.lower()}})}\n\n"
            return
        metrics().count_request(API, "200", started)
        yield "data: [DONE]\n\n"

    def _failed(self, error: Exception, started: float) -> JSONResponse:
        info = classify(error)
        metrics().count_request(API, str(info.http_status), started)
        return _error_response(info, self._draw)

    async def models(self, _: Request) -> Response:
        live = self._service.pipeline.live if self._service.ready else None
        names = ["auto", *sorted({p.model for p in live.catalog.models()})] if live else ["auto"]
        return JSONResponse({"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "llm-router"}
                                                          for n in names]})

    async def healthz(self, _: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, _: Request) -> Response:
        s = self._service
        body = {"ready": s.ready, "revision": s.revision, "draining": s.draining, "last_error": s.last_error,
                **self._auth.status().model_dump(exclude_none=True)}
        if s.ready:
            return JSONResponse(body)
        retry = retry_after_header(jittered(UNAVAILABLE_RETRY_S, self._draw), UNAVAILABLE_RETRY_S)
        return JSONResponse(body, status_code=503, headers={"retry-after": retry})

    async def metrics(self, _: Request) -> Response:
        return Response(exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


# Router inputs OpenAI's schema has no field for. Any other `x-llm-router-*` request header is
# refused: a misspelt one would otherwise be ignored and the request routed as if it were absent.
ROUTER_HEADERS = frozenset({"x-llm-router-tenant", "x-llm-router-min-tier", "x-llm-router-max-tier",
                            "x-llm-router-region", "x-llm-router-timeout-ms"})


def _router_headers(headers: Headers) -> dict[str, Any]:
    """CompletionRequest's fields from the headers, plus `timeout_s`; a bad value is a 400
    naming the header. An absent tenant is `default` (an unmodified OpenAI client sends none);
    a blank one is refused."""
    for name in headers:
        if name.startswith("x-llm-router-") and name not in ROUTER_HEADERS:
            raise BadRequestError(name, f"not a router header (known: {', '.join(sorted(ROUTER_HEADERS))})")
    for name in ROUTER_HEADERS:
        if len(headers.getlist(name)) > 1:
            raise BadRequestError(name, "sent more than once")
    tenant = headers.get("x-llm-router-tenant")
    region = headers.get("x-llm-router-region")
    for name, value in (("x-llm-router-tenant", tenant), ("x-llm-router-region", region)):
        if value is not None and not value.strip():
            raise BadRequestError(name, "must not be empty")
    return {
        "tenant": "default" if tenant is None else tenant.strip(),
        "region": None if region is None else region.strip(),
        "min_tier": _tier(headers, "x-llm-router-min-tier"),
        "max_tier": _tier(headers, "x-llm-router-max-tier"),
        "timeout_s": _timeout_s(headers),
    }


# CompletionRequest fields that came from a header: a refusal names the header the caller sent.
_HEADER_OF = {"tenant": "x-llm-router-tenant", "region": "x-llm-router-region", "request_id": "x-request-id"}


def _named_for_headers(error: ValidationError) -> ValidationError:
    found = error.errors()
    if not any(e["loc"] and e["loc"][0] in _HEADER_OF for e in found):
        return error
    renamed: list[Any] = [
        {"type": e["type"], "input": e["input"], "ctx": e.get("ctx", {}),
         "loc": (_HEADER_OF[e["loc"][0]], *e["loc"][1:]) if e["loc"] and e["loc"][0] in _HEADER_OF else e["loc"]}
        for e in found
    ]
    return ValidationError.from_exception_data(error.title, renamed)


def _tier(headers: Headers, name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    if raw.strip() not in ("1", "2", "3"):
        raise BadRequestError(name, f"must be 1, 2 or 3, not {raw[:20]!r}")
    return int(raw)


def _timeout_s(headers: Headers) -> float | None:
    raw = headers.get("x-llm-router-timeout-ms")
    if raw is None:
        return None
    try:
        ms = float(raw)
    except ValueError:
        ms = math.nan
    if not math.isfinite(ms) or ms <= 0:
        raise BadRequestError("x-llm-router-timeout-ms", f"must be a positive number of milliseconds, not {raw[:20]!r}")
    return ms / 1000


async def _read_body(request: Request, limit: int) -> bytes:
    """At most `limit` bytes: a declared length over it is refused before a byte is read, and
    a chunked body is counted as it arrives, so an oversized body is never held whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError("(body)", f"{declared} bytes; at most {limit} are accepted")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError("(body)", f"over {limit} bytes; at most {limit} are accepted")
    return bytes(body)
