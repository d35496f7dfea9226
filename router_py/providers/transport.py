"""The HTTP exchange both API clients make: one POST, every failure classified into a FailureKind.

Error messages carry the status, the provider's error type/code and the exception class, never
a header (the key) nor a body excerpt (providers echo the prompt back in validation errors).
"""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from router_py.config.schema import ProviderSpec
from router_py.providers.keys import KeyResolver
from router_py.providers.sse import SseEvent, SseParser
from router_py.providers.types import FailureKind, ProviderError

USER_AGENT = "llm-router/0.1"
# Limits are for the whole router process (httpx pools across hosts): enough concurrent calls for
# a busy replica, and some idle connections kept warm so a call skips the TCP/TLS handshake. Not
# many: httpcore polls every idle connection's socket on each request and response, so 128 of
# them (kept after a burst) cost a tenth of the event loop at 2x capacity in the service bench.
LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=32, keepalive_expiry=30.0)

M = TypeVar("M", bound=BaseModel)


def new_http_client() -> httpx.AsyncClient:
    """The shared, pooled HTTP/1.1 client; each call passes its own timeout."""
    return httpx.AsyncClient(limits=LIMITS, timeout=httpx.Timeout(30.0), follow_redirects=False)


@dataclass(frozen=True, slots=True)
class Call:
    provider: str
    url: str
    headers: Mapping[str, str]
    body: bytes


async def post_json(http: httpx.AsyncClient, call: Call, *, timeout: float) -> bytes:
    """The body of a 2xx answer; `timeout` is the budget for all of it."""
    try:
        async with asyncio.timeout(timeout):
            response = await http.post(
                call.url, content=call.body, headers=_headers(call, "application/json"), timeout=timeout
            )
    except (TimeoutError, httpx.TimeoutException):
        raise _timeout(call.provider, f"no complete answer within {timeout:g}s") from None
    except httpx.HTTPError as err:
        raise transport_error(call.provider, err, started=False) from None
    if not response.is_success:
        raise status_error(call.provider, response)
    return response.content


async def post_sse(http: httpx.AsyncClient, call: Call, *, timeout: float) -> AsyncGenerator[SseEvent, None]:
    """The events of a 2xx `text/event-stream` answer; `timeout` bounds the wait for the headers
    and for each chunk, and a stream that stops mid-event raises BAD_RESPONSE."""
    request = http.build_request(
        "POST", call.url, content=call.body, headers=_headers(call, "text/event-stream"), timeout=timeout
    )
    try:
        async with asyncio.timeout(timeout):
            response = await http.send(request, stream=True)
    except (TimeoutError, httpx.TimeoutException):
        raise _timeout(call.provider, f"no response headers within {timeout:g}s") from None
    except httpx.HTTPError as err:
        raise transport_error(call.provider, err, started=False) from None
    try:
        await _check_stream_response(call.provider, response, timeout)
        parser = SseParser()
        chunks = response.aiter_bytes()
        while (chunk := await _next_chunk(call.provider, chunks, timeout)) is not None:
            for event in parser.feed(chunk):
                yield event
        events, clean = parser.close()
        for event in events:
            yield event
        if not clean:
            raise ProviderError(call.provider, FailureKind.BAD_RESPONSE, "stream ended in the middle of an event")
    finally:
        await response.aclose()


async def _check_stream_response(provider: str, response: httpx.Response, timeout: float) -> None:
    if not response.is_success:
        try:
            async with asyncio.timeout(timeout):
                await response.aread()
        except (TimeoutError, httpx.HTTPError):
            pass  # the status alone classifies the failure; the body only adds the error code
        raise status_error(provider, response)
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        raise ProviderError(
            provider, FailureKind.BAD_RESPONSE, f"expected text/event-stream, got {content_type or 'no content type'}"
        )


async def _next_chunk(provider: str, chunks: AsyncIterator[bytes], timeout: float) -> bytes | None:
    try:
        async with asyncio.timeout(timeout):
            return await anext(chunks, None)
    except (TimeoutError, httpx.TimeoutException):
        raise _timeout(provider, f"stream stalled for {timeout:g}s") from None
    except httpx.HTTPError as err:
        raise transport_error(provider, err, started=True) from None


