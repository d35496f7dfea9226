"""One watch per Secret an `apiKeyRef` names, each selecting its Secret by name.

Why not one watch of every Secret in the namespace (kopf's way): that needs `list` and `watch`
on all of them, so the operator could read every key in the namespace. RBAC `resourceNames` does
grant `list` and `watch`, but only to requests that select a single name (`metadata.name=NAME`),
which is what these watches send; the chart's Role then names the Secrets in `providerSecrets`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from router_py.config.kube_client import KubeClient, KubeError
from router_py.config.kube_objects import SECRETS, Secret
from router_py.config.kube_source import Backoff

log = logging.getLogger("llm_router.operator")


class SecretWatches:
    """`track(names)` after each pass: a watch starts for each new name and stops for each name no
    longer referenced. Each change of a watched Secret (created, keys edited, deleted) calls
    `changed("secret/NAME")`, and so does each round's fresh list (every five minutes: a pass
    that finds nothing changed writes nothing)."""

    def __init__(self, client: KubeClient, namespace: str, changed: Callable[[str], Awaitable[bool]]) -> None:
        self._client = client
        self._namespace = namespace
        self._changed = changed
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def track(self, names: Iterable[str]) -> None:
        wanted = set(names)
        for name in self._tasks.keys() - wanted:
            self._tasks.pop(name).cancel()
        for name in wanted - self._tasks.keys():
            self._tasks[name] = asyncio.create_task(self._watch(name), name=f"secret/{name}")

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, name: str) -> None:
        backoff = Backoff(first_s=1.0, max_s=60.0)
        while True:
            try:
                # Every state seen, the first included: it may differ from what the last pass read.
                async for _ in self._client.follow(SECRETS, Secret, self._namespace, name):
                    backoff.reset()
                    # Shielded: the pass this starts may `track` names without this one (its Secret
                    # deleted, its tier edited), cancelling this watch; the pass must still finish.
                    await asyncio.shield(self._changed(f"secret/{name}"))
            except KubeError as err:
                delay = backoff.next_delay()
                log.warning(
                    "secret watch failed; retrying",
                    extra={"secret": name, "error": str(err), "retry_in_s": round(delay, 1)},
                )
                await asyncio.sleep(delay)
