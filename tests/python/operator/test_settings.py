"""The operator's settings from its environment, and the health endpoint the chart's probes ask."""

from __future__ import annotations

import inspect

import kopf
import pytest
from router_operator.settings import OperatorSettings

from router_py.config.kube_client import KubeConfigError


def test_the_health_endpoint_comes_from_the_environment() -> None:
    env = {"LLM_ROUTER_NAMESPACE": "ns", "LLM_ROUTER_LIVENESS": "http://0.0.0.0:8080/healthz"}
    assert OperatorSettings.from_env(env, None).liveness == "http://0.0.0.0:8080/healthz"
    assert OperatorSettings.from_env({"LLM_ROUTER_NAMESPACE": "ns"}, None).liveness is None


@pytest.mark.parametrize("endpoint", ["https://0.0.0.0:8080/healthz", "0.0.0.0:8080", "http:///healthz"])
def test_an_endpoint_kopf_cannot_serve_is_refused_at_start(endpoint: str) -> None:
    """kopf serves plain HTTP only; anything else would fail inside kopf after the models load."""
    with pytest.raises(KubeConfigError, match="operator setting liveness"):
        OperatorSettings.from_env({"LLM_ROUTER_NAMESPACE": "ns", "LLM_ROUTER_LIVENESS": endpoint}, None)


def test_kopf_takes_the_endpoint_the_operator_passes() -> None:
    """`router_operator.__main__` hands it to `kopf.operator(liveness_endpoint=...)`."""
    assert "liveness_endpoint" in inspect.signature(kopf.operator).parameters
