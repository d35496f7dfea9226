"""OpenAI-compatible HTTP front end (Starlette): `/v1/chat/completions` (streaming and not),
`/v1/models`, `/healthz`, `/readyz`, `/metrics`. Model `auto` routes; a concrete model pins it.

Router-specific inputs ride in headers (`x-llm-router-tenant`, `-min-tier`, `-max-tier`,
`-region`) so unmodified OpenAI clients keep working; the router's view of the request comes
back in the `llm_router` field of the response and in `x-llm-router-*` response headers."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from router_py.complete.request import Completion, CompletionRequest
from router_py.ids import new_id
from router_py.providers.types import ChatMessage
from router_py.routing.request import DecisionRecord
from router_py.service.app import RouterService
from router_py.service.errors import ErrorInfo, classify
from router_py.telemetry.metrics import exposition, metrics

API = "http.chat"


class _TextPart(BaseModel):
    type: Literal["text"]
    text: str


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_TextPart] | None = None

    def chat(self) -> ChatMessage:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content or [])
        return ChatMessage(role="system" if self.role == "developer" else self.role, content=text)


class _JsonSchemaFormat(BaseModel):
    name: str = "response"
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class _ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JsonSchemaFormat | None = None


class _StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionBody(BaseModel):
    """The fields of OpenAI's request the router acts on; others (top_p, seed...) are accepted
    and not forwarded, as the routed model may not support them."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[_Message] = Field(min_length=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    response_format: _ResponseFormat | None = None
    user: str | None = None
    n: int = Field(default=1, ge=1, le=1)

    def completion_request(self, request_id: str, headers: dict[str, str]) -> CompletionRequest:
        schema: dict[str, Any] | None = None
        if self.response_format is not None and self.response_format.type == "json_schema":
            if self.response_format.json_schema is None:
                raise _invalid("response_format.json_schema", "required when type is json_schema")
            schema = self.response_format.json_schema.schema_
        elif self.response_format is not None and self.response_format.type == "json_object":
            schema = {"type": "object"}
        return CompletionRequest.model_validate({
            "request_id": request_id,
            "tenant": headers.get("x-llm-router-tenant") or "default",
            "user": self.user,
            "messages": [m.chat() for m in self.messages],
            "min_tier": headers.get("x-llm-router-min-tier"),
            "max_tier": headers.get("x-llm-router-max-tier"),
            "region": headers.get("x-llm-router-region"),
            "response_schema": schema,
            "max_tokens": self.max_completion_tokens or self.max_tokens,
            "temperature": self.temperature,
            "pinned_model": None if self.model == "auto" else self.model,
        })


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError.from_exception_data("ChatCompletionBody", [
        {"type": "value_error", "loc": tuple(field.split(".")), "input": None, "ctx": {"error": ValueError(message)}}
    ])


def _error_response(info: ErrorInfo) -> JSONResponse:
    param = info.violations[0].field if info.violations else None
    body = {"error": {"message": info.message, "type": info.kind, "param": param, "code": info.grpc_code.name.lower()}}
    headers = {"retry-after": f"{max(1, round(info.retry_after_s))}"} if info.retry_after_s is not None else None
    return JSONResponse(body, status_code=info.http_status, headers=headers)


def _router_view(c: Completion) -> dict[str, Any]:
    return {
        "decision": c.decision.model_dump(mode="json"), "tier": c.tier, "provider": c.provider,
        "cached": c.cached, "accepted": c.accepted, "escalations": c.escalations, "failovers": c.failovers,
        "cost_usd": c.cost_usd, "tier3_cost_usd": c.tier3_cost_usd, "saved_usd": c.saved_usd,
        "attempts": [a.model_dump(mode="json") for a in c.attempts],
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
    def __init__(self, service: RouterService) -> None:
        self._service = service
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ])

    async def chat_completions(self, request: Request) -> Response:
        started = time.monotonic()
        request_id = request.headers.get("x-request-id") or new_id()
        try:
            # Refuse before reading and parsing the body: past capacity, a refusal must be cheap.
            self._service.admission.check(API)
            body = ChatCompletionBody.model_validate_json(await request.body())
            completion_request = body.completion_request(request_id, dict(request.headers))
            deadline = self._service.deadline(_deadline_header(request))
            if body.stream:
                include_usage = body.stream_options is not None and body.stream_options.include_usage
                return await self._stream(completion_request, deadline, include_usage, started)
            completion = await self._service.complete(completion_request, deadline, api=API)
        except Exception as e:  # every failure becomes one error response
            return self._failed(e, started)
        metrics().count_request(API, "200", started)
        return JSONResponse(_completion_body(completion, int(time.time())), headers=_decision_headers(completion.decision))

    async def _stream(self, request: CompletionRequest, deadline: float, include_usage: bool, started: float) -> Response:
        items = self._service.stream(request, deadline, api=API + ".stream")
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
        return _error_response(info)

    async def models(self, _: Request) -> Response:
        live = self._service.pipeline.live if self._service.ready else None
        names = ["auto", *sorted({p.model for p in live.catalog.models()})] if live else ["auto"]
        return JSONResponse({"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "llm-router"}
                                                          for n in names]})

    async def healthz(self, _: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, _: Request) -> Response:
        s = self._service
        body = {"ready": s.ready, "revision": s.revision, "draining": s.draining, "last_error": s.last_error}
        return JSONResponse(body, status_code=200 if s.ready else 503)

    async def metrics(self, _: Request) -> Response:
        return Response(exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _deadline_header(request: Request) -> float | None:
    raw = request.headers.get("x-llm-router-timeout-ms")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw) / 1000)
    except ValueError as e:
        raise _invalid("x-llm-router-timeout-ms", f"{raw!r} is not a number of milliseconds") from e
