"""The test control plane is real: namespaces, CRDs and custom objects, RBAC, the pinned version."""

from __future__ import annotations

import json
import secrets
import subprocess

from support.kube import KubeCluster, pinned_versions
from support.probes import wait_for

GROUP = "smoke.llmrouter.test"

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1},
                                    "colour": {"type": "string"},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def _install_crd(cluster: KubeCluster) -> None:
    cluster.apply(CRD)
    cluster.kubectl("wait", "--for=condition=Established", f"crd/widgets.{GROUP}", "--timeout=60s")


def test_namespace_crd_and_custom_object(kube_cluster: KubeCluster) -> None:
    ns = f"smoke-{secrets.token_hex(4)}"
    kube_cluster.kubectl("create", "namespace", ns)
    assert kube_cluster.get_json("namespace", ns)["status"]["phase"] == "Active"

    _install_crd(kube_cluster)
    kube_cluster.apply(
        f"""
apiVersion: {GROUP}/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
  colour: blue
""",
        namespace=ns,
    )
    obj = kube_cluster.get_json("widgets", "w1", "-n", ns)
    assert obj["kind"] == "Widget"
    assert obj["spec"] == {"size": 3, "colour": "blue"}
    assert obj["metadata"]["namespace"] == ns

    # The apiserver validates against the CRD's schema.
    bad = kube_cluster.kubectl(
        "apply",
        "-n",
        ns,
        "-f",
        "-",
        input=json.dumps(
            {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": 0}}
        ),
        check=False,
    )
    assert bad.returncode != 0
    assert "spec.size" in bad.stderr


def test_version_is_the_pinned_one(kube_cluster: KubeCluster) -> None:
    pinned = pinned_versions()["KUBERNETES_VERSION"]
    v = json.loads(kube_cluster.kubectl("version", "-o", "json").stdout)
    assert v["serverVersion"]["gitVersion"] == pinned
    assert v["clientVersion"]["gitVersion"] == pinned
    major, minor = pinned.lstrip("v").split(".")[:2]
    assert (v["serverVersion"]["major"], v["serverVersion"]["minor"]) == (major, minor)


def test_rbac_is_enforced(kube_cluster: KubeCluster, kube_namespace: str) -> None:
    _install_crd(kube_cluster)
    # Impersonation: the admin (system:masters) may, a plain user may not until bound.
    can_i = ("auth", "can-i", "list", f"widgets.{GROUP}", "-n", kube_namespace)
    assert kube_cluster.kubectl(*can_i).stdout.strip() == "yes"
    assert kube_cluster.kubectl(*can_i, "--as=alice", check=False).stdout.strip() == "no"

    # A real service-account token from the TokenRequest API.
    sa = kube_cluster.service_account_kubeconfig(kube_namespace, "router")
    denied = kube_cluster.kubectl("get", "widgets", kubeconfig=sa, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()

    ns = ("-n", kube_namespace)
    kube_cluster.kubectl("create", "role", "widget-reader", *ns, "--verb=get,list", f"--resource=widgets.{GROUP}")
    subject = f"--serviceaccount={kube_namespace}:router"
    kube_cluster.kubectl("create", "rolebinding", "router-reads-widgets", *ns, "--role=widget-reader", subject)

    # The authorizer reads bindings from an informer cache: wait for it to see this one.
    def reads() -> subprocess.CompletedProcess[str] | None:
        done = kube_cluster.kubectl("get", "widgets", "-o", "name", kubeconfig=sa, check=False)
        return None if done.returncode else done

    assert wait_for(reads, "the role binding to admit the service account").stdout.strip() == ""
    # Reading is not writing.
    write = kube_cluster.kubectl("create", "configmap", "x", kubeconfig=sa, check=False)
    assert write.returncode != 0
