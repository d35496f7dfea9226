"""The chart rendered with `helm template` (default and production values): the objects, names,
security settings, ports and environment the router and operator contracts fix."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import CHART, PRODUCTION_VALUES, Doc, Helm, Render, by_kind, one

from router_py.config.manifests import load_config

RELEASE, NAMESPACE = "prod", "llm-prod"
FULLNAME = "prod-llm-router"
CONFIGMAP = f"{FULLNAME}-config"
SECRETS_DIR = "/var/run/secrets/llm-router"
# The callers' hashed API keys and the TLS pair, apart from the provider keys' folder (a provider
# Secret may have any name).
AUTH_DIR, TLS_DIR = "/var/run/llm-router/auth", "/var/run/llm-router/tls"

# Kinds rendered with default values (the test Pod is the `helm test` hook).
DEFAULT_KINDS = Counter(
    {
        "Deployment": 2,
        "ServiceAccount": 2,
        "Role": 2,
        "RoleBinding": 2,
        "Service": 2,
        "PodDisruptionBudget": 1,
        "KopfPeering": 1,
        "Pod": 1,
    }
)
PRODUCTION_KINDS = DEFAULT_KINDS + Counter({"HorizontalPodAutoscaler": 1, "ServiceMonitor": 1, "NetworkPolicy": 2})
STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


@pytest.fixture(scope="module")
def default(render: Render) -> list[Doc]:
    return render(RELEASE, NAMESPACE)


@pytest.fixture(scope="module")
def production(render: Render) -> list[Doc]:
    return render(RELEASE, NAMESPACE, values=[PRODUCTION_VALUES])


@pytest.fixture(params=["default", "production"])
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    result: list[Doc] = request.getfixturevalue(request.param)
    return result


def router(docs: list[Doc]) -> Doc:
    return one(docs, "Deployment", FULLNAME)


def operator(docs: list[Doc]) -> Doc:
    return one(docs, "Deployment", f"{FULLNAME}-operator")


def container(deployment: Doc) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    """name -> value, or the fieldRef path for downward-API variables."""
    out: dict[str, Any] = {}
    for item in c["env"]:
        assert item["name"] not in out, f"{item['name']} set twice"
        out[item["name"]] = item.get("value", item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath"))
    return out


def test_lint_passes_strictly_with_default_and_production_values(helm: Helm) -> None:
    helm.run("lint", "--strict", str(CHART))
    helm.run("lint", "--strict", str(CHART), "-f", str(PRODUCTION_VALUES))


def test_default_values_render_the_base_objects(default: list[Doc]) -> None:
    assert Counter(d["kind"] for d in default) == DEFAULT_KINDS


def test_production_values_add_autoscaling_monitoring_and_network_policies(production: list[Doc]) -> None:
    assert Counter(d["kind"] for d in production) == PRODUCTION_KINDS
    # The HPA owns the replica count.
    assert "replicas" not in router(production)["spec"]
    hpa = one(production, "HorizontalPodAutoscaler", FULLNAME)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
    assert hpa["spec"]["minReplicas"] == 3
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert operator(production)["spec"]["replicas"] == 2


def test_every_name_derives_from_the_release_and_lives_in_its_namespace(docs: list[Doc]) -> None:
    names = Counter((d["kind"], d["metadata"]["name"]) for d in docs)
    assert all(n == 1 for n in names.values()), names
    for d in docs:
        meta = d["metadata"]
        assert meta["name"].startswith(FULLNAME), (d["kind"], meta["name"])
        assert meta["namespace"] == NAMESPACE, (d["kind"], meta["name"])
        assert not d["kind"].startswith("Cluster"), d["kind"]


def test_standard_labels_on_every_object_and_pod(docs: list[Doc]) -> None:
    for d in docs:
        labels = d["metadata"]["labels"]
        for key in STANDARD_LABELS:
            assert key in labels, (d["kind"], d["metadata"]["name"], key)
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/name"] == "llm-router"
    for deployment in by_kind(docs, "Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert set(STANDARD_LABELS) <= set(pod_labels)


def test_pods_run_non_root_with_a_read_only_root_filesystem(docs: list[Doc]) -> None:
    pod_specs = [d["spec"]["template"]["spec"] for d in by_kind(docs, "Deployment")] + [
        d["spec"] for d in by_kind(docs, "Pod")
    ]
    assert len(pod_specs) == 3
    for spec in pod_specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["runAsNonRoot"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert c["image"] == "ghcr.io/llm-router/llm-router:0.1.0"


def test_router_writes_only_to_emptydirs(docs: list[Doc]) -> None:
    spec = router(docs)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container(router(docs))["volumeMounts"]}
    snapshot_dir = env_of(container(router(docs)))["LLM_ROUTER_SNAPSHOT_DIR"]
    for path in ("/tmp", snapshot_dir):
        assert "emptyDir" in volumes[mounts[path]["name"]], path
        assert volumes[mounts[path]["name"]]["emptyDir"]["sizeLimit"]
    for path, mount in mounts.items():
        if path.startswith((SECRETS_DIR, AUTH_DIR, TLS_DIR)):
            assert mount["readOnly"] is True


def test_router_container_contract(docs: list[Doc]) -> None:
    c = container(router(docs))
    assert c["args"] == ["serve"]  # no --config: read the config from the cluster
    assert "command" not in c  # the image's entrypoint, llm-router
    env = env_of(c)
    assert env["LLM_ROUTER_NAMESPACE"] == "metadata.namespace"
    assert env["POD_NAME"] == "metadata.name"
    assert env["POD_UID"] == "metadata.uid"
    assert env["LLM_ROUTER_CONFIGMAP"] == CONFIGMAP
    assert env["LLM_ROUTER_SECRETS_DIR"] == SECRETS_DIR
    assert env["LLM_ROUTER_MODEL_DIR"] == "/models"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"grpc": 50051, "http": 8080}
    # Production values give a certificate: the probes speak TLS too (the kubelet does not verify it).
    scheme = "HTTPS" if "LLM_ROUTER_TLS_CERT" in env else "HTTP"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http", "scheme": scheme}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http", "scheme": scheme}
    assert c["startupProbe"]["httpGet"]["scheme"] == scheme
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    spec = router(docs)["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == FULLNAME


def test_operator_container_contract(docs: list[Doc]) -> None:
    c = container(operator(docs))
    assert c["command"] == ["python", "-m", "router_operator"]
    env = env_of(c)
    assert env["LLM_ROUTER_NAMESPACE"] == "metadata.namespace"
    assert env["LLM_ROUTER_CONFIGMAP"] == CONFIGMAP == env_of(container(router(docs)))["LLM_ROUTER_CONFIGMAP"]
    peering = one(docs, "KopfPeering", f"{FULLNAME}-operator")
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert env["LLM_ROUTER_PEERING"] == peering["metadata"]["name"]
    assert env["LLM_ROUTER_MODEL_DIR"] == "/models"
    spec = operator(docs)["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == f"{FULLNAME}-operator"
    # kopf's health endpoint, where the operator is told to serve it, behind every probe.
    assert env["LLM_ROUTER_LIVENESS"] == "http://0.0.0.0:8080/healthz"
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"health": 8080}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "health"}, probe


def test_policy_name_is_the_operators_policy(default: list[Doc], production: list[Doc]) -> None:
    assert env_of(container(operator(default)))["LLM_ROUTER_POLICY"] == "default"
    assert env_of(container(operator(production)))["LLM_ROUTER_POLICY"] == "production"


def test_provider_secrets_mount_read_only_under_the_secrets_dir(render: Render) -> None:
    docs = render(RELEASE, NAMESPACE, sets=["providerSecrets={openai-keys,anthropic.keys}"])
    spec = router(docs)["spec"]["template"]["spec"]
    secret_volumes = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"]
                      if "secret" in v and v["name"].startswith("provider-secret-")}
    assert sorted(secret_volumes.values()) == ["anthropic.keys", "openai-keys"]
    mounts = {m["name"]: m for m in container(router(docs))["volumeMounts"]}
    for volume, secret in secret_volumes.items():
        assert mounts[volume]["mountPath"] == f"{SECRETS_DIR}/{secret}"
        assert mounts[volume]["readOnly"] is True
    # The operator never mounts provider keys.
    assert all("secret" not in v for v in operator(docs)["spec"]["template"]["spec"]["volumes"])


def test_services_expose_grpc_and_http_to_the_router_pods(docs: list[Doc]) -> None:
    services = by_kind(docs, "Service")
    assert {s["metadata"]["name"] for s in services} == {FULLNAME, f"{FULLNAME}-headless"}
    pod_labels = router(docs)["spec"]["template"]["metadata"]["labels"]
    for svc in services:
        ports = {p["name"]: p for p in svc["spec"]["ports"]}
        assert set(ports) == {"grpc", "http"}
        assert ports["grpc"]["port"] == 50051 and ports["grpc"]["appProtocol"] == "grpc"
        assert ports["grpc"]["targetPort"] == "grpc"
        assert ports["http"]["port"] == 8080 and ports["http"]["targetPort"] == "http"
        assert svc["spec"]["selector"].items() <= pod_labels.items()
        assert svc["spec"]["selector"]["app.kubernetes.io/component"] == "router"
    assert one(docs, "Service", f"{FULLNAME}-headless")["spec"]["clusterIP"] == "None"


def test_disruption_budget_autoscaler_and_monitor_select_the_router(production: list[Doc]) -> None:
    pod_labels = router(production)["spec"]["template"]["metadata"]["labels"]
    pdb = one(production, "PodDisruptionBudget", FULLNAME)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    monitor = one(production, "ServiceMonitor", FULLNAME)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    # Exactly one of the two router Services is scraped.
    selector = monitor["spec"]["selector"]
    scraped = [
        s
        for s in by_kind(production, "Service")
        if selector["matchLabels"].items() <= s["metadata"]["labels"].items()
        and all(e["key"] not in s["metadata"]["labels"] for e in selector["matchExpressions"])
    ]
    assert [s["metadata"]["name"] for s in scraped] == [FULLNAME]


def test_network_policies_limit_router_ingress_to_its_ports(production: list[Doc]) -> None:
    pol = one(production, "NetworkPolicy", FULLNAME)
    assert pol["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "router"
    [rule] = pol["spec"]["ingress"]
    assert {p["port"] for p in rule["ports"]} == {"grpc", "http"}
    test_pod_labels = by_kind(production, "Pod")[0]["metadata"]["labels"]
    peers = [p["podSelector"]["matchLabels"] for p in rule["from"] if "podSelector" in p]
    assert any(peer.items() <= test_pod_labels.items() for peer in peers), "the helm test pod must reach the router"
    op = one(production, "NetworkPolicy", f"{FULLNAME}-operator")
    assert op["spec"]["ingress"] == [] and "Ingress" in op["spec"]["policyTypes"]


def rules_of(role: Doc) -> list[tuple[str, str, str, str | None]]:
    """(apiGroup, resource, verb, resourceName or None) for every combination a Role grants."""
    out = []
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    for name in rule.get("resourceNames") or [None]:
                        out.append((group, resource, verb, name))
    return out


def test_router_role_reads_only_its_config_and_writes_configmaps(docs: list[Doc]) -> None:
    grants = set(rules_of(one(docs, "Role", FULLNAME)))
    assert grants == {
        ("", "configmaps", "get", CONFIGMAP),
        ("", "configmaps", "list", CONFIGMAP),
        ("", "configmaps", "watch", CONFIGMAP),
        ("", "configmaps", "create", None),
        ("", "configmaps", "patch", None),
    }
    binding = one(docs, "RoleBinding", FULLNAME)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": FULLNAME}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}]


def test_operator_role_grants_what_the_operator_needs(docs: list[Doc]) -> None:
    name = f"{FULLNAME}-operator"
    grants = set(rules_of(one(docs, "Role", name)))
    needed = set()
    for resource in ("routingpolicies", "providertiers"):
        needed |= {("llmrouter.io", resource, v, None) for v in ("get", "list", "watch")}
        needed |= {("llmrouter.io", f"{resource}/status", "patch", None)}
    needed |= {("", "configmaps", v, None) for v in ("get", "list", "watch", "create", "update")}
    # Only the Secrets the routers mount: a tier naming another is refused, as routers could not read it.
    mounted = {v["secret"]["secretName"] for v in router(docs)["spec"]["template"]["spec"]["volumes"]
               if "secret" in v and v["name"].startswith("provider-secret-")}
    needed |= {("", "secrets", v, n) for v in ("get", "list", "watch") for n in mounted}
    needed |= {("", "events", "create", None)}
    needed |= {("kopf.dev", "kopfpeerings", v, None) for v in ("get", "list", "watch", "patch")}
    assert grants == needed
    binding = one(docs, "RoleBinding", name)
    assert binding["roleRef"]["name"] == name
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]


def test_helm_test_hook_checks_readiness_and_grpc_health(docs: list[Doc]) -> None:
    [pod] = by_kind(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    [c] = pod["spec"]["containers"]
    python, flag, script, host, auth, tls = c["command"]
    assert (python, flag) == ("python", "-c")
    assert host == f"{FULLNAME}.{NAMESPACE}.svc"
    # The test pod checks what the router was given: auth on in both, TLS in production only.
    assert auth == "true"
    assert tls == ("true" if "LLM_ROUTER_TLS_CERT" in env_of(container(router(docs))) else "false")
    compile(script, "helm-test", "exec")  # valid Python
    for needle in ("/readyz", ":8080", ":50051", "grpc_health", "SERVING"):
        assert needle in script


def test_examples_are_valid_router_manifests(render: Render, tmp_path: Path) -> None:
    docs = render(RELEASE, NAMESPACE, sets=["examples.enabled=true", "policy.name=main"])
    examples = [d for d in docs if d["apiVersion"] == "llmrouter.io/v1alpha1"]
    assert Counter(d["kind"] for d in examples) == Counter({"RoutingPolicy": 1, "ProviderTier": 3})
    assert one(docs, "RoutingPolicy", "main")["metadata"]["namespace"] == NAMESPACE
    # The same loader `llm-router serve --config` uses accepts them as they are.
    for i, d in enumerate(examples):
        (tmp_path / f"{i:02d}.yaml").write_text(yaml.safe_dump(d))
    config = load_config(tmp_path)
    assert config.policy.name == "main"
    assert sorted(t.tier for t in config.tiers) == [1, 2, 3]


def test_examples_are_off_by_default(default: list[Doc], production: list[Doc]) -> None:
    for docs in (default, production):
        assert not [d for d in docs if d["apiVersion"].startswith("llmrouter.io/")]


def test_two_releases_share_no_object_name_in_one_namespace(render: Render) -> None:
    a = render("blue", NAMESPACE, values=[PRODUCTION_VALUES])
    b = render("green", NAMESPACE, values=[PRODUCTION_VALUES])
    names_a = {(d["kind"], d["metadata"]["name"]) for d in a}
    names_b = {(d["kind"], d["metadata"]["name"]) for d in b}
    assert not names_a & names_b
    # Nor do their pods select each other's.
    selectors_a = [d["spec"]["selector"]["matchLabels"] for d in by_kind(a, "Deployment")]
    for d in by_kind(b, "Deployment"):
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert not any(s.items() <= labels.items() for s in selectors_a)


def test_values_file_and_schema_describe_the_same_keys() -> None:
    """Every value is in the schema (the schema is strict) and every schema key has a default."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node: dict[str, Any], value: Any, path: str) -> None:
        # Shared definitions ($ref) are Kubernetes-shaped types (resources, EnvVar lists): not ours.
        props = node.get("properties")
        if "$ref" in node or props is None or node.get("additionalProperties") is not False:
            return
        assert isinstance(value, dict), path
        declared = set(props) - {"global"}
        assert set(value) == declared, f"{path or '<top>'}: values {sorted(value)} schema {sorted(declared)}"
        for key in value:
            walk(props[key], value[key], f"{path}.{key}".lstrip("."))

    walk(schema, values, "")


