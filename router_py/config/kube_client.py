"""The Kubernetes API client of the router and the operator: lightkube, logged in as kubectl would,
with the typed objects of `kube_objects` at its edge and failures raised as `KubeError`s whose
one-line message names the call and the cause.

Login: every file in `KUBECONFIG`, merged as kubectl merges them; else the pod's service
account; else `~/.kube/config`. Tokens, token files (re-read when the server answers 401, so a rotated
service-account token is picked up), client certificates and exec credential plugins
(`users[].user.exec`, `client.authentication.k8s.io/v1`, `v1beta1` and `v1alpha1`; a token
from the plugin, re-run when the server answers 401, so an expired token is renewed) are
lightkube's. Ours: the merge (lightkube reads `$KUBECONFIG` as one path), `KUBERNETES_EXEC_INFO`
for plugins, and the `v1` exec API. A plugin that returns a client certificate instead of a
token is not supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import httpx2
import lightkube
import msgspec
import yaml
from lightkube.config.client_adapter import user_auth
from lightkube.config.models import Cluster, NameValue, User, UserExec
from lightkube.core.client import FieldSelector
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType
from pydantic import BaseModel, ValidationError

from router_py.config.kube_objects import Kind, KubeObject

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = Path.home() / ".kube" / "config"
# How long past its server-side timeout a watch may run before it is given up as stuck.
WATCH_GRACE_S = 10.0


class KubeError(Exception):
    """Any failure to talk to the API; the message says which call and why."""


class KubeConfigError(KubeError):
    """No usable credentials: no kubeconfig, a broken one, or a login (exec plugin) that failed."""


class KubeUnavailable(KubeError):
    """The API server could not be reached or the connection broke mid-call."""


class KubeResponseError(KubeError):
    """The server answered, but not with the kind of object asked for."""


class KubeApiError(KubeError):
    """The API server answered with an error status."""

    def __init__(self, call: str, code: int, reason: str, message: str) -> None:
        super().__init__(f"{call}: {code} {reason}: {message}")
        self.code = code
        self.reason = reason

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def forbidden(self) -> bool:
        return self.code == 403

    @property
    def gone(self) -> bool:
        """The watch's resourceVersion was compacted away: list again."""
        return self.code == 410


# --- Login -----------------------------------------------------------------------------------


def connection_config(
    environ: Mapping[str, str] | None = None, service_account: Path = SERVICE_ACCOUNT_DIR
) -> lightkube.SingleConfig:
    """The current context of `$KUBECONFIG` when set, else the pod's service account (its host
    and port from the process environment, as lightkube reads them), else `~/.kube/config`."""
    env = os.environ if environ is None else environ
    if env.get("KUBECONFIG"):
        return current_context(merge_kubeconfigs(kubeconfig_paths(env["KUBECONFIG"])))
    if env.get("KUBERNETES_SERVICE_HOST") and (service_account / "token").is_file():
        return current_context(_in_cluster(service_account))
    if DEFAULT_KUBECONFIG.is_file():
        return current_context(merge_kubeconfigs([DEFAULT_KUBECONFIG]))
    raise KubeConfigError("no credentials: set KUBECONFIG or run in a pod with a service account")


def kubeconfig_paths(value: str) -> list[Path]:
    """`$KUBECONFIG`'s paths in order, empty entries and repeats dropped, as kubectl does."""
    return [Path(p) for p in dict.fromkeys(value.split(os.pathsep)) if p]


def merge_kubeconfigs(paths: Sequence[Path]) -> lightkube.KubeConfig:
    """kubectl's merge: files that do not exist are skipped; the first file to define a cluster,
    user or context of a given name wins it, and the first `current-context` set wins; relative
    paths in a file are relative to that file."""
    files = [_read_kubeconfig(p) for p in paths if p.is_file()]
    if not files:
        raise KubeConfigError(f"kubeconfig: none of {', '.join(map(str, paths))} exists")
    return lightkube.KubeConfig(
        clusters=_first_wins(f.clusters for f in files),
        contexts=_first_wins(f.contexts for f in files),
        users=_first_wins(f.users for f in files),
        current_context=next((f.current_context for f in files if f.current_context), None),
    )


