"""The operator's settings, from its environment (the chart sets them)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router_py.config.kube_client import KubeConfigError
from router_py.config.kube_source import DEFAULT_CONFIGMAP


class OperatorSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # The one namespace watched: its RoutingPolicies, ProviderTiers, Secrets and ConfigMaps.
    namespace: str
    # The KopfPeering object for leader election; None runs standalone (one replica only).
    peering: str | None = None
    # The RoutingPolicy the routers run; the others are candidates (e.g. shadows).
    live_policy: str = "default"
    configmap: str = DEFAULT_CONFIGMAP
    # A replica report older than this is from a replica that is gone or stuck.
    report_ttl_s: float = Field(default=30.0, gt=0)
    # Where kopf serves its health endpoint for the pod's probes (`kopf run --liveness`), e.g.
    # `http://0.0.0.0:8080/healthz`; None serves none.
    liveness: str | None = Field(default=None, pattern=r"^http://[^/\s]+(/\S*)?$")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], default_namespace: str | None) -> OperatorSettings:
        """`LLM_ROUTER_NAMESPACE` (default: the kubeconfig's or the pod's), `LLM_ROUTER_PEERING`,
        `LLM_ROUTER_POLICY`, `LLM_ROUTER_CONFIGMAP`, `LLM_ROUTER_REPORT_TTL_SECONDS`,
        `LLM_ROUTER_LIVENESS`."""
        namespace = environ.get("LLM_ROUTER_NAMESPACE") or default_namespace
        if not namespace:
            raise KubeConfigError("no namespace: set LLM_ROUTER_NAMESPACE")
        values = {
            "namespace": namespace,
            "peering": environ.get("LLM_ROUTER_PEERING"),
            "live_policy": environ.get("LLM_ROUTER_POLICY"),
            "configmap": environ.get("LLM_ROUTER_CONFIGMAP"),
            "report_ttl_s": environ.get("LLM_ROUTER_REPORT_TTL_SECONDS"),
            "liveness": environ.get("LLM_ROUTER_LIVENESS"),
        }
        try:
            return cls.model_validate({k: v for k, v in values.items() if v})
        except ValidationError as err:
            first = err.errors()[0]
            raise KubeConfigError(f"operator setting {first['loc'][0]}: {first['msg']}") from err