def test_scheduling_and_pull_values_reach_the_pods(render: Render) -> None:
    docs = render(
        RELEASE,
        NAMESPACE,
        sets=[
            "imagePullSecrets={regcred}",
            "image.tag=9.9.9",
            "image.pullPolicy=Always",
            "router.nodeSelector.pool=routers",
            "router.podAnnotations.team=search",
            "operator.tolerations[0].key=dedicated",
            "operator.tolerations[0].operator=Exists",
            "operator.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".nodeSelectorTerms[0].matchExpressions[0].key=arch",
            "operator.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        ],
    )
    r, o = router(docs)["spec"]["template"], operator(docs)["spec"]["template"]
    [test_pod] = by_kind(docs, "Pod")
    for spec in (r["spec"], o["spec"], test_pod["spec"]):
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        [c] = spec["containers"]
        assert c["image"].endswith(":9.9.9") and c["imagePullPolicy"] == "Always"
    assert r["spec"]["nodeSelector"] == {"pool": "routers"}
    assert r["metadata"]["annotations"] == {"team": "search"}
    assert "nodeSelector" not in o["spec"] and "annotations" not in o["metadata"]
    assert o["spec"]["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert "nodeAffinity" in o["spec"]["affinity"]


# -- caller identity and TLS ------------------------------------------------------------------


def volume_of(deployment: Doc, name: str) -> dict[str, Any] | None:
    found = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == name]
    return found[0] if found else None


def test_auth_is_on_by_default_with_the_keys_secret_mounted_whole(default: list[Doc]) -> None:
    d = router(default)
    c = container(d)
    assert env_of(c)["LLM_ROUTER_API_KEYS"] == f"{AUTH_DIR}/api-keys.yaml"
    volume = volume_of(d, "api-keys")
    assert volume is not None and volume["secret"]["secretName"] == f"{FULLNAME}-api-keys"
    assert "optional" not in volume["secret"]  # no keys Secret, no router: never an open one
    [mount] = [m for m in c["volumeMounts"] if m["name"] == "api-keys"]
    # A subPath mount would never see the Secret change: keys could not be rotated or revoked.
    assert mount == {"name": "api-keys", "mountPath": AUTH_DIR, "readOnly": True}
    # No certificate given: plaintext, nothing about TLS.
    assert volume_of(d, "tls") is None and "LLM_ROUTER_TLS_CERT" not in env_of(c)


def test_auth_secret_name_and_key_are_configurable_and_auth_can_be_turned_off(render: Render) -> None:
    d = router(render(RELEASE, NAMESPACE, sets=["auth.secretName=callers", "auth.secretKey=keys.json"]))
    assert env_of(container(d))["LLM_ROUTER_API_KEYS"] == f"{AUTH_DIR}/keys.json"
    volume = volume_of(d, "api-keys")
    assert volume is not None and volume["secret"]["secretName"] == "callers"
    off = render(RELEASE, NAMESPACE, sets=["auth.enabled=false"])
    c = container(router(off))
    assert "LLM_ROUTER_API_KEYS" not in env_of(c) and volume_of(router(off), "api-keys") is None
    assert all(m["name"] != "api-keys" for m in c["volumeMounts"])
    [pod] = by_kind(off, "Pod")
    assert pod["spec"]["containers"][0]["command"][4] == "false"


def test_tls_secret_reaches_both_ports_probes_monitor_and_test_pod(render: Render) -> None:
    docs = render(RELEASE, NAMESPACE, sets=["tls.secretName=router-tls", "metrics.serviceMonitor.enabled=true"])
    d = router(docs)
    c = container(d)
    env = env_of(c)
    assert (env["LLM_ROUTER_TLS_CERT"], env["LLM_ROUTER_TLS_KEY"]) == (f"{TLS_DIR}/tls.crt", f"{TLS_DIR}/tls.key")
    volume = volume_of(d, "tls")
    assert volume is not None and volume["secret"]["secretName"] == "router-tls"
    assert {"name": "tls", "mountPath": TLS_DIR, "readOnly": True} in c["volumeMounts"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["scheme"] == "HTTPS", probe
    [endpoint] = one(docs, "ServiceMonitor", FULLNAME)["spec"]["endpoints"]
    assert endpoint["scheme"] == "https" and endpoint["tlsConfig"] == {"insecureSkipVerify": True}
    [pod] = by_kind(docs, "Pod")
    [check] = pod["spec"]["containers"]
    assert check["command"][5] == "true"
    assert {"name": "tls", "mountPath": TLS_DIR, "readOnly": True} in check["volumeMounts"]
    assert pod["spec"]["volumes"] == [{"name": "tls", "secret": {"secretName": "router-tls"}}]
    verified = render(RELEASE, NAMESPACE, sets=["tls.secretName=router-tls", "metrics.serviceMonitor.enabled=true",
                                                "metrics.serviceMonitor.tlsConfig.serverName=r.svc"])
    [endpoint] = one(verified, "ServiceMonitor", FULLNAME)["spec"]["endpoints"]
    assert endpoint["tlsConfig"] == {"serverName": "r.svc"}


def test_without_tls_the_monitor_scrapes_plain_http(production: list[Doc], render: Render) -> None:
    docs = render(RELEASE, NAMESPACE, sets=["metrics.serviceMonitor.enabled=true"])
    [endpoint] = one(docs, "ServiceMonitor", FULLNAME)["spec"]["endpoints"]
    assert "scheme" not in endpoint and "tlsConfig" not in endpoint


def test_production_values_turn_on_auth_and_tls(production: list[Doc]) -> None:
    env = env_of(container(router(production)))
    assert env["LLM_ROUTER_API_KEYS"] == f"{AUTH_DIR}/api-keys.yaml"
    assert env["LLM_ROUTER_TLS_CERT"] == f"{TLS_DIR}/tls.crt"
    keys, tls = volume_of(router(production), "api-keys"), volume_of(router(production), "tls")
    assert keys is not None and keys["secret"]["secretName"] == "llm-router-api-keys"
    assert tls is not None and tls["secret"]["secretName"] == "llm-router-tls"