def _headers(call: Call, accept: str) -> dict[str, str]:
    return {"content-type": "application/json", "accept": accept, "user-agent": USER_AGENT, **call.headers}


def _timeout(provider: str, message: str) -> ProviderError:
    return ProviderError(provider, FailureKind.TIMEOUT, message)


def transport_error(provider: str, err: httpx.HTTPError, *, started: bool) -> ProviderError:
    """A failure below HTTP: before the answer began it is the connection's fault (fail over),
    after it the answer is incomplete."""
    what = type(err).__name__
    if isinstance(err, httpx.TimeoutException):
        return _timeout(provider, what)
    if isinstance(err, httpx.ConnectError):
        return ProviderError(provider, FailureKind.CONNECT, f"{what}: {err}")
    if started or isinstance(err, httpx.DecodingError):
        return ProviderError(provider, FailureKind.BAD_RESPONSE, f"answer cut short: {what}")
    return ProviderError(provider, FailureKind.CONNECT, what)


class _ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str | None = None
    code: str | int | None = None


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    error: _ErrorInfo


def status_error(provider: str, response: httpx.Response) -> ProviderError:
    status = response.status_code
    message = f"HTTP {status}{_error_code(response)}"
    retry_after = parse_retry_after(response.headers, datetime.now(UTC))
    if status == 429:
        return ProviderError(provider, FailureKind.RATE_LIMITED, message, retry_after=retry_after)
    if status in (401, 403):
        return ProviderError(provider, FailureKind.AUTH, message)
    if status == 408:
        return _timeout(provider, message)
    if status >= 500:
        return ProviderError(provider, FailureKind.SERVER_ERROR, message, retry_after=retry_after)
    if status >= 400:
        return ProviderError(provider, FailureKind.BAD_REQUEST, message)
    # A redirect or informational status where an answer belongs: misconfigured base URL or proxy.
    return ProviderError(provider, FailureKind.BAD_RESPONSE, message)


def _error_code(response: httpx.Response) -> str:
    try:
        info = _ErrorBody.model_validate_json(response.content).error
    except (ValidationError, httpx.ResponseNotRead):
        return ""
    parts = [str(part) for part in (info.type, info.code) if part is not None]
    return f" ({', '.join(parts)})" if parts else ""


def parse_retry_after(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds to wait: `retry-after-ms` (OpenAI, Azure) or `Retry-After` as seconds or HTTP date."""
    millis = _finite(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _finite(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_body(provider: str, model: type[M], raw: bytes | str, what: str) -> M:
    """`raw` as `model`, or BAD_RESPONSE naming the first problem (without the offending value)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as err:
        raise ProviderError(
            provider, FailureKind.BAD_RESPONSE, f"malformed {what}: {validation_summary(err)}"
        ) from None


def validation_summary(err: ValidationError) -> str:
    errors = err.errors(include_input=False, include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


class WireModel(BaseModel):
    """A provider's JSON, checked strictly: wrong types fail, fields we don't use are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class HttpProvider(ABC):
    """What both API clients share: the spec, the pooled HTTP client and the key resolver."""

    def __init__(self, spec: ProviderSpec, http: httpx.AsyncClient, keys: KeyResolver) -> None:
        self.spec = spec
        self._http = http
        self._keys = keys

    @property
    def name(self) -> str:
        return self.spec.name

    @abstractmethod
    def _headers(self, key: str | None) -> dict[str, str]:
        """The API's auth and version headers."""

    def _call(self, path: str, body: BaseModel) -> Call:
        # Resolved per call so a rotated key is picked up without rebuilding the client.
        key = self._keys.resolve(self.name, self.spec.api_key_ref)
        return Call(
            provider=self.name,
            url=f"{self.spec.base_url.rstrip('/')}/{path}",
            headers=self._headers(key),
            body=body.model_dump_json(by_alias=True, exclude_none=True).encode(),
        )

    async def _post_json(self, path: str, body: BaseModel, *, timeout: float) -> bytes:
        return await post_json(self._http, self._call(path, body), timeout=timeout)

    def _post_sse(self, path: str, body: BaseModel, *, timeout: float) -> AsyncGenerator[SseEvent, None]:
        return post_sse(self._http, self._call(path, body), timeout=timeout)
