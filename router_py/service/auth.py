"""Caller identity: API keys, each mapped to one tenant.

A caller sends `Authorization: Bearer <key>` (HTTP) or `authorization: Bearer <key>` metadata
(gRPC). The keys file holds only each key's SHA-256, so a leaked file (or Secret) leaks no key; a
key is looked up by its digest, so nothing compares secrets byte by byte. With auth on, the
tenant is the key's: a tenant header or field that names another is refused, never believed,
since spoofing a tenant would read its cache and spend its limits. With auth off (the embedded
demo), the caller's tenant header is used as it is.

The file is re-read when its content changes (a mounted Secret is swapped by the kubelet, so keys
rotate and are revoked without a restart); a file that does not load keeps the last good key set
and says why on /readyz.

Keys file (YAML or JSON):

    keys:
      - tenant: acme
        sha256: 3f1c...   # hex SHA-256 of the key: `llm-router keys new --tenant acme` prints one
        id: acme-ci       # optional, named in logs (never the key)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

import grpc
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from router_py.telemetry.metrics import metrics

log = logging.getLogger("llm_router.auth")

KEYS_ENV = "LLM_ROUTER_API_KEYS"
TENANT_HEADER = "x-llm-router-tenant"
KEY_PREFIX = "llmr_"
# Probes and scrapers carry no key; they learn nothing about any tenant.
OPEN_HTTP_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
OPEN_GRPC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
_GRPC_API = {"Route": "grpc.route", "Complete": "grpc.complete", "CompleteStream": "grpc.stream"}
_HTTP_API = {"/v1/chat/completions": "http.chat", "/v1/models": "http.models"}


class ApiKeysError(ValueError):
    """A keys file that cannot be used (unreadable, malformed, duplicated keys)."""


class ApiKeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(min_length=1, max_length=128)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    # Named in logs, so a refusal can be traced to a key without the key being written anywhere.
    id: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @property
    def label(self) -> str:
        """What logs call this key: its id, else the start of its digest (never the key)."""
        return self.id or f"sha256:{self.sha256[:12]}"


class ApiKeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: list[ApiKeyEntry]

    @model_validator(mode="after")
    def _unique(self) -> ApiKeysFile:
        # One key for two tenants would make the caller's tenant depend on file order.
        seen: set[str] = set()
        for i, entry in enumerate(self.keys):
            if entry.sha256 in seen:
                raise ValueError(f"keys[{i}]: the same sha256 is listed twice")
            seen.add(entry.sha256)
        return self


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random key: 256 bits, URL-safe, with a prefix that secret scanners can match."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def parse_keys(raw: bytes) -> ApiKeysFile:
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise ApiKeysError(f"not YAML or JSON: {' '.join(str(e).split())}") from None
    try:
        return ApiKeysFile.model_validate(data)
    except ValidationError as e:
        # Only the paths and messages: pydantic would echo the input, and the input may be
        # someone's key pasted in the wrong place.
        why = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}" for err in e.errors())
        raise ApiKeysError(why) from None


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    key: str  # the entry's label, for logs


class AuthRefusal(BaseModel):
    """Why a request is refused; the front ends turn it into 401/403 or UNAUTHENTICATED/PERMISSION_DENIED."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["unauthenticated", "permission_denied"]
    message: str

    @property
    def http_status(self) -> int:
        return 401 if self.kind == "unauthenticated" else 403

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAUTHENTICATED if self.kind == "unauthenticated" else grpc.StatusCode.PERMISSION_DENIED


class AuthStatus(BaseModel):
    """What /readyz says about caller identity."""

    model_config = ConfigDict(frozen=True)

    auth: Literal["on", "off"]
    auth_keys: int | None = None
    auth_revision: str | None = None
    auth_error: str | None = None


