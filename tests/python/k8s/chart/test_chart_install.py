"""`helm install` into a real kube-apiserver: two releases of the same name in two namespaces (one
with default values and the examples, one with the production values), every object created, the
RBAC the chart grants is what the router's own client and the operator need, upgrade and
uninstall work. No kubelet runs, so pods never start (`--wait=false`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from chart_support import CHART, PRODUCTION_VALUES, Doc, Helm

from router_py.config.kube_source import REPLICA_STATUS_LABEL, REVISION_ANNOTATION, KubeSource, status_configmap_name
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.source import ConfigUpdate, ReplicaStatus
from support.kube import KubeCluster

RELEASE = "llm-router"  # the same name in both namespaces: only the namespace tells them apart
FULLNAME = "llm-router"
CONFIGMAP = f"{FULLNAME}-config"
CRDS = ("routingpolicies.llmrouter.io", "providertiers.llmrouter.io", "kopfpeerings.kopf.dev")

# The Prometheus Operator is not installed here; the production values need its ServiceMonitor
# kind, so a minimal CRD stands in for it (schema-less, like `kubectl apply` would accept).
SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors",
                  "singular": "servicemonitor"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


@dataclass
class Release:
    namespace: str
    install_output: str
    objects: list[Doc]  # what `helm get manifest` says the release made

    def names(self) -> set[tuple[str, str]]:
        return {(d["kind"], d["metadata"]["name"]) for d in self.objects}


def kube_helm(helm: Helm, cluster: KubeCluster) -> Helm:
    return helm.with_kubeconfig(cluster.kubeconfig)


def wait_for_crds(cluster: KubeCluster, names: tuple[str, ...]) -> None:
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in names))


def install(helm: Helm, cluster: KubeCluster, prefix: str, *args: str) -> Release:
    namespace = cluster.create_namespace(prefix)
    done = helm.run("install", RELEASE, str(CHART), "--namespace", namespace, "--wait=false", *args, timeout=180)
    manifest = helm.run("get", "manifest", RELEASE, "--namespace", namespace).stdout
    objects = [d for d in yaml.safe_load_all(manifest) if d]
    return Release(namespace, done.stdout, objects)


@pytest.fixture(scope="module")
def releases(kube_cluster: KubeCluster, helm: Helm) -> Iterator[dict[str, Release]]:
    kube_cluster.apply(SERVICE_MONITOR_CRD)
    wait_for_crds(kube_cluster, ("servicemonitors.monitoring.coreos.com",))
    h = kube_helm(helm, kube_cluster)
    # The first install creates the CRDs from crds/; the second finds them and leaves them be.
    dev = install(h, kube_cluster, "chart-dev", "--set", "examples.enabled=true")
    wait_for_crds(kube_cluster, CRDS)
    prod = install(h, kube_cluster, "chart-prod", "-f", str(PRODUCTION_VALUES))
    yield {"dev": dev, "prod": prod}


def get(cluster: KubeCluster, namespace: str, kind: str, name: str) -> Doc:
    resource = {"KopfPeering": "kopfpeerings.kopf.dev", "ServiceMonitor": "servicemonitors.monitoring.coreos.com"}
    found: Doc = cluster.get_json(resource.get(kind, kind.lower()), name, "-n", namespace)
    return found


def test_both_releases_are_deployed(kube_cluster: KubeCluster, helm: Helm, releases: dict[str, Release]) -> None:
    h = kube_helm(helm, kube_cluster)
    for release in releases.values():
        status = json.loads(h.run("status", RELEASE, "-n", release.namespace, "-o", "json").stdout)
        assert status["info"]["status"] == "deployed"


def test_every_object_of_each_release_exists_in_its_namespace(
    kube_cluster: KubeCluster, releases: dict[str, Release]
) -> None:
    expected = {
        "dev": {"Deployment", "ServiceAccount", "Role", "RoleBinding", "Service", "PodDisruptionBudget",
                "KopfPeering", "RoutingPolicy", "ProviderTier"},
        "prod": {"Deployment", "ServiceAccount", "Role", "RoleBinding", "Service", "PodDisruptionBudget",
                 "KopfPeering", "HorizontalPodAutoscaler", "ServiceMonitor", "NetworkPolicy"},
    }
    for key, release in releases.items():
        assert {d["kind"] for d in release.objects} == expected[key]
        for doc in release.objects:
            live = get(kube_cluster, release.namespace, doc["kind"], doc["metadata"]["name"])
            assert live["metadata"]["namespace"] == release.namespace
            assert live["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
            assert live["metadata"]["annotations"]["meta.helm.sh/release-namespace"] == release.namespace


def test_releases_share_names_but_no_objects(kube_cluster: KubeCluster, releases: dict[str, Release]) -> None:
    dev, prod = releases["dev"], releases["prod"]
    shared = dev.names() & prod.names()
    assert ("Deployment", FULLNAME) in shared and ("KopfPeering", f"{FULLNAME}-operator") in shared
    for kind, name in shared:
        a = get(kube_cluster, dev.namespace, kind, name)
        b = get(kube_cluster, prod.namespace, kind, name)
        assert a["metadata"]["uid"] != b["metadata"]["uid"]
    # The production router is autoscaled: its Deployment leaves replicas to the HPA (default 1).
    hpa = get(kube_cluster, prod.namespace, "HorizontalPodAutoscaler", FULLNAME)
    assert hpa["spec"]["scaleTargetRef"]["name"] == FULLNAME


def test_nothing_cluster_scoped_but_the_crds(kube_cluster: KubeCluster, releases: dict[str, Release]) -> None:
    lines = kube_cluster.kubectl("api-resources", "--namespaced=false", "--no-headers").stdout.splitlines()
    cluster_kinds = {line.split()[-1] for line in lines if line.strip()}
    assert {"ClusterRole", "Namespace", "CustomResourceDefinition"} <= cluster_kinds
    for release in releases.values():
        for doc in release.objects:
            assert doc["kind"] not in cluster_kinds, doc["kind"]
            assert doc["metadata"].get("namespace") == release.namespace
    crds = {c["metadata"]["name"] for c in kube_cluster.get_json("crd")["items"]}
    assert set(CRDS) <= crds


def test_notes_tell_how_to_check_policies_and_the_short_names_work(
    kube_cluster: KubeCluster, releases: dict[str, Release]
) -> None:
    for release in releases.values():
        assert f"kubectl get rpol,ptier -n {release.namespace}" in release.install_output
        assert f"svc/{FULLNAME} 8080:8080 50051:50051" in release.install_output
    dev = releases["dev"]
    listed = kube_cluster.kubectl("get", "rpol,ptier", "-n", dev.namespace, "-o", "name").stdout.split()
    assert "routingpolicy.llmrouter.io/default" in listed
    assert sum(1 for n in listed if n.startswith("providertier.llmrouter.io/")) == 3
    # The example tiers read keys from a Secret the default values do not mount: NOTES says so.
    assert "WARNING" in dev.install_output and "llm-provider-keys" in dev.install_output
    assert "WARNING" not in releases["prod"].install_output
    # Auth is on in both: NOTES says how to make a key and the Secret the pods wait for.
    for release in releases.values():
        assert "llm-router keys new --tenant" in release.install_output
        assert "Bearer <your key>" in release.install_output and "Auth is OFF" not in release.install_output
    assert f"kubectl create secret generic {FULLNAME}-api-keys" in dev.install_output
    assert "kubectl create secret generic llm-router-api-keys" in releases["prod"].install_output
    # Only production is given a certificate.
    assert "http://localhost:8080/v1" in dev.install_output and "-plaintext" in dev.install_output
    assert "https://localhost:8080/v1" in releases["prod"].install_output


def can_i(cluster: KubeCluster, namespace: str, account: str, verb: str, resource: str, *extra: str) -> bool:
    done = cluster.kubectl(
        "auth", "can-i", verb, resource, "-n", namespace, f"--as=system:serviceaccount:{namespace}:{account}",
        *extra, check=False,
    )
    return done.stdout.strip() == "yes"


def test_operator_account_has_its_namespaced_rights_only(
    kube_cluster: KubeCluster, releases: dict[str, Release]
) -> None:
    ns = releases["prod"].namespace
    account = f"{FULLNAME}-operator"
    allowed = [
        ("watch", "routingpolicies.llmrouter.io"),
        ("create", "configmaps"),
        ("update", "configmaps"),
        # Secrets by name only: those the routers mount (providerSecrets).
        ("list", "secrets/llm-provider-keys"),
        ("watch", "secrets/llm-provider-keys"),
        ("create", "events"),
        ("patch", "kopfpeerings.kopf.dev"),
    ]
    for verb, resource in allowed:
        assert can_i(kube_cluster, ns, account, verb, resource), (verb, resource)
    for kind in ("routingpolicies.llmrouter.io", "providertiers.llmrouter.io"):
        assert can_i(kube_cluster, ns, account, "patch", kind, "--subresource=status"), kind
    denied = [("create", "secrets"), ("list", "secrets"), ("get", "secrets/other"),
              ("delete", "routingpolicies.llmrouter.io"), ("patch", "providertiers.llmrouter.io"),
              ("delete", "configmaps"), ("create", "pods"),
              ("create", "roles.rbac.authorization.k8s.io")]
    for verb, resource in denied:
        assert not can_i(kube_cluster, ns, account, verb, resource), (verb, resource)
    # Nothing outside its namespace: not even the same kinds next door.
    other = releases["dev"].namespace
    assert kube_cluster.kubectl(
        "auth", "can-i", "list", "routingpolicies.llmrouter.io", "-n", other,
        f"--as=system:serviceaccount:{ns}:{account}", check=False,
    ).stdout.strip() == "no"


def test_router_account_reads_only_its_config_configmap(
    kube_cluster: KubeCluster, releases: dict[str, Release]
) -> None:
    ns = releases["prod"].namespace
    assert can_i(kube_cluster, ns, FULLNAME, "get", f"configmaps/{CONFIGMAP}")
    assert can_i(kube_cluster, ns, FULLNAME, "watch", f"configmaps/{CONFIGMAP}")
    assert not can_i(kube_cluster, ns, FULLNAME, "get", "configmaps/other")
    assert not can_i(kube_cluster, ns, FULLNAME, "list", "configmaps")
    assert can_i(kube_cluster, ns, FULLNAME, "create", "configmaps")
    assert can_i(kube_cluster, ns, FULLNAME, "patch", "configmaps/anything-status")
    for verb, resource in (("get", "secrets"), ("delete", "configmaps"), ("list", "routingpolicies.llmrouter.io")):
        assert not can_i(kube_cluster, ns, FULLNAME, verb, resource), (verb, resource)


def router_round(kubeconfig: Path, namespace: str, replica: str) -> ConfigUpdate:
    """What the router's own cluster client does at start: follow its config ConfigMap (first
    update) and report its status, authenticated as the chart's router ServiceAccount."""

    async def run() -> ConfigUpdate:
        source = KubeSource.from_env(
            {"KUBECONFIG": str(kubeconfig), "LLM_ROUTER_NAMESPACE": namespace,
             "LLM_ROUTER_CONFIGMAP": CONFIGMAP, "POD_NAME": replica}
        )
        try:
            updates = source.updates()
            first = await asyncio.wait_for(anext(updates), timeout=30)
            await updates.aclose()
            await source.report(
                ReplicaStatus(replica=replica, policy_name=None, policy_version=None, revision=first.revision,
                              last_error=first.error, breakers=[], reported_unix_ms=1)
            )
            return first
        finally:
            await source.aclose()

    return asyncio.run(run())