def current_context(config: lightkube.KubeConfig) -> lightkube.SingleConfig:
    try:
        single = config.get()
    except lightkube.ConfigError as err:
        raise KubeConfigError(f"kubeconfig: {err}") from err
    except KeyError as err:
        raise KubeConfigError(
            f"kubeconfig: context {config.current_context!r} names a cluster or user not defined: {err}"
        ) from err
    assert single is not None  # get() without a default raises instead
    return single


def _in_cluster(service_account: Path) -> lightkube.KubeConfig:
    try:
        return lightkube.KubeConfig.from_service_account(service_account)
    except (lightkube.ConfigError, KeyError) as err:  # KeyError: a service port not in the environment
        raise KubeConfigError(f"service account {service_account}: {type(err).__name__}: {err}") from err


_Entry = TypeVar("_Entry")


def _first_wins(sections: Iterable[dict[str, _Entry]]) -> dict[str, _Entry]:
    merged: dict[str, _Entry] = {}
    for section in sections:
        for name, entry in section.items():
            merged.setdefault(name, entry)
    return merged


def _read_kubeconfig(path: Path) -> lightkube.KubeConfig:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        sections = {key: document.get(key) or [] for key in ("clusters", "contexts", "users")}
        parsed = lightkube.KubeConfig.from_dict({**sections, "current-context": document.get("current-context")})
    except (OSError, yaml.YAMLError, msgspec.ValidationError, KeyError, TypeError, AttributeError) as err:
        raise KubeConfigError(f"kubeconfig {path}: {type(err).__name__}: {err}") from err
    base = path.absolute().parent
    return lightkube.KubeConfig(
        clusters={name: _cluster_paths(c, base) for name, c in parsed.clusters.items()},
        contexts=parsed.contexts,
        users={name: _user_paths(u, base) for name, u in parsed.users.items()},
        current_context=parsed.current_context or None,
    )


def _absolute(value: str | None, base: Path) -> str | None:
    return str(base / value) if value and not Path(value).is_absolute() else value


def _cluster_paths(cluster: Cluster, base: Path) -> Cluster:
    return msgspec.structs.replace(cluster, certificate_auth=_absolute(cluster.certificate_auth, base))


def _user_paths(user: User, base: Path) -> User:
    return msgspec.structs.replace(
        user,
        token_file=_absolute(user.token_file, base),
        client_cert=_absolute(user.client_cert, base),
        client_key=_absolute(user.client_key, base),
        exec=_exec_plugin(user.exec, base) if user.exec is not None else None,
    )


_EXEC_V1 = "client.authentication.k8s.io/v1"
# The newest exec API lightkube accepts; its `status.token` is read the same way as v1's.
_EXEC_V1BETA1 = "client.authentication.k8s.io/v1beta1"


def _exec_plugin(plugin: UserExec, base: Path) -> UserExec:
    """The plugin as kubectl runs it: `KUBERNETES_EXEC_INFO` set (lightkube does not set it, and
    plugins such as kubelogin read it to know they may not prompt), and a `v1` plugin run too
    (lightkube refuses that version, whose token output v1beta1's reader reads alike)."""
    # A bare command name is looked up on PATH; one with a slash is a path, relative to the file.
    command = _absolute(plugin.command, base) or plugin.command if os.sep in plugin.command else plugin.command
    env = list(plugin.env or [])
    if not any(variable.name == "KUBERNETES_EXEC_INFO" for variable in env):
        info = {"apiVersion": plugin.apiVersion, "kind": "ExecCredential", "spec": {"interactive": False}}
        env.append(NameValue(name="KUBERNETES_EXEC_INFO", value=json.dumps(info)))
    api_version = _EXEC_V1BETA1 if plugin.apiVersion == _EXEC_V1 else plugin.apiVersion
    return msgspec.structs.replace(plugin, command=command, env=env, apiVersion=api_version)


