"""`serve --config PATH`: the manifests in a file or folder, re-read when their content changes."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import ValidationError

from router_py.config.manifests import ManifestError, load_config
from router_py.config.source import ConfigUpdate, ReplicaStatus

log = logging.getLogger("llm_router.config")


class FileSource:
    """Polls (a second by default): inotify is not available on every volume a config is mounted
    from, and a Kubernetes ConfigMap volume swaps a symlink that watchers often miss."""

    def __init__(self, path: Path, *, interval_s: float = 1.0, policy_name: str | None = None) -> None:
        self.path = path
        self.interval_s = interval_s
        self.policy_name = policy_name

    async def updates(self) -> AsyncIterator[ConfigUpdate]:
        seen: str | None = None
        while True:
            revision = self._revision()
            if revision != seen:
                seen = revision
                yield self._load(revision)
            await asyncio.sleep(self.interval_s)

    async def report(self, status: ReplicaStatus) -> None:
        """Nothing to publish to: a file-configured router reports on /readyz and in its logs."""

    def _revision(self) -> str:
        digest = hashlib.sha256()
        files = sorted(self.path.rglob("*.y*ml")) if self.path.is_dir() else [self.path]
        for f in files:
            digest.update(str(f).encode())
            try:
                digest.update(f.read_bytes())
            except OSError as e:
                digest.update(repr(e).encode())
        return digest.hexdigest()[:16]

    def _load(self, revision: str) -> ConfigUpdate:
        try:
            return ConfigUpdate(revision=revision, config=load_config(self.path, self.policy_name))
        except (ManifestError, ValidationError, OSError) as e:
            return ConfigUpdate(revision=revision, error=" ".join(str(e).split()))
        except Exception as e:  # noqa: BLE001 - any content is a refused change, never a dead watcher
            log.exception("unexpected error reading the config; the change is refused", extra={"revision": revision})
            return ConfigUpdate(revision=revision, error=f"unreadable config: {type(e).__name__}: {e}"[:500])
