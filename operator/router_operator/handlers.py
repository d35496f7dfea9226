"""The kopf registry: which events start a reconcile pass, and how kopf logs in. Only wiring;
what a pass does is in `reconcile.py` and `plan.py`.

Every event, whatever its kind, asks for the same full pass: the published config depends on all
policies and tiers together, so per-object handlers would gain nothing. Only watches are used
(no timers or daemons), so kopf puts no finalizer and no progress annotation on any object:
deleting one needs no cleanup and never waits for the operator (see `release.py` for the live
policy). Follow-ups without an event (a retry, a replica report going stale) are scheduled by
the `Reconciler` itself.
"""

from __future__ import annotations

import logging

import kopf

from router_operator.reconcile import Reconciler
from router_operator.release import MANAGED_BY
from router_operator.resources import PROVIDER_TIERS, ROUTING_POLICIES
from router_operator.settings import OperatorSettings
from router_py.config.kube_api import CONFIGMAPS, SECRETS, KubeCredentials, Resource
from router_py.config.kube_source import REPLICA_STATUS_LABEL


def build_registry(
    reconciler: Reconciler, settings: OperatorSettings, credentials: KubeCredentials
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    def on_change(resource: Resource, handler_id: str, labels: dict[str, str] | None = None) -> None:
        async def changed(**_: object) -> None:
            await reconciler.request(handler_id)

        kopf.on.event(
            resource.group, resource.version, resource.plural, id=handler_id, labels=labels, registry=registry
        )(changed)

    on_change(ROUTING_POLICIES, "routingpolicies")
    on_change(PROVIDER_TIERS, "providertiers")
    # A Secret named by an apiKeyRef may be created after the tier that names it.
    on_change(SECRETS, "secrets")
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
    def login(**_: object) -> kopf.ConnectionInfo:
        return connection_info(credentials)

    return registry


def connection_info(credentials: KubeCredentials) -> kopf.ConnectionInfo:
    """kopf's view of the credentials `router_py.config.kube_api` loaded, so the operator's
    watches and its own calls authenticate the same way."""
    token = credentials.token.get_secret_value() if credentials.token else None
    if token is None and credentials.token_file is not None:
        token = credentials.token_file.read_text(encoding="utf-8").strip()
    return kopf.ConnectionInfo(
        server=credentials.server,
        ca_path=str(credentials.ca_file) if credentials.ca_file else None,
        ca_data=credentials.ca_pem,
        insecure=credentials.insecure,
        token=token,
        certificate_path=str(credentials.client_cert_file) if credentials.client_cert_file else None,
        private_key_path=str(credentials.client_key_file) if credentials.client_key_file else None,
        certificate_data=credentials.client_cert_pem.get_secret_value() if credentials.client_cert_pem else None,
        private_key_data=credentials.client_key_pem.get_secret_value() if credentials.client_key_pem else None,
        default_namespace=credentials.namespace,
    )
