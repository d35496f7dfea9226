"""Reconcile passes against the API: read everything the plan needs, plan, write the difference.

Passes never overlap and requests coalesce: whatever changed while a pass ran is picked up by
the one next pass, however many events arrived meanwhile. Two follow-ups need no event: a failed
pass is retried with backoff, and a pass is due when the oldest live replica report goes stale.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from pydantic import BaseModel, ValidationError

from router_operator.judge import Checker, secret_refs
from router_operator.plan import ClusterState, Plan, StatusUpdate, plan
from router_operator.release import Publication
from router_operator.resources import (
    PROVIDER_TIERS,
    ROUTING_POLICIES,
    CustomObject,
    ProviderTierStatus,
    RoutingPolicyStatus,
)
from router_operator.secret_watch import SecretWatches
from router_operator.settings import OperatorSettings
from router_py.config.kube_client import KubeApiError, KubeClient, KubeError
from router_py.config.kube_objects import CONFIGMAPS, SECRETS, ConfigMap, Secret
from router_py.config.kube_source import REPLICA_STATUS_LABEL, STATUS_KEY, Backoff
from router_py.config.schema import TierSpec
from router_py.config.source import ReplicaStatus

log = logging.getLogger("llm_router.operator")


class StatusPatch(BaseModel):
    status: RoutingPolicyStatus | ProviderTierStatus


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Reconciler:
    def __init__(
        self,
        client: KubeClient,
        check: Checker,
        settings: OperatorSettings,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._client = client
        self._check = check
        self._settings = settings
        self._clock = clock
        self._lock = asyncio.Lock()
        self._requested = 0
        self._completed = 0
        self._backoff = Backoff(first_s=1.0, max_s=60.0)
        self._follow_up: asyncio.Task[bool] | None = None
        self._follow_up_at = 0.0
        self._secret_watches = SecretWatches(client, settings.namespace, self.request)

    async def aclose(self) -> None:
        await self._secret_watches.aclose()

    async def request(self, trigger: str) -> bool:
        """Run a pass unless one that started after this request already finished; False when
        the pass failed (logged, and retried later)."""
        self._requested += 1
        wanted = self._requested
        async with self._lock:
            if self._completed >= wanted:
                return True
            started = self._requested
            try:
                result = await self.reconcile()
            except KubeError as err:
                delay = self._backoff.next_delay()
                log.warning(
                    "reconcile failed", extra={"trigger": trigger, "error": str(err), "retry_in_s": round(delay, 1)}
                )
                self._schedule(delay, "retry")
                return False
            self._backoff.reset()
            self._completed = started
            log.debug(
                "reconciled",
                extra={"trigger": trigger, "published": result.configmap is not None, "statuses": len(result.statuses)},
            )
            if result.recheck_at is not None:
                self._schedule((result.recheck_at - self._clock()).total_seconds() + 0.5, "report-expiry")
            return True

    async def reconcile(self) -> Plan:
        state = await self._read()
        result = plan(state, self._check, self._settings, self._clock())
        await self._publish(state.configmap, result.configmap)
        for update in result.statuses:
            await self._write_status(update)
        return result

    def _schedule(self, delay_s: float, trigger: str) -> None:
        """One pending follow-up at a time, the earliest asked for."""
        loop = asyncio.get_running_loop()
        due = loop.time() + max(delay_s, 0.0)
        pending = self._follow_up
        if pending is not None and not pending.done() and self._follow_up_at <= due:
            return
        if pending is not None:
            pending.cancel()
        self._follow_up_at = due
        self._follow_up = asyncio.create_task(self._later(delay_s, trigger))

    async def _later(self, delay_s: float, trigger: str) -> bool:
        await asyncio.sleep(max(delay_s, 0.0))
        self._follow_up = None  # due now: the pass below may schedule the next one
        return await self.request(trigger)

    # --- read ---

    async def _read(self) -> ClusterState:
        ns = self._settings.namespace
        policies, tiers, configmap, reports = await asyncio.gather(
            self._client.list(ROUTING_POLICIES, CustomObject, ns),
            self._client.list(PROVIDER_TIERS, CustomObject, ns),
            self._published(),
            self._reports(),
        )
        secrets = await self._secrets(tiers.items)
        return ClusterState(policies.items, tiers.items, secrets, configmap, reports)

    async def _published(self) -> ConfigMap | None:
        try:
            return await self._client.get(CONFIGMAPS, ConfigMap, self._settings.namespace, self._settings.configmap)
        except KubeApiError as err:
            if err.not_found:
                return None
            raise

    async def _reports(self) -> list[ReplicaStatus]:
        selector = {REPLICA_STATUS_LABEL: self._settings.configmap}
        listing = await self._client.list(CONFIGMAPS, ConfigMap, self._settings.namespace, labels=selector)
        reports = []
        for configmap in listing.items:
            try:
                reports.append(ReplicaStatus.model_validate_json(configmap.data.get(STATUS_KEY, "")))
            except ValidationError as err:
                log.warning(
                    "unreadable replica report ignored",
                    extra={"configmap": configmap.metadata.name, "error": str(err.errors()[0]["msg"])},
                )
        return reports

    async def _secrets(self, tiers: list[CustomObject]) -> dict[str, frozenset[str]]:
        """The keys of each Secret an `apiKeyRef` names (values are never read into the index),
        each watched from now on so that its changes start a pass."""
        specs = [s for s in (t.parse_spec(TierSpec) for t in tiers) if isinstance(s, TierSpec)]
        names = sorted({name for spec in specs for _, name, _ in secret_refs(spec)})
        self._secret_watches.track(names)
        found: dict[str, frozenset[str]] = {}
        for name in names:
            secret = await self._secret(name)
            if secret is not None:
                found[name] = frozenset(secret.data)
        return found

    async def _secret(self, name: str) -> Secret | None:
        """None for a Secret that does not exist, or that the operator may not read: its Role
        names only the chart's `providerSecrets`, the Secrets the routers mount, so a tier naming
        another one is refused as the routers could not read its key either."""
        try:
            return await self._client.get(SECRETS, Secret, self._settings.namespace, name)
        except KubeApiError as err:
            if err.forbidden:
                log.warning(
                    "secret not readable by the operator; list it in the chart's providerSecrets",
                    extra={"secret": name, "error": str(err)},
                )
            if err.not_found or err.forbidden:
                return None
            raise

    # --- write ---

    async def _publish(self, current: ConfigMap | None, wanted: ConfigMap | None) -> None:
        if wanted is None:
            return
        if current is None:
            await self._client.create(CONFIGMAPS, wanted)
        else:
            # `wanted` carries the resourceVersion read: a concurrent writer makes this a 409.
            await self._client.replace(CONFIGMAPS, wanted)
        published = Publication.of(wanted)
        log.info(
            "config published",
            extra={
                "configmap": wanted.metadata.name,
                "revision": published.revision if published else None,
                "orphaned": published.orphaned if published else None,
            },
        )

    async def _write_status(self, update: StatusUpdate) -> None:
        try:
            await self._client.patch_status(
                update.resource, self._settings.namespace, update.name, StatusPatch(status=update.status)
            )
        except KubeApiError as err:
            if not err.not_found:  # deleted since it was read: nothing to report on
                raise
            return
        for c in update.status.conditions:
            log.log(
                logging.INFO if c.status.value == "True" else logging.WARNING,
                "condition",
                extra={
                    "object": f"{update.resource.plural}/{update.name}",
                    "type": c.type.value,
                    "status": c.status.value,
                    "reason": c.reason.value,
                    "detail": c.message,
                },
            )
