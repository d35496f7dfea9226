"""The kopf registry: which events start a reconcile pass, and how kopf logs in. Only wiring;
what a pass does is in `reconcile.py` and `plan.py`.

Every event, whatever its kind, asks for the same full pass: the published config depends on all
policies and tiers together, so per-object handlers would gain nothing. Only watches are used
(no timers or daemons), so kopf puts no finalizer and no progress annotation on any object:
deleting one needs no cleanup and never waits for the operator (see `release.py` for the live
policy). Follow-ups without an event (a retry, a replica report going stale) are scheduled by
the `Reconciler` itself, and so are the watches of the Secrets that tiers name
(`secret_watch.py`): kopf would watch every Secret in the namespace.
"""

from __future__ import annotations

import logging

import kopf
import lightkube

from router_operator.reconcile import Reconciler
from router_operator.release import MANAGED_BY
from router_operator.resources import PROVIDER_TIERS, ROUTING_POLICIES
from router_operator.settings import OperatorSettings
from router_py.config.kube_client import authorization
from router_py.config.kube_objects import CONFIGMAPS, Kind
from router_py.config.kube_source import REPLICA_STATUS_LABEL


def build_registry(
    reconciler: Reconciler, settings: OperatorSettings, config: lightkube.SingleConfig
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    def on_change(kind: Kind, handler_id: str, labels: dict[str, str] | None = None) -> None:
        async def changed(**_: object) -> None:
            await reconciler.request(handler_id)

        kopf.on.event(kind.group, kind.version, kind.plural, id=handler_id, labels=labels, registry=registry)(changed)

    on_change(ROUTING_POLICIES, "routingpolicies")
    on_change(PROVIDER_TIERS, "providertiers")
    # The published ConfigMap: edited or deleted by hand, it is put back.
    on_change(CONFIGMAPS, "published-config", labels=MANAGED_BY)
    on_change(CONFIGMAPS, "replica-reports", labels={REPLICA_STATUS_LABEL: settings.configmap})

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: object) -> None:
        # Verdicts are in the objects' conditions and our logs; cluster events only for failures.
        settings.posting.level = logging.WARNING
        # One known namespace and CRDs installed before the operator (the chart's crds/): no
        # cluster-wide watching of namespaces and CRDs, so a namespaced Role is all it needs.
        settings.scanning.disabled = True

    @kopf.on.login(registry=registry)
    async def login(**_: object) -> kopf.ConnectionInfo:
        # kopf asks again when the server answers 401: an exec plugin's token is then re-made.
        return await connection_info(config)

    return registry


async def connection_info(config: lightkube.SingleConfig) -> kopf.ConnectionInfo:
    """kopf's view of the login lightkube uses (`router_py.config.kube_client`), so the operator's
    watches and its own calls authenticate the same way, exec credential plugins included."""
    cluster, user = config.cluster, config.user
    header = await authorization(config)
    scheme, _, token = header.partition(" ") if header else ("", "", "")
    return kopf.ConnectionInfo(
        server=cluster.server,
        ca_path=cluster.certificate_auth,
        ca_data=cluster.certificate_auth_data,
        insecure=cluster.insecure,
        scheme=scheme or None,
        token=token or None,
        certificate_path=user.client_cert if user else None,
        certificate_data=user.client_cert_data if user else None,
        private_key_path=user.client_key if user else None,
        private_key_data=user.client_key_data if user else None,
        default_namespace=config.context.namespace,
    )
