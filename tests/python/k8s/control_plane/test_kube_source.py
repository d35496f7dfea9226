"""`KubeSource` against the real apiserver, with the router's least-privilege service account:
an update for each change of its ConfigMap, across watch restarts, config formats it cannot
read refused by name, and replica reports."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from control_plane_env import CONFIGMAP, Env

from router_py.config.kube_client import KubeClient, connection_config
from router_py.config.kube_source import (
    ABSENT,
    FORMAT_ANNOTATION,
    REPLICA_STATUS_LABEL,
    Backoff,
    KubeSource,
    KubeSourceSettings,
    status_configmap_name,
)
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.source import BreakerReport, ConfigUpdate, ReplicaStatus

pytestmark = pytest.mark.anyio
WAIT_S = 30.0  # only how long a broken test hangs: nothing here is timed


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def client(kubeconfig: Path | str) -> KubeClient:
    return KubeClient(connection_config({"KUBECONFIG": str(kubeconfig)}))


def source(env: Env, kubeconfig: Path | None = None, watch_timeout_s: int = 300) -> KubeSource:
    settings = KubeSourceSettings(namespace=env.namespace, replica="router-0")
    return KubeSource(client(kubeconfig or env.router_kubeconfig), settings, watch_timeout_s=watch_timeout_s)


def configmap(revision: str, data: dict[str, str], **annotations: str) -> str:
    metadata = {"name": CONFIGMAP, "annotations": {"llmrouter.io/revision": revision, **annotations}}
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})


async def write(env: Env, manifest: str) -> None:
    """As the operator would, with kubectl (the admin), off the event loop."""
    await anyio.to_thread.run_sync(lambda: env.kubectl("apply", "-f", "-", input=manifest))


class Follower:
    """Consumes `updates()` in a task, as the router does, so a test can wait for the next one
    with a deadline without cancelling the generator."""

    def __init__(self, router: KubeSource) -> None:
        self.router = router
        self.send, self.received = anyio.create_memory_object_stream[ConfigUpdate](16)

    async def run(self) -> None:
        async for update in self.router.updates():
            await self.send.send(update)

    async def next(self) -> ConfigUpdate:
        with anyio.fail_after(WAIT_S):
            return await self.received.receive()


@asynccontextmanager
async def follow(router: KubeSource) -> AsyncIterator[Follower]:
    follower = Follower(router)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(follower.run)
        try:
            yield follower
        finally:
            tasks.cancel_scope.cancel()
    await router.aclose()


async def test_updates_follow_the_configmap(env: Env) -> None:
    config = load_config(embedded_default_dir())
    changed = config.model_copy(update={"policy": config.policy.model_copy(update={"log_prompts": True})})
    # watches end every second here: changes must survive that, whenever they come
    async with follow(source(env, watch_timeout_s=1)) as router:
        first = await router.next()
        assert (first.revision, first.config) == (ABSENT, None)
        assert first.error == f"ConfigMap {env.namespace}/{CONFIGMAP} not found"

        await write(env, configmap("1", {"config.json": config.to_core_json()}))
        assert await router.next() == ConfigUpdate(revision="1", config=config)

        await write(env, configmap("2", {"config.json": changed.to_core_json()}))
        assert await router.next() == ConfigUpdate(revision="2", config=changed)

        # metadata only, same revision: nothing for the router to do, so the next update it
        # sees is the change after it
        await write(env, configmap("2", {"config.json": changed.to_core_json()}, note="touched"))
        await write(env, configmap("3", {"config.json": '{"policy": {}}'}))
        broken = await router.next()
        assert broken.revision == "3" and broken.config is None
        assert broken.error == f"ConfigMap {env.namespace}/{CONFIGMAP} config.json: policy.name: Field required"

        await anyio.to_thread.run_sync(lambda: env.kubectl("delete", "configmap", CONFIGMAP))
        gone = await router.next()
        assert (gone.revision, gone.config) == (ABSENT, None)


async def test_a_config_format_the_router_cannot_read_is_refused_by_name(env: Env) -> None:
    """A newer operator's format during a rolling upgrade: an update with the error, no config
    (`RouterService.apply` keeps the live one and reports the error); the format before formats
    were marked (no annotation) is read as v1."""
    config = load_config(embedded_default_dir())
    await write(env, configmap("1", {"config.json": config.to_core_json()}))
    async with follow(source(env)) as router:
        assert await router.next() == ConfigUpdate(revision="1", config=config)
        newer = {"config.json": '{"policy": {"a field v1 has not": 1}}'}
        await write(env, configmap("2", newer, **{FORMAT_ANNOTATION: "v2"}))
        refused = await router.next()
        assert (refused.revision, refused.config) == ("2", None)
        assert refused.error == (
            f"ConfigMap {env.namespace}/{CONFIGMAP} is in config format 'v2'; this router reads 'v1' only "
            "(published by a newer operator? upgrade the routers)"
        )
        await write(env, configmap("3", {"config.json": config.to_core_json()}, **{FORMAT_ANNOTATION: "v1"}))
        assert await router.next() == ConfigUpdate(revision="3", config=config)


async def test_the_current_config_comes_first(env: Env) -> None:
    config = load_config(embedded_default_dir())
    await write(env, configmap("7", {"config.json": config.to_core_json()}))
    async with follow(source(env)) as router:
        assert await router.next() == ConfigUpdate(revision="7", config=config)


def status(replica: str) -> ReplicaStatus:
    return ReplicaStatus(
        replica=replica,
        policy_name="default",
        policy_version=42,
        revision="1",
        last_error=None,
        breakers=[BreakerReport(provider="sim-fast-a", state="open", since_unix_ms=1, consecutive_failures=5)],
        reported_unix_ms=2,
    )


async def test_report_writes_and_rewrites_the_replica_configmap(env: Env) -> None:
    router = source(env)
    try:
        await router.report(status("router-0"))
        await router.report(status("router-0").model_copy(update={"reported_unix_ms": 3}))
    finally:
        await router.aclose()
    written = env.get("configmap", status_configmap_name(CONFIGMAP, "router-0"))
    assert written["metadata"]["labels"] == {REPLICA_STATUS_LABEL: CONFIGMAP}
    assert ReplicaStatus.model_validate_json(written["data"]["status.json"]).reported_unix_ms == 3


async def test_a_pod_owns_its_report(env: Env) -> None:
    settings = KubeSourceSettings(namespace=env.namespace, replica="router-1", pod_uid="0b1c2d3e")
    router = KubeSource(client(env.router_kubeconfig), settings)
    try:
        await router.report(status("router-1"))
    finally:
        await router.aclose()
    owners = env.get("configmap", status_configmap_name(CONFIGMAP, "router-1"))["metadata"]["ownerReferences"]
    assert owners == [{"apiVersion": "v1", "kind": "Pod", "name": "router-1", "uid": "0b1c2d3e"}]


async def test_a_failed_report_is_logged_not_raised(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    nobody = env.cluster.service_account_kubeconfig(env.namespace, "nobody")
    router = source(env, nobody)
    try:
        with caplog.at_level(logging.WARNING, logger="llm_router.config.kube"):
            await router.report(status("router-0"))
    finally:
        await router.aclose()
    (record,) = caplog.records
    assert record.getMessage() == "replica status not reported"
    assert "403 Forbidden" in record.__dict__["error"]


async def test_from_env_with_two_kubeconfig_files_and_an_exec_plugin(env: Env) -> None:
    """The router as a user of EKS or GKE runs it outside the cluster: its namespace from the
    context, its token from the plugin, its config followed and its report written."""
    token = env.cluster.service_account_token(env.namespace, "llm-router")
    files = env.cluster.exec_plugin_kubeconfig(env.workdir / "exec", token, namespace=env.namespace)
    config = load_config(embedded_default_dir())
    await write(env, configmap("1", {"config.json": config.to_core_json()}))
    router = KubeSource.from_env({"KUBECONFIG": files.kubeconfig, "POD_NAME": "router-9"})
    assert router.settings.namespace == env.namespace
    async with follow(router) as follower:
        assert await follower.next() == ConfigUpdate(revision="1", config=config)
        await router.report(status("router-9"))
    assert env.get("configmap", status_configmap_name(CONFIGMAP, "router-9"))["data"]["status.json"]
    assert files.plugin_runs() == 1


async def test_from_env_reads_the_kubeconfig_namespace_and_pod(env: Env) -> None:
    router = KubeSource.from_env({"KUBECONFIG": str(env.router_kubeconfig), "POD_NAME": "router-7"})
    try:
        assert router.settings == KubeSourceSettings(namespace=env.namespace, configmap=CONFIGMAP, replica="router-7")
    finally:
        await router.aclose()


async def test_an_unreachable_api_is_retried_with_backoff(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    unreachable = tmp_path / "config"
    unreachable.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    router = KubeSource(
        client(unreachable), KubeSourceSettings(namespace="ns", replica="r"), backoff=Backoff(first_s=0.01, max_s=0.02)
    )

    def retries() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage() == "config watch failed; retrying"]

    with caplog.at_level(logging.WARNING, logger="llm_router.config.kube"):
        async with follow(router):
            with anyio.fail_after(WAIT_S):
                while len(retries()) < 3:
                    await anyio.sleep(0.01)
    assert "ConnectError" in retries()[0].__dict__["error"]
