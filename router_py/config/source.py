"""Where `llm-router serve` gets its config from and reports back to: a folder of manifests
(`FileSource`) or the cluster (`router_py.config.kube_source.KubeSource`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from router_py.config.schema import RouterConfig


class ConfigUpdate(BaseModel):
    """A new config from the source, or why the source's current content is unusable.

    `revision` identifies the source content (content hash, ConfigMap resourceVersion) so a
    replica can report which one it runs."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    revision: str
    config: RouterConfig | None = None
    error: str | None = None


class BreakerReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: str
    state: str  # closed | open | half-open
    since_unix_ms: int
    consecutive_failures: int


class ReplicaStatus(BaseModel):
    """What one router replica runs and sees, reported to the source (the operator aggregates it)."""

    model_config = ConfigDict(frozen=True)

    replica: str
    policy_name: str | None
    policy_version: int | None
    revision: str | None
    last_error: str | None
    breakers: list[BreakerReport]
    reported_unix_ms: int


class ConfigSource(Protocol):
    def updates(self) -> AsyncIterator[ConfigUpdate]:
        """Yields the current config first, then one update per change, until cancelled."""
        ...

    async def report(self, status: ReplicaStatus) -> None:
        """Publish this replica's status; failures are logged by the source, never raised."""
        ...
