"""A small async Kubernetes API client over httpx: typed reads, writes and watches of namespaced
objects, authenticated like kubectl (the pod's service account, or a kubeconfig file).

Why not a client library: the router needs five verbs on ConfigMaps and the operator a few more on
its own kinds; `kubernetes_asyncio` pulls a generated client of every API group and aiohttp,
while httpx is already the router's HTTP client. Objects are parsed into pydantic models here, at
the boundary, so callers never handle raw JSON.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Generic, Literal, TypeVar

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.alias_generators import to_camel

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = Path.home() / ".kube" / "config"
JSON_MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class KubeError(Exception):
    """Any failure to talk to the API; the message says which call and why."""


class KubeConfigError(KubeError):
    """No usable credentials: neither a kubeconfig nor an in-cluster service account."""


class KubeUnavailable(KubeError):
    """The API server could not be reached or the connection broke mid-call."""


class KubeResponseError(KubeError):
    """The server answered, but not with the kind of object asked for."""


class KubeApiError(KubeError):
    """The API server answered with an error status."""

    def __init__(self, method: str, path: str, code: int, reason: str, message: str) -> None:
        super().__init__(f"{method} {path}: {code} {reason}: {message}")
        self.code = code
        self.reason = reason

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409


# --- Objects ---------------------------------------------------------------------------------


class KubeModel(BaseModel):
    """camelCase on the wire; fields the API adds that we do not model are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class OwnerReference(KubeModel):
    api_version: str
    kind: str
    name: str
    uid: str


class ObjectMeta(KubeModel):
    name: str
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owner_references: list[OwnerReference] = []
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None


