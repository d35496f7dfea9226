"""`KubeClient` (lightkube) against the real apiserver: logged in as a kubectl user would be (two
kubeconfig files in KUBECONFIG, an exec credential plugin), typed objects, errors that name the
call, and `follow` of one named object."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from router_operator.handlers import connection_info

from router_py.config.kube_client import (
    KubeApiError,
    KubeClient,
    KubeUnavailable,
    connection_config,
)
from router_py.config.kube_objects import CONFIGMAPS, ConfigMap, ObjectMeta
from support.kube import KubeCluster

pytestmark = pytest.mark.anyio
WAIT_S = 30.0  # only how long a broken test hangs: nothing here is timed


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def admin(cluster: KubeCluster) -> KubeClient:
    return KubeClient(connection_config({"KUBECONFIG": str(cluster.kubeconfig)}))


def configmap(namespace: str, name: str, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace), data=data)


async def test_two_kubeconfig_files_and_an_exec_plugin(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    files = kube_cluster.exec_plugin_kubeconfig(tmp_path, kube_cluster.token, namespace="default")
    async with KubeClient(connection_config({"KUBECONFIG": files.kubeconfig})) as client:
        assert client.namespace == "default"
        await client.list(CONFIGMAPS, ConfigMap, "default")
        await client.list(CONFIGMAPS, ConfigMap, "kube-system")
    assert files.plugin_runs() == 1, "the plugin's token is kept while the server accepts it"


async def test_kopf_logs_in_with_the_plugins_token(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    files = kube_cluster.exec_plugin_kubeconfig(tmp_path, kube_cluster.token)
    info = await connection_info(connection_config({"KUBECONFIG": files.kubeconfig}))
    assert (info.scheme, info.token, info.server) == ("Bearer", kube_cluster.token, kube_cluster.server)
    assert info.ca_path == str(tmp_path / "cluster" / "ca.crt")
    info.as_ssl_context()  # loads the CA, as kopf will


async def test_create_get_replace_apply_and_typed_errors(kube_cluster: KubeCluster) -> None:
    ns = kube_cluster.create_namespace("client")
    async with admin(kube_cluster) as client:
        await client.create(CONFIGMAPS, configmap(ns, "a", k="1"))
        read = await client.get(CONFIGMAPS, ConfigMap, ns, "a")
        assert read.data == {"k": "1"} and read.metadata.resource_version

        await client.replace(CONFIGMAPS, read.model_copy(update={"data": {"k": "2"}}))
        with pytest.raises(KubeApiError) as stale:  # the resourceVersion read is gone
            await client.replace(CONFIGMAPS, read)
        assert stale.value.code == 409 and f"PUT /api/v1/namespaces/{ns}/configmaps/a: 409" in str(stale.value)

        await client.apply(CONFIGMAPS, configmap(ns, "b", k="3"), field_manager="test")
        listing = await client.list(CONFIGMAPS, ConfigMap, ns, name="b")
        assert [c.data for c in listing.items] == [{"k": "3"}]

        with pytest.raises(KubeApiError) as missing:
            await client.get(CONFIGMAPS, ConfigMap, ns, "absent")
        assert missing.value.not_found


async def test_a_refusal_names_the_call_and_the_reason(kube_cluster: KubeCluster) -> None:
    ns = kube_cluster.create_namespace("refused")
    nobody = kube_cluster.service_account_kubeconfig(ns, "nobody")
    async with KubeClient(connection_config({"KUBECONFIG": str(nobody)})) as client:
        with pytest.raises(KubeApiError) as refused:
            await client.list(CONFIGMAPS, ConfigMap, ns)
    assert refused.value.forbidden
    assert str(refused.value).startswith(f"LIST /api/v1/namespaces/{ns}/configmaps: 403 Forbidden: ")


async def test_an_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    async with KubeClient(connection_config({"KUBECONFIG": str(path)})) as client:
        with pytest.raises(KubeUnavailable, match=r"^GET /api/v1/namespaces/ns/configmaps/x: ConnectError"):
            await client.get(CONFIGMAPS, ConfigMap, "ns", "x")


async def test_follow_sees_creation_change_and_deletion(kube_cluster: KubeCluster) -> None:
    ns = kube_cluster.create_namespace("follow")
    async with admin(kube_cluster) as client:
        seen = client.follow(CONFIGMAPS, ConfigMap, ns, "watched", server_timeout_s=1)

        async def next_state(changes: AsyncIterator[ConfigMap | None]) -> ConfigMap | None:
            with anyio.fail_after(WAIT_S):
                return await anext(changes)

        assert await next_state(seen) is None
        await client.create(CONFIGMAPS, configmap(ns, "other", k="ignored"))
        await client.create(CONFIGMAPS, configmap(ns, "watched", k="1"))
        created = await next_state(seen)
        assert created is not None and created.data == {"k": "1"}
        await client.replace(CONFIGMAPS, created.model_copy(update={"data": {"k": "2"}}))
        changed = await next_state(seen)
        assert changed is not None and changed.data == {"k": "2"}
        await anyio.to_thread.run_sync(lambda: kube_cluster.kubectl("delete", "configmap", "watched", "-n", ns))
        assert await next_state(seen) is None
        await seen.aclose()
