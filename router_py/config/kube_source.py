"""The cluster as a config source: the router follows the ConfigMap the operator publishes and
reports its breakers in a ConfigMap of its own.

The contract with `router_operator` (both sides import these names):
- `<configmap>` holds `config.json` (a RouterConfig, `to_core_json()`), optionally `shadow.json`
  (the shadow policy's RouterConfig), the annotation `llmrouter.io/revision`, which changes only
  when the content does (a replica runs, and reports, that revision), and the annotation
  `llmrouter.io/config-format`, the format of the content (`CONFIG_FORMAT`).
- `<configmap>-status-<replica>`, labelled `llmrouter.io/replica-status=<configmap>`, holds
  `status.json`: one `ReplicaStatus`, rewritten by each `report()`.

Formats: a router reads `CONFIG_FORMAT` only. The operator writes a new format only when a router
of the previous release could not read the content (the core refuses unknown fields), so during a
rolling upgrade a router meeting a format it does not know refuses it by name and keeps its last
good config, instead of failing on the first unknown field. A ConfigMap without the annotation
(written before formats were marked, or by hand) is read as `v1`: that is what those hold.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import AsyncIterator, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from router_py.config.kube_client import KubeClient, KubeConfigError, KubeError
from router_py.config.kube_objects import CONFIGMAPS, ConfigMap, ObjectMeta, OwnerReference
from router_py.config.schema import RouterConfig
from router_py.config.source import ConfigUpdate, ReplicaStatus

CONFIG_KEY = "config.json"
SHADOW_KEY = "shadow.json"
STATUS_KEY = "status.json"
REVISION_ANNOTATION = "llmrouter.io/revision"
FORMAT_ANNOTATION = "llmrouter.io/config-format"
CONFIG_FORMAT = "v1"
REPLICA_STATUS_LABEL = "llmrouter.io/replica-status"
DEFAULT_CONFIGMAP = "llm-router-config"
FIELD_MANAGER = "llm-router"
# The revision of an update saying the ConfigMap does not exist (yet, or any more).
ABSENT = "absent"

log = logging.getLogger("llm_router.config.kube")


def status_configmap_name(configmap: str, replica: str) -> str:
    return f"{configmap}-status-{replica}"


def revision_of(configmap: ConfigMap) -> str:
    """The operator's revision; a ConfigMap written by hand falls back to its resourceVersion."""
    return configmap.metadata.annotations.get(REVISION_ANNOTATION) or configmap.metadata.resource_version or ""


def config_update(configmap: ConfigMap | None, where: str) -> ConfigUpdate:
    """What the router should do with this ConfigMap content: apply a config, or keep the live one
    and report why not."""
    if configmap is None:
        return ConfigUpdate(revision=ABSENT, error=f"ConfigMap {where} not found")
    revision = revision_of(configmap)
    found = configmap.metadata.annotations.get(FORMAT_ANNOTATION, CONFIG_FORMAT)
    if found != CONFIG_FORMAT:
        return ConfigUpdate(
            revision=revision,
            error=f"ConfigMap {where} is in config format {found!r}; this router reads {CONFIG_FORMAT!r} only "
            "(published by a newer operator? upgrade the routers)",
        )
    raw = configmap.data.get(CONFIG_KEY)
    if raw is None:
        return ConfigUpdate(revision=revision, error=f"ConfigMap {where} has no {CONFIG_KEY}")
    try:
        return ConfigUpdate(revision=revision, config=RouterConfig.model_validate_json(raw))
    except RecursionError:
        return ConfigUpdate(revision=revision, error=f"ConfigMap {where} {CONFIG_KEY}: nested too deeply")
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "."
        return ConfigUpdate(revision=revision, error=f"ConfigMap {where} {CONFIG_KEY}: {field}: {first['msg']}")


class KubeSourceSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    namespace: str
    configmap: str = DEFAULT_CONFIGMAP
    replica: str
    # With the pod's uid the status ConfigMap is owned by the pod, so it goes away with it.
    pod_uid: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str], default_namespace: str | None) -> KubeSourceSettings:
        namespace = environ.get("LLM_ROUTER_NAMESPACE") or default_namespace
        if not namespace:
            raise KubeConfigError("no namespace: set LLM_ROUTER_NAMESPACE")
        return cls(
            namespace=namespace,
            configmap=environ.get("LLM_ROUTER_CONFIGMAP") or DEFAULT_CONFIGMAP,
            replica=environ.get("POD_NAME") or os.uname().nodename,
            pod_uid=environ.get("POD_UID") or None,
        )


class Backoff:
    """Exponential delays with jitter, so replicas that lost the API together do not return
    together; `reset()` after a success."""

    def __init__(self, first_s: float = 0.5, max_s: float = 30.0) -> None:
        self._first_s, self._max_s = first_s, max_s
        self._next_s = first_s

    def reset(self) -> None:
        self._next_s = self._first_s

    def next_delay(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self._max_s)
        return delay * random.uniform(0.8, 1.2)


class KubeSource:
    """`ConfigSource` over the API: list the ConfigMap, then watch it from that resourceVersion,
    round after round; on any error, back off and list again. Updates with an unchanged revision
    are not repeated."""

    def __init__(
        self,
        client: KubeClient,
        settings: KubeSourceSettings,
        *,
        backoff: Backoff | None = None,
        watch_timeout_s: int = 300,
    ) -> None:
        self._client = client
        self.settings = settings
        self._backoff = backoff or Backoff()
        # Each round of the follow watches this long, then lists again (`KubeClient.follow`).
        self._watch_timeout_s = watch_timeout_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KubeSource:
        """From `KUBECONFIG` (or the pod's service account), `LLM_ROUTER_NAMESPACE` (default: the
        kubeconfig's or the pod's namespace), `LLM_ROUTER_CONFIGMAP`, `POD_NAME` and `POD_UID`."""
        env = os.environ if environ is None else environ
        client = KubeClient.from_env(env)
        return cls(client, KubeSourceSettings.from_env(env, client.namespace))

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def _where(self) -> str:
        return f"{self.settings.namespace}/{self.settings.configmap}"

    async def updates(self) -> AsyncIterator[ConfigUpdate]:
        last: str | None = None
        while True:
            try:
                async for update in self._follow():
                    self._backoff.reset()
                    if update.revision != last:
                        last = update.revision
                        yield update
            except KubeError as err:
                delay = self._backoff.next_delay()
                log.warning(
                    "config watch failed; retrying",
                    extra={"configmap": self._where, "error": str(err), "retry_in_s": round(delay, 2)},
                )
                await asyncio.sleep(delay)

    async def _follow(self) -> AsyncIterator[ConfigUpdate]:
        s = self.settings
        configmaps = self._client.follow(
            CONFIGMAPS, ConfigMap, s.namespace, s.configmap, server_timeout_s=self._watch_timeout_s
        )
        async for configmap in configmaps:
            yield config_update(configmap, self._where)

    async def report(self, status: ReplicaStatus) -> None:
        name = status_configmap_name(self.settings.configmap, status.replica)
        body = ConfigMap(
            metadata=ObjectMeta(
                name=name,
                namespace=self.settings.namespace,
                labels={REPLICA_STATUS_LABEL: self.settings.configmap},
                owner_references=self._owners(),
            ),
            data={STATUS_KEY: status.model_dump_json()},
        )
        try:
            await self._client.apply(CONFIGMAPS, body, field_manager=FIELD_MANAGER)
        except KubeError as err:
            log.warning("replica status not reported", extra={"configmap": name, "error": str(err)})

    def _owners(self) -> list[OwnerReference]:
        if self.settings.pod_uid is None:
            return []
        return [OwnerReference(api_version="v1", kind="Pod", name=self.settings.replica, uid=self.settings.pod_uid)]