class ApiKeys:
    """The live key set from `path`, re-read every `interval_s` when its content changed.

    Polled, like the config file: a Secret volume swaps a symlink that file watchers miss."""

    def __init__(self, path: Path, *, interval_s: float = 1.0) -> None:
        self.path = path
        self.interval_s = interval_s
        self._by_digest: Mapping[str, ApiKeyEntry] = {}
        self.revision: str | None = None
        self.last_error: str | None = None
        self._seen: str | None = None

    @classmethod
    def load(cls, path: Path, *, interval_s: float = 1.0) -> ApiKeys:
        """The first load must succeed: with no good key set to fall back on, a router would
        refuse every caller, and a pod that does not start stops a rollout before it spreads."""
        keys = cls(path, interval_s=interval_s)
        if not keys.reload() or keys.revision is None:
            raise ApiKeysError(f"api keys {path}: {keys.last_error}")
        return keys

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, key: str) -> ApiKeyEntry | None:
        return self._by_digest.get(digest(key))

    def reload(self) -> bool:
        """Read the file; swap in its keys if its content changed and it is valid. False when it
        could not be used (the last good set stays)."""
        try:
            raw = self.path.read_bytes()
        except OSError as e:
            # Forget what was seen: the same content coming back must be taken (and clear the error).
            self._seen = None
            return self._refused(f"unreadable: {type(e).__name__}: {e.strerror or e}")
        revision = hashlib.sha256(raw).hexdigest()[:16]
        if revision == self._seen:
            return self.last_error is None
        self._seen = revision
        try:
            parsed = parse_keys(raw)
        except ApiKeysError as e:
            return self._refused(f"revision {revision}: {e}")
        first = self.revision is None
        self._by_digest = {entry.sha256: entry for entry in parsed.keys}
        self.revision, self.last_error = revision, None
        log.info("api keys loaded" if first else "api keys reloaded",
                 extra={"path": str(self.path), "revision": revision, "keys": len(self._by_digest),
                        "tenants": len({e.tenant for e in parsed.keys})})
        return True

    def _refused(self, why: str) -> bool:
        if why != self.last_error:
            log.error("api keys refused; the last good set stays",
                      extra={"path": str(self.path), "error": why, "live_revision": self.revision})
        self.last_error = why
        return False

    async def follow(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            # Never raises: reload turns every failure into last_error, so the server keeps going.
            self.reload()


class Authenticator:
    """Auth on (a key set) or off (the caller's tenant header is believed)."""

    def __init__(self, keys: ApiKeys | None = None) -> None:
        self.keys = keys

    @property
    def enabled(self) -> bool:
        return self.keys is not None

    def status(self) -> AuthStatus:
        if self.keys is None:
            return AuthStatus(auth="off")
        return AuthStatus(auth="on", auth_keys=len(self.keys), auth_revision=self.keys.revision,
                          auth_error=self.keys.last_error)

    def identify(self, authorization: str | None, claimed_tenant: str | None, *, api: str) -> Caller | AuthRefusal:
        """The caller behind `authorization` (`Bearer <key>`), checked against the tenant it
        claims (None: claims none). Only with auth on."""
        if self.keys is None:
            raise RuntimeError("identify needs auth on")
        scheme, _, key = (authorization or "").strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            log.info("caller refused: no api key", extra={"api": api})
            return AuthRefusal(kind="unauthenticated", message="an API key is required: send 'Authorization: Bearer <key>'")
        entry = self.keys.lookup(key)
        if entry is None:
            # Not even a fingerprint of an unknown key: it may be a real key sent to the wrong place.
            log.info("caller refused: unknown api key", extra={"api": api})
            return AuthRefusal(kind="unauthenticated", message="unknown API key")
        if claimed_tenant is not None and claimed_tenant != entry.tenant:
            log.warning("caller refused: tenant does not match its key",
                        extra={"api": api, "key": entry.label, "key_tenant": entry.tenant})
            return AuthRefusal(kind="permission_denied",
                               message="the tenant named in the request is not the API key's tenant")
        return Caller(tenant=entry.tenant, key=entry.label)


class HttpAuth:
    """ASGI middleware: refuses calls without a valid key, and hands the handler the key's
    tenant in the tenant header, so the handler reads the tenant in one way, auth on or off."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.auth.enabled or scope["path"] in OPEN_HTTP_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        headers = Headers(scope=scope)
        api = _HTTP_API.get(scope["path"], "http")
        found = self.auth.identify(headers.get("authorization"), headers.get(TENANT_HEADER), api=api)
        if isinstance(found, AuthRefusal):
            metrics().count_request(api, str(found.http_status), started)
            await _refusal_response(found)(scope, receive, send)
            return
        raw = [(k, v) for k, v in scope["headers"] if k.lower() != TENANT_HEADER.encode()]
        raw.append((TENANT_HEADER.encode(), found.tenant.encode()))
        await self.app({**scope, "headers": raw}, receive, send)


def _refusal_response(refusal: AuthRefusal) -> JSONResponse:
    body = {"error": {"message": refusal.message, "type": "authentication_error" if refusal.http_status == 401
                      else "permission_error", "param": None, "code": refusal.grpc_code.name.lower()}}
    headers = {"www-authenticate": 'Bearer realm="llm-router"'} if refusal.http_status == 401 else None
    return JSONResponse(body, status_code=refusal.http_status, headers=headers)


Behavior = Callable[..., Any]
# Generic in the stubs only.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class GrpcAuth(grpc.aio.ServerInterceptor):
    """Server interceptor: a call without a valid `authorization` metadata key is refused with
    UNAUTHENTICATED; a request whose `tenant` field names another tenant than the key's with
    PERMISSION_DENIED; otherwise the field is set to the key's tenant before the servicer runs."""

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or not self.auth.enabled or method.startswith(OPEN_GRPC_PREFIXES):
            return handler
        api = _GRPC_API.get(method.rsplit("/", 1)[-1], "grpc")
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, api), handler.request_deserializer, handler.response_serializer)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._unary_stream(handler.unary_stream, api), handler.request_deserializer, handler.response_serializer)
        # Client streams carry their tenant in messages this interceptor never sees: refused
        # rather than let through unchecked (the Router has none today).
        return grpc.stream_unary_rpc_method_handler(self._refuse_stream, handler.request_deserializer,
                                                    handler.response_serializer)

    def _unary(self, inner: Behavior, api: str) -> Behavior:
        async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await self._admit(request, context, api)
            return await inner(request, context)

        return behavior

    def _unary_stream(self, inner: Behavior, api: str) -> Behavior:
        async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await self._admit(request, context, api)
            async for item in inner(request, context):
                yield item

        return behavior

    async def _refuse_stream(self, _requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "client-streaming calls are not served with auth on")

    async def _admit(self, request: Any, context: grpc.aio.ServicerContext[Any, Any], api: str) -> None:
        started = time.monotonic()
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        # proto3 cannot tell an unset string from "": an empty tenant field claims nothing.
        claimed: str | None = getattr(request, "tenant", "") or None
        found = self.auth.identify(metadata.get("authorization"), claimed, api=api)
        if isinstance(found, AuthRefusal):
            metrics().count_request(api, found.grpc_code.name, started)
            await context.abort(found.grpc_code, found.message)
        elif hasattr(request, "tenant"):
            request.tenant = found.tenant