async def authorization(config: lightkube.SingleConfig) -> str | None:
    """The `Authorization` header lightkube sends for this user (its token, its token file's, or
    its exec plugin's, run now), for clients that are not lightkube (kopf); None without one."""
    auth = user_auth(config.user) if config.user is not None else None
    if auth is None:
        return None
    flow = auth.async_auth_flow(httpx2.Request("GET", config.cluster.server))
    try:
        request = await anext(flow)
    except lightkube.ConfigError as err:
        raise KubeConfigError(f"login to {config.cluster.server}: {err}") from err
    except (ValueError, KeyError) as err:  # lightkube reads the plugin's output as it comes
        raise KubeConfigError(f"login to {config.cluster.server}: not an ExecCredential: {err!r}") from err
    finally:
        await flow.aclose()
    return request.headers.get("Authorization")


# --- Client ----------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Listing(Generic[M]):
    items: list[M]
    # Where a watch of the same selection starts.
    resource_version: str


class KubeClient:
    """One connection pool to one API server. Every call raises `KubeApiError` for an error
    answer, `KubeUnavailable` when the server cannot be reached, `KubeConfigError` when the
    login fails and `KubeResponseError` for an answer that is not the object asked for."""

    def __init__(self, config: lightkube.SingleConfig, *, timeout_s: float = 10.0) -> None:
        self.config = config
        try:
            self._api = lightkube.AsyncClient(config, timeout=httpx2.Timeout(timeout_s))
        except (lightkube.ConfigError, OSError) as err:
            raise KubeConfigError(f"client for {config.cluster.server}: {err}") from err

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KubeClient:
        return cls(connection_config(environ))

    @property
    def namespace(self) -> str | None:
        """The context's namespace (the pod's, in a cluster); None when it names none."""
        return self.config.context.namespace

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._api.aclose()

    async def get(self, kind: Kind, model: type[M], namespace: str, name: str) -> M:
        call = f"GET {_path(kind, namespace, name)}"
        with _errors(call):
            found = await self._api.get(_resource(kind), name, namespace=namespace)
        return _typed(model, found, call)

    async def list(
        self, kind: Kind, model: type[M], namespace: str, *, labels: Mapping[str, str] | None = None, name: str | None = None
    ) -> Listing[M]:
        call = f"LIST {_path(kind, namespace)}"
        with _errors(call):
            listing = self._api.list(
                _resource(kind), namespace=namespace, labels=dict(labels) if labels else None, fields=_by_name(name)
            )
            items = [_typed(model, obj, call) async for obj in listing]
            return Listing(items, listing.resourceVersion)

    async def follow(
        self, kind: Kind, model: type[M], namespace: str, name: str, *, server_timeout_s: int = 300
    ) -> AsyncIterator[M | None]:
        """The named object now (None: it does not exist), then again after each change, until an
        error. Each round lists, then watches for `server_timeout_s`; a resourceVersion compacted
        away meanwhile (410) ends the round early, not in an error."""
        while True:
            listing = await self.list(kind, model, namespace, name=name)
            yield listing.items[0] if listing.items else None
            try:
                async for found in self._watch(kind, model, namespace, name, listing.resource_version, server_timeout_s):
                    yield found
            except KubeApiError as err:
                if not err.gone:
                    raise

    async def _watch(
        self, kind: Kind, model: type[M], namespace: str, name: str, resource_version: str, server_timeout_s: int
    ) -> AsyncIterator[M | None]:
        """Changes until the round's deadline. lightkube waits on a watch without a read timeout
        and resumes it when the server ends it, so a connection that died without a reset (a NAT
        or load balancer dropping it) would leave a router on a stale config for good: the
        deadline ends the round whatever the connection does."""
        call = f"WATCH {_path(kind, namespace, name)}"
        watch = self._api.watch(
            _resource(kind),
            namespace=namespace,
            fields=_by_name(name),
            resource_version=resource_version,
            server_timeout=server_timeout_s,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + server_timeout_s + WATCH_GRACE_S
        async with contextlib.aclosing(cast(AsyncGenerator[tuple[str, Any], None], watch)) as events:
            while True:
                with _errors(call):
                    try:
                        async with asyncio.timeout_at(deadline):
                            change, obj = await anext(events)
                    except TimeoutError:
                        return
                yield None if change == "DELETED" else _typed(model, obj, call)

    async def create(self, kind: Kind, obj: KubeObject) -> None:
        with _errors(f"POST {_path(kind, obj.metadata.namespace)}"):
            await self._api.create(_wire(kind, obj))

    async def replace(self, kind: Kind, obj: KubeObject) -> None:
        """PUT; with `metadata.resourceVersion` set, a concurrent change makes it fail (409)."""
        with _errors(f"PUT {_path(kind, obj.metadata.namespace, obj.metadata.name)}"):
            await self._api.replace(_wire(kind, obj))

    async def apply(self, kind: Kind, obj: KubeObject, *, field_manager: str) -> None:
        """Server-side apply: create or update in one idempotent call, owning the fields sent."""
        with _errors(f"APPLY {_path(kind, obj.metadata.namespace, obj.metadata.name)}"):
            await self._api.apply(_wire(kind, obj), field_manager=field_manager, force=True)

    async def patch_status(self, kind: Kind, namespace: str, name: str, patch: BaseModel) -> None:
        """JSON merge patch of the status subresource with everything in `patch`: a None field is
        sent as null, which deletes it, so a patch written from a whole model leaves nothing stale."""
        with _errors(f"PATCH {_path(kind, namespace, name)}/status"):
            await self._api.patch(
                _resource(kind).Status,
                name,
                patch.model_dump(mode="json", by_alias=True),
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )


def _path(kind: Kind, namespace: str | None, name: str | None = None) -> str:
    root = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    scope = f"namespaces/{namespace}" if namespace else None
    return "/".join(p for p in (root, scope, kind.plural, name) if p)


def _by_name(name: str | None) -> FieldSelector | None:
    # RBAC `resourceNames` grants list and watch only to requests that select one name like this.
    return {"metadata.name": name} if name is not None else None


def _resource(kind: Kind) -> Any:
    """lightkube's class for the kind: its own model for a built-in kind, a generic one else."""
    if not kind.group:
        return resource_registry.load(kind.api_version, kind.kind)
    return create_namespaced_resource(kind.group, kind.version, kind.kind, kind.plural)


def _wire(kind: Kind, obj: KubeObject) -> Any:
    document = obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _resource(kind).from_dict({"apiVersion": kind.api_version, "kind": kind.kind, **document})


def _typed(model: type[M], obj: object, call: str) -> M:
    try:
        return model.model_validate(msgspec.to_builtins(obj))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KubeResponseError(f"{call}: not a {model.__name__}: {where}: {first['msg']}") from err


@contextlib.contextmanager
def _errors(call: str) -> Iterator[None]:
    """lightkube's and httpx's exceptions as `KubeError`s naming the call."""
    try:
        yield
    except lightkube.ApiError as err:
        status = err.status
        raise KubeApiError(call, status.code or err.response.status_code, status.reason or "", status.message or "") from err
    except httpx2.HTTPStatusError as err:  # a watch refused before it streamed: not a Status body
        response = err.response
        raise KubeApiError(call, response.status_code, response.reason_phrase, response.text[:200]) from err
    except httpx2.HTTPError as err:
        raise KubeUnavailable(f"{call}: {type(err).__name__}: {err}") from err
    except lightkube.ConfigError as err:
        raise KubeConfigError(f"{call}: login: {err}") from err
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise KubeResponseError(f"{call}: malformed answer: {err}") from err