def test_router_client_follows_its_config_and_reports_status_with_the_charts_rbac(
    kube_cluster: KubeCluster, releases: dict[str, Release]
) -> None:
    ns = releases["prod"].namespace
    # The operator's part, done here as admin: publish a compiled config.
    config = load_config(embedded_default_dir())
    kube_cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": ns, "annotations": {REVISION_ANNOTATION: "rev-1"}},
            "data": {"config.json": config.to_core_json()},
        }
    )
    kubeconfig = kube_cluster.service_account_kubeconfig(ns, FULLNAME)
    replica = f"{FULLNAME}-6d4cf56db6-abcde"
    update = router_round(kubeconfig, ns, replica)
    assert update.revision == "rev-1" and update.error is None and update.config is not None
    status = get(kube_cluster, ns, "ConfigMap", status_configmap_name(CONFIGMAP, replica))
    assert status["metadata"]["labels"][REPLICA_STATUS_LABEL] == CONFIGMAP
    assert json.loads(status["data"]["status.json"])["revision"] == "rev-1"
    # A second report rewrites the same object (server-side apply, no get needed).
    router_round(kubeconfig, ns, replica)


def test_upgrade_changes_the_release_in_place(
    kube_cluster: KubeCluster, helm: Helm, releases: dict[str, Release]
) -> None:
    h = kube_helm(helm, kube_cluster)
    ns = releases["dev"].namespace
    h.run("upgrade", RELEASE, str(CHART), "-n", ns, "--wait=false", "--reuse-values",
          "--set", "router.replicaCount=4", "--set", "providerSecrets={llm-provider-keys}")
    deployment = get(kube_cluster, ns, "Deployment", FULLNAME)
    assert deployment["spec"]["replicas"] == 4
    mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "provider-secret-0", "mountPath": "/var/run/secrets/llm-router/llm-provider-keys",
            "readOnly": True} in mounts
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["provider-secret-0"]["secret"] == {"secretName": "llm-provider-keys", "defaultMode": 0o440}
    history = json.loads(h.run("history", RELEASE, "-n", ns, "-o", "json").stdout)
    assert [r["revision"] for r in history] == [1, 2]


def test_uninstall_removes_one_release_and_keeps_the_other_and_the_crds(
    kube_cluster: KubeCluster, helm: Helm, releases: dict[str, Release]
) -> None:
    h = kube_helm(helm, kube_cluster)
    dev, prod = releases["dev"], releases["prod"]
    h.run("uninstall", RELEASE, "-n", dev.namespace, "--wait")
    for doc in dev.objects:
        kind, name = doc["kind"], doc["metadata"]["name"]
        resource = {"KopfPeering": "kopfpeerings.kopf.dev"}.get(kind, kind.lower())
        gone = kube_cluster.kubectl("get", resource, name, "-n", dev.namespace, "--ignore-not-found", "-o", "name")
        assert gone.stdout.strip() == "", f"{kind}/{name} survived the uninstall"
    for doc in prod.objects:
        get(kube_cluster, prod.namespace, doc["kind"], doc["metadata"]["name"])
    crds = {c["metadata"]["name"] for c in kube_cluster.get_json("crd")["items"]}
    assert set(CRDS) <= crds
    assert "deployed" in h.run("status", RELEASE, "-n", prod.namespace).stdout