class ConfigMap(KubeModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["ConfigMap"] = "ConfigMap"
    metadata: ObjectMeta
    data: dict[str, str] = {}


class Secret(KubeModel):
    """Values stay wrapped: nothing that formats a Secret can print a key."""

    metadata: ObjectMeta
    data: dict[str, SecretStr] = {}


class ListMeta(KubeModel):
    resource_version: str = ""


M = TypeVar("M", bound=BaseModel)


class ObjectList(KubeModel, Generic[M]):
    metadata: ListMeta
    items: list[M]


class Status(KubeModel):
    """The API's error body (`kind: Status`)."""

    code: int = 0
    reason: str = ""
    message: str = ""


class WatchEvent(BaseModel, Generic[M]):
    type: Literal["ADDED", "MODIFIED", "DELETED"]
    object: M


@dataclass(frozen=True)
class Bookmark:
    """The server's note that the watch has seen everything up to `resource_version`."""

    resource_version: str


class _RawEvent(BaseModel):
    type: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
    object: dict[str, object]


class _BookmarkObject(KubeModel):
    metadata: ListMeta


@dataclass(frozen=True)
class Resource:
    """One namespaced kind's REST collection, e.g. `Resource("", "v1", "configmaps")`."""

    group: str
    version: str
    plural: str

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        root = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        parts = [root, "namespaces", namespace, self.plural, name, subresource]
        return "/".join(p for p in parts if p)


CONFIGMAPS = Resource("", "v1", "configmaps")
SECRETS = Resource("", "v1", "secrets")


# --- Credentials -----------------------------------------------------------------------------


class KubeCredentials(BaseModel):
    """Where the API is and how to prove who we are. Exactly one of token, token file or client
    certificate is normally set; PEM data and file paths are both accepted, as in kubeconfig."""

    model_config = ConfigDict(frozen=True)

    server: str
    namespace: str | None = None
    ca_file: Path | None = None
    ca_pem: str | None = None
    insecure: bool = False
    token: SecretStr | None = None
    # A projected service-account token rotates on disk, so it is re-read for each request.
    token_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    client_cert_pem: SecretStr | None = None
    client_key_pem: SecretStr | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KubeCredentials:
        """`$KUBECONFIG` when set, else the pod's service account, else `~/.kube/config`."""
        env = os.environ if environ is None else environ
        if env.get("KUBECONFIG"):
            return cls.from_kubeconfig(Path(env["KUBECONFIG"].split(os.pathsep)[0]))
        if env.get("KUBERNETES_SERVICE_HOST") and (SERVICE_ACCOUNT_DIR / "token").is_file():
            return cls.in_cluster(env)
        if DEFAULT_KUBECONFIG.is_file():
            return cls.from_kubeconfig(DEFAULT_KUBECONFIG)
        raise KubeConfigError("no credentials: set KUBECONFIG or run in a pod with a service account")

    @classmethod
    def in_cluster(cls, environ: Mapping[str, str], account_dir: Path = SERVICE_ACCOUNT_DIR) -> KubeCredentials:
        host = environ["KUBERNETES_SERVICE_HOST"]
        port = environ.get("KUBERNETES_SERVICE_PORT", "443")
        host = f"[{host}]" if ":" in host else host  # an IPv6 service address
        namespace_file = account_dir / "namespace"
        return cls(
            server=f"https://{host}:{port}",
            namespace=namespace_file.read_text().strip() if namespace_file.is_file() else None,
            ca_file=account_dir / "ca.crt",
            token_file=account_dir / "token",
        )

    @classmethod
    def from_kubeconfig(cls, path: Path, context: str | None = None) -> KubeCredentials:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            kubeconfig = _Kubeconfig.model_validate(document)
        except (OSError, yaml.YAMLError, ValidationError) as err:
            raise KubeConfigError(f"kubeconfig {path}: {err}") from err
        return kubeconfig.credentials(context, path.parent)


class _KubeconfigModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class _Cluster(_KubeconfigModel):
    server: str
    certificate_authority: str | None = Field(default=None, alias="certificate-authority")
    certificate_authority_data: str | None = Field(default=None, alias="certificate-authority-data")
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecure-skip-tls-verify")


class _User(_KubeconfigModel):
    token: SecretStr | None = None
    token_file: str | None = Field(default=None, alias="tokenFile")
    client_certificate: str | None = Field(default=None, alias="client-certificate")
    client_certificate_data: SecretStr | None = Field(default=None, alias="client-certificate-data")
    client_key: str | None = Field(default=None, alias="client-key")
    client_key_data: SecretStr | None = Field(default=None, alias="client-key-data")


class _Context(_KubeconfigModel):
    cluster: str
    user: str
    namespace: str | None = None


class _NamedCluster(_KubeconfigModel):
    name: str
    cluster: _Cluster


class _NamedUser(_KubeconfigModel):
    name: str
    user: _User


class _NamedContext(_KubeconfigModel):
    name: str
    context: _Context


class _Kubeconfig(_KubeconfigModel):
    current_context: str = Field(default="", alias="current-context")
    clusters: list[_NamedCluster] = []
    users: list[_NamedUser] = []
    contexts: list[_NamedContext] = []

    def credentials(self, context_name: str | None, base: Path) -> KubeCredentials:
        name = context_name or self.current_context
        context = _find(self.contexts, name, "context").context
        cluster = _find(self.clusters, context.cluster, "cluster").cluster
        user = _find(self.users, context.user, "user").user

        def path(value: str | None) -> Path | None:  # relative paths are relative to the file
            return None if value is None else base / Path(value).expanduser()

        return KubeCredentials(
            server=cluster.server,
            namespace=context.namespace,
            ca_file=path(cluster.certificate_authority),
            ca_pem=_pem(cluster.certificate_authority_data),
            insecure=cluster.insecure_skip_tls_verify,
            token=user.token,
            token_file=path(user.token_file),
            client_cert_file=path(user.client_certificate),
            client_key_file=path(user.client_key),
            client_cert_pem=_secret_pem(user.client_certificate_data),
            client_key_pem=_secret_pem(user.client_key_data),
        )


N = TypeVar("N", _NamedCluster, _NamedUser, _NamedContext)


def _find(entries: list[N], name: str, what: str) -> N:
    for entry in entries:
        if entry.name == name:
            return entry
    raise KubeConfigError(f"kubeconfig has no {what} named {name!r}")


def _pem(data: str | None) -> str | None:
    return None if data is None else base64.b64decode(data).decode("ascii")


def _secret_pem(data: SecretStr | None) -> SecretStr | None:
    return None if data is None else SecretStr(base64.b64decode(data.get_secret_value()).decode("ascii"))


def ssl_context(credentials: KubeCredentials) -> ssl.SSLContext:
    """The TLS setup kubectl would use: the cluster's CA and, when given, the client certificate."""
    context = ssl.create_default_context(
        cafile=str(credentials.ca_file) if credentials.ca_file else None, cadata=credentials.ca_pem
    )
    if credentials.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with _client_cert_files(credentials) as pair:
        if pair is not None:
            context.load_cert_chain(certfile=pair[0], keyfile=pair[1])
    return context


@contextlib.contextmanager
def _client_cert_files(credentials: KubeCredentials) -> Generator[tuple[Path, Path] | None]:
    """`ssl` loads certificates from files only, so inline PEM data lives in a private temporary
    folder for the moment it takes to load it."""
    if credentials.client_cert_file and credentials.client_key_file:
        yield credentials.client_cert_file, credentials.client_key_file
        return
    if not (credentials.client_cert_pem and credentials.client_key_pem):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="llm-router-tls-") as folder:
        cert, key = Path(folder) / "client.crt", Path(folder) / "client.key"
        for file, pem in ((cert, credentials.client_cert_pem), (key, credentials.client_key_pem)):
            file.touch(mode=0o600)
            file.write_text(pem.get_secret_value(), encoding="ascii")
        yield cert, key


class _BearerAuth(httpx.Auth):
    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        yield request


def _auth(credentials: KubeCredentials) -> httpx.Auth | None:
    token, token_file = credentials.token, credentials.token_file
    if token is not None:
        return _BearerAuth(token.get_secret_value)
    if token_file is not None:
        return _BearerAuth(lambda: token_file.read_text(encoding="utf-8").strip())
    return None


# --- Client ----------------------------------------------------------------------------------


