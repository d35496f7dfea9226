"""values.schema.json: a typo or a wrong type fails `helm lint`, `helm template` and so `helm install`,
before anything reaches the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from chart_support import CHART, Helm

BAD_VALUES = {
    "unknown top-level key": ["routr.replicaCount=3"],
    "unknown nested key": ["router.autoscaling.targetCPU=50"],
    "string for an integer": ["router.replicaCount=three"],
    "negative replicas": ["router.replicaCount=-1"],
    "pull policy outside the enum": ["image.pullPolicy=Sometimes"],
    "secret name that is no DNS name": ["providerSecrets={Bad_Name}"],
    "policy name that is no DNS name": ["policy.name=Default Policy"],
    "service type outside the enum": ["router.service.type=Ingress"],
    "bad quantity": ["router.cacheSnapshot.sizeLimit=lots"],
    "bad scrape interval": ["metrics.serviceMonitor.interval=often"],
    "auth switch that is no boolean": ["auth.enabled=maybe"],
    "keys Secret name that is no DNS name": ["auth.secretName=API_Keys"],
    "keys file name with a slash": ["auth.secretKey=../keys.yaml"],
    "TLS Secret name that is no DNS name": ["tls.secretName=My TLS"],
    "unknown auth key": ["auth.keys=x"],
}


@pytest.mark.parametrize("sets", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_rejects_bad_values(helm: Helm, sets: list[str]) -> None:
    args = [a for s in sets for a in ("--set", s)]
    for command in (["template", "rel", str(CHART)], ["lint", "--strict", str(CHART)]):
        done = helm.run(*command, *args, check=False)
        assert done.returncode != 0, f"helm {command[0]} accepted {sets}"
        assert "schema" in (done.stderr + done.stdout).lower(), done.stderr + done.stdout


def test_schema_rejects_a_typo_in_a_values_file(helm: Helm, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("router:\n  replicas: 3\n")
    done = helm.run("template", "rel", str(CHART), "-f", str(values), check=False)
    assert done.returncode != 0
    assert "replicas" in done.stderr


def test_autoscaling_needs_a_cpu_request(helm: Helm) -> None:
    done = helm.run(
        "template", "rel", str(CHART), "--set", "router.autoscaling.enabled=true", "--set", "router.resources=null",
        check=False,
    )
    assert done.returncode != 0
    assert "router.resources.requests.cpu" in done.stderr


def test_autoscaling_bounds_are_ordered(helm: Helm) -> None:
    done = helm.run(
        "template", "rel", str(CHART), "--set", "router.autoscaling.enabled=true",
        "--set", "router.autoscaling.minReplicas=5", "--set", "router.autoscaling.maxReplicas=2",
        check=False,
    )
    assert done.returncode != 0
    assert "minReplicas" in done.stderr


def test_good_overrides_pass(helm: Helm) -> None:
    helm.run(
        "template", "rel", str(CHART),
        "--set", "image.tag=1.2.3", "--set", "providerSecrets={keys}", "--set", "router.replicaCount=0",
        "--set", "router.podDisruptionBudget.maxUnavailable=50%", "--set", "examples.enabled=true",
        "--set", "router.service.annotations.example\\.com/team=search",
    )
