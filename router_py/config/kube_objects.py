"""The Kubernetes objects the router and the operator read and write, as typed pydantic models,
and the kinds they belong to. `kube_client` converts between these and the wire; nothing past it
handles raw JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic.alias_generators import to_camel


@dataclass(frozen=True)
class Kind:
    """One namespaced kind, e.g. `Kind("", "v1", "ConfigMap", "configmaps")`."""

    group: str
    version: str
    kind: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


CONFIGMAPS = Kind("", "v1", "ConfigMap", "configmaps")
SECRETS = Kind("", "v1", "Secret", "secrets")


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


class KubeObject(KubeModel):
    """Anything the API stores: named and versioned by its metadata."""

    metadata: ObjectMeta


class ConfigMap(KubeObject):
    api_version: Literal["v1"] = "v1"
    kind: Literal["ConfigMap"] = "ConfigMap"
    data: dict[str, str] = {}


class Secret(KubeObject):
    """Values stay wrapped: nothing that formats a Secret can print a key."""

    data: dict[str, SecretStr] = {}