class KubeClient:
    """One connection pool to one API server. Every method raises `KubeApiError` for an error
    answer and `KubeUnavailable` when the server cannot be reached."""

    def __init__(self, credentials: KubeCredentials, *, timeout_s: float = 10.0) -> None:
        self.credentials = credentials
        self._timeout_s = timeout_s
        self._http = httpx.AsyncClient(
            base_url=credentials.server,
            verify=ssl_context(credentials),
            auth=_auth(credentials),
            timeout=timeout_s,
            headers={"Accept": "application/json"},
        )

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, model: type[M]) -> M:
        return _parse(model, await self._call("GET", path), "GET", path)

    async def list(
        self, path: str, model: type[M], *, label_selector: str | None = None, field_selector: str | None = None
    ) -> ObjectList[M]:
        listing: type[ObjectList[M]] = ObjectList[model]  # type: ignore[valid-type]
        return _parse(
            listing, await self._call("GET", path, params=_selectors(label_selector, field_selector)), "LIST", path
        )

    async def create(self, path: str, body: BaseModel, model: type[M]) -> M:
        return _parse(model, await self._call("POST", path, body=_json(body)), "POST", path)

    async def replace(self, path: str, body: BaseModel, model: type[M]) -> M:
        """PUT; with `metadata.resourceVersion` set, a concurrent change makes it fail (409)."""
        return _parse(model, await self._call("PUT", path, body=_json(body)), "PUT", path)

    async def merge_patch(self, path: str, patch: BaseModel, model: type[M]) -> M:
        """JSON merge patch of everything in `patch`: a None field is sent as null, which deletes
        it, so a patch written from a whole model leaves no stale field behind."""
        content = patch.model_dump_json(by_alias=True).encode()
        answer = await self._call("PATCH", path, body=content, content_type=JSON_MERGE_PATCH)
        return _parse(model, answer, "PATCH", path)

    async def apply(self, path: str, body: BaseModel, model: type[M], *, field_manager: str) -> M:
        """Server-side apply: create or update in one idempotent call, owning the fields sent."""
        params = {"fieldManager": field_manager, "force": "true"}
        answer = await self._call("PATCH", path, body=_json(body), params=params, content_type=APPLY_PATCH)
        return _parse(model, answer, "APPLY", path)

    async def watch(
        self,
        path: str,
        model: type[M],
        *,
        resource_version: str,
        field_selector: str | None = None,
        label_selector: str | None = None,
        timeout_s: int = 300,
    ) -> AsyncIterator[WatchEvent[M] | Bookmark]:
        """Changes after `resource_version` until the server ends the watch (after `timeout_s`).
        A `KubeApiError` with code 410 means the version is too old: list again."""
        params = _selectors(label_selector, field_selector) | {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_s),
        }
        timeout = httpx.Timeout(self._timeout_s, read=timeout_s + self._timeout_s)
        try:
            async with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.is_error:
                    raise _api_error("WATCH", path, response.status_code, await response.aread())
                async for line in response.aiter_lines():
                    if line.strip():
                        yield _event(line, model, path)
        except httpx.HTTPError as err:
            raise KubeUnavailable(f"WATCH {path}: {type(err).__name__}: {err}") from err

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> bytes:
        headers = {"Content-Type": content_type} if body is not None else {}
        try:
            response = await self._http.request(method, path, content=body, params=params, headers=headers)
        except httpx.HTTPError as err:
            raise KubeUnavailable(f"{method} {path}: {type(err).__name__}: {err}") from err
        if response.is_error:
            raise _api_error(method, path, response.status_code, response.content)
        return response.content


def _parse(model: type[M], content: bytes, method: str, path: str) -> M:
    try:
        return model.model_validate_json(content)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KubeResponseError(f"{method} {path}: not a {model.__name__}: {where}: {first['msg']}") from err


def _selectors(label_selector: str | None, field_selector: str | None) -> dict[str, str]:
    params = {"labelSelector": label_selector, "fieldSelector": field_selector}
    return {k: v for k, v in params.items() if v}


def _json(body: BaseModel) -> bytes:
    return body.model_dump_json(by_alias=True, exclude_none=True).encode()


def _api_error(method: str, path: str, code: int, content: bytes) -> KubeApiError:
    try:
        status = Status.model_validate_json(content)
    except ValidationError:
        status = Status(code=code, message=content[:200].decode("utf-8", "replace"))
    return KubeApiError(method, path, code, status.reason, status.message)


def _event(line: str, model: type[M], path: str) -> WatchEvent[M] | Bookmark:
    try:
        raw = _RawEvent.model_validate_json(line)
        if raw.type == "ERROR":
            status = Status.model_validate(raw.object)
            raise KubeApiError("WATCH", path, status.code, status.reason, status.message)
        if raw.type == "BOOKMARK":
            return Bookmark(_BookmarkObject.model_validate(raw.object).metadata.resource_version)
        return WatchEvent[M](type=raw.type, object=model.model_validate(raw.object))
    except ValidationError as err:
        raise KubeResponseError(f"WATCH {path}: malformed event: {err.errors()[0]['msg']}") from err
