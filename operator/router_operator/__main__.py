"""`python -m router_operator`: run the operator for one namespace until SIGTERM.

Environment: `KUBECONFIG` (every file in it, merged as kubectl does; else the pod's service
account), `LLM_ROUTER_NAMESPACE`,
`LLM_ROUTER_PEERING` (a KopfPeering name for leader election; unset runs standalone),
`LLM_ROUTER_POLICY` (default `default`), `LLM_ROUTER_CONFIGMAP` (default `llm-router-config`),
`LLM_ROUTER_REPORT_TTL_SECONDS`, `LLM_ROUTER_MODEL_DIR` (the models the core checks domain
overrides against), `LLM_ROUTER_LIVENESS` (kopf's health endpoint for the pod's probes, e.g.
`http://0.0.0.0:8080/healthz`; unset serves none), `POD_ID` (kopf's peer identity: the pod name),
`LOG_LEVEL`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys

import kopf
import lightkube

from router_operator.handlers import build_registry
from router_operator.reconcile import Reconciler
from router_operator.settings import OperatorSettings
from router_py.config.check import CoreChecker
from router_py.config.kube_client import KubeClient, KubeConfigError, connection_config
from router_py.runtime import RuntimeSetupError
from router_py.telemetry import logs

log = logging.getLogger("llm_router.operator")


async def run(settings: OperatorSettings, config: lightkube.SingleConfig) -> None:
    # Loading the core's models takes a second: off the loop, before kopf starts watching.
    checker = await asyncio.to_thread(CoreChecker.load)
    async with KubeClient(config) as client:
        reconciler = Reconciler(client, checker.check, settings)
        try:
            await operate(reconciler, settings, config)
        finally:
            await reconciler.aclose()


async def operate(reconciler: Reconciler, settings: OperatorSettings, config: lightkube.SingleConfig) -> None:
    await kopf.operator(
        registry=build_registry(reconciler, settings, config),
        namespaces=[settings.namespace],
        peering_name=settings.peering,
        standalone=settings.peering is None,
        # Served on every replica, paused or leading: the probes ask whether this one runs.
        liveness_endpoint=settings.liveness,
        # kopf pauses every replica that sees a live peer of equal priority, so replicas draw
        # distinct ones; the highest acts. (Set POD_ID to the pod name, kopf's identity, so a
        # restarted container takes over its own entry at once instead of waiting for it to
        # expire.)
        priority=random.SystemRandom().randrange(1, 2**31),
    )


def main() -> int:
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    # kopf logs every handled event at INFO; the passes they start log what changed.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    try:
        config = connection_config()
        settings = OperatorSettings.from_env(os.environ, config.context.namespace)
    except KubeConfigError as err:
        log.error("cannot start", extra={"error": str(err)})
        return 2
    log.info("operator starting", extra=settings.model_dump())
    try:
        asyncio.run(run(settings, config))
    except (RuntimeSetupError, KubeConfigError) as err:  # the models, or a CA file that does not load
        log.error("cannot start", extra={"error": str(err)})
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
