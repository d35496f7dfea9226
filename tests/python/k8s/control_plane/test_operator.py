"""The operator against a real apiserver: `python -m router_operator` with its least-privilege
service account, objects applied with kubectl as a user would."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import pytest
from control_plane_env import EXAMPLES, PEERING, Env, OperatorProcess

from router_py.config.kube_client import KubeClient, connection_config
from router_py.config.kube_source import KubeSource, KubeSourceSettings
from router_py.config.schema import RouterConfig
from router_py.config.source import BreakerReport, ReplicaStatus
from support.probes import wait_for

OBJECTS = ["rpol/default", "ptier/tier-1-fast", "ptier/tier-2-smart", "ptier/tier-3-reasoning"]


def all_live(env: Env) -> None:
    for obj in OBJECTS:
        env.wait_condition(obj, "Accepted", "True", "Valid")
        env.wait_condition(obj, "Live", "True", "Published")


def revision(env: Env) -> str:
    configmap = env.configmap()
    assert configmap is not None
    return str(configmap["metadata"]["annotations"]["llmrouter.io/revision"])


def test_examples_become_accepted_live_and_published(env: Env) -> None:
    env.kubectl("apply", "-f", str(EXAMPLES))
    env.operator()
    all_live(env)
    configmap = env.configmap()
    assert configmap is not None
    assert configmap["metadata"]["annotations"]["llmrouter.io/revision"] == "1"
    config = RouterConfig.model_validate_json(configmap["data"]["config.json"])
    assert config.policy.name == "default" and [t.name for t in config.tiers] == ["fast", "smart", "reasoning"]
    table = env.kubectl("get", "ptier").stdout.splitlines()
    assert table[0].split() == ["NAME", "TIER", "ACCEPTED", "LIVE", "OPEN", "BREAKERS", "AGE"]
    assert table[1].split()[:5] == ["tier-1-fast", "1", "True", "True", "0"]
    assert env.kubectl("get", "rpol").stdout.splitlines()[1].split()[:4] == ["default", "True", "True", "1"]
    # `kubectl get llmrouter` lists both kinds (the category)
    assert len(env.kubectl("get", "llmrouter", "-o", "name").stdout.split()) == 4


def provider_spec(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "model": "m",
        "baseUrl": "http://127.0.0.1:9000/v1",
        "region": "us-east-1",
        "priceInputPerMtok": 1,
        "priceOutputPerMtok": 1,
        **fields,
    }


def tier(*providers: dict[str, Any], number: int = 1) -> str:
    spec = {"tier": number, "name": "t", "providers": list(providers)}
    return json.dumps(
        {"apiVersion": "llmrouter.io/v1alpha1", "kind": "ProviderTier", "metadata": {"name": "t"}, "spec": spec}
    )


def policy(**spec: Any) -> str:
    return json.dumps(
        {"apiVersion": "llmrouter.io/v1alpha1", "kind": "RoutingPolicy", "metadata": {"name": "default"}, "spec": spec}
    )


REFUSED = {
    "tier-number": (
        tier(provider_spec("a"), number=4),
        "spec.tier: Invalid value: 4: spec.tier in body should be less than or equal to 3",
    ),
    "base-url": (tier(provider_spec("a", baseUrl="ftp://files")), "spec.providers[0].baseUrl in body should match"),
    "key-ref-pattern": (
        tier(provider_spec("a", apiKeyRef="sk-live-123")),
        "spec.providers[0].apiKeyRef: Invalid value",
    ),
    "unknown-field": (tier(provider_spec("a", surprise=True)), 'unknown field "spec.providers[0].surprise"'),
    "no-providers": (tier(), "spec.providers in body should have at least 1 items"),
    "duplicate-provider": (tier(provider_spec("a"), provider_spec("a")), "spec.providers[1]: Duplicate value"),
    "tier-window": (
        policy(overrides={"tenants": [{"name": "x", "tenant": "t", "minTier": 3, "maxTier": 1}]}),
        "maxTier is below minTier",
    ),
    "empty-window": (policy(overrides={"users": [{"name": "x", "user": "u"}]}), "sets neither minTier nor maxTier"),
    "reserved-rule-name": (
        policy(overrides={"domains": [{"name": "hint", "domain": "legal", "minTier": 3}]}),
        "'hint' is reserved",
    ),
    "no-regions": (
        policy(overrides={"residency": [{"name": "eu", "allowedRegions": []}]}),
        "allowedRegions in body should have at least 1 items",
    ),
    "self-shadow": (policy(shadowPolicy="default"), "a RoutingPolicy cannot be its own shadow"),
    "cascade-depth": (policy(cascade={"maxDepth": 3}), "spec.cascade.maxDepth: Invalid value: 3"),
}


@pytest.mark.parametrize(("manifest", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_the_apiserver_refuses_what_the_schema_and_cel_rules_refuse(env: Env, manifest: str, message: str) -> None:
    refused = env.kubectl("apply", "-f", "-", input=manifest, check=False)
    assert refused.returncode != 0
    assert message in refused.stderr, refused.stderr


def test_an_invalid_change_is_not_accepted_and_the_config_stays(env: Env) -> None:
    env.kubectl("apply", "-f", str(EXAMPLES))
    env.operator()
    all_live(env)
    before = env.configmap()
    assert before is not None
    env.kubectl(
        "patch",
        "rpol",
        "default",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"overrides": {"domains": [{"name": "stars", "domain": "astrology", "minTier": 3}]}}}),
    )
    accepted = env.wait_condition("rpol/default", "Accepted", "False", "RejectedByCore")
    assert accepted["message"].startswith("spec.overrides.domains[0].domain: unknown domain 'astrology'")
    assert accepted["observedGeneration"] == 2
    live = env.wait_condition("rpol/default", "Live", "False", "Pending")
    assert live["message"].endswith("routers keep generation 1 (revision 1)")
    assert env.configmap() == before, "the routers' config must not change"

    # the previous content again: accepted, live, and the routers need not reload
    env.kubectl("apply", "-f", str(EXAMPLES))
    wait_for(
        lambda: (c := env.condition("rpol/default", "Live")) and c["status"] == "True" and c["observedGeneration"] == 3,
        "generation 3 live",
    )
    assert revision(env) == "1"


def test_a_missing_secret_holds_the_tier_until_it_exists(env: Env) -> None:
    env.kubectl("apply", "-f", str(EXAMPLES))
    env.kubectl(
        "patch",
        "ptier",
        "tier-3-reasoning",
        "--type=json",
        "-p",
        json.dumps([{"op": "add", "path": "/spec/providers/1/apiKeyRef", "value": "secret:reasoning-keys/api-key"}]),
    )
    env.operator()
    refused = env.wait_condition("ptier/tier-3-reasoning", "Accepted", "False", "SecretMissing")
    assert refused["message"] == "spec.providers[1].apiKeyRef: no Secret 'reasoning-keys'"
    waiting = env.wait_condition("rpol/default", "Accepted", "Unknown", "TiersIncomplete")
    assert waiting["message"] == "not compiled: no accepted ProviderTier for tier 3"
    assert env.configmap() is None, "nothing is published without all three tiers"

    env.kubectl("create", "secret", "generic", "reasoning-keys", "--from-literal=api-key=not-a-real-key")
    all_live(env)
    config = RouterConfig.model_validate_json(env.configmap()["data"]["config.json"])  # type: ignore[index]
    assert config.tiers[2].providers[1].api_key_ref == "secret:reasoning-keys/api-key"

    # The operator watches this Secret by name (all its Role allows): a key taken out is seen.
    env.kubectl("patch", "secret", "reasoning-keys", "--type=json", "-p", '[{"op": "remove", "path": "/data/api-key"}]')
    refused = env.wait_condition("ptier/tier-3-reasoning", "Accepted", "False", "SecretMissing")
    assert refused["message"] == "spec.providers[1].apiKeyRef: no key 'api-key' in Secret 'reasoning-keys'"


def test_a_secret_outside_the_operators_role_holds_the_tier(env: Env) -> None:
    """The Role names the Secrets the routers mount (the chart's providerSecrets); one it does not
    name is refused like a missing one, however it exists, and the operator says why."""
    env.kubectl("create", "secret", "generic", "unlisted-keys", "--from-literal=api-key=not-a-real-key")
    env.kubectl("apply", "-f", str(EXAMPLES))
    env.kubectl(
        "patch",
        "ptier",
        "tier-3-reasoning",
        "--type=json",
        "-p",
        json.dumps([{"op": "add", "path": "/spec/providers/1/apiKeyRef", "value": "secret:unlisted-keys/api-key"}]),
    )
    operator = env.operator()
    refused = env.wait_condition("ptier/tier-3-reasoning", "Accepted", "False", "SecretMissing")
    assert refused["message"] == "spec.providers[1].apiKeyRef: no Secret 'unlisted-keys'"
    said = wait_for(
        lambda: [e for e in operator.logs() if e["msg"].startswith("secret not readable by the operator")],
        "the operator to say the Secret is not readable",
    )
    assert said[0]["secret"] == "unlisted-keys" and "403 Forbidden" in said[0]["error"]


def test_the_operator_logs_in_with_an_exec_plugin_from_two_kubeconfig_files(env: Env) -> None:
    """As on EKS or GKE: the cluster in one file, the user in another, the token from a plugin;
    both the operator's own calls and kopf's watches use it."""
    token = env.cluster.service_account_token(env.namespace, "llm-router-operator")
    files = env.cluster.exec_plugin_kubeconfig(env.workdir / "exec", token, namespace=env.namespace)
    env.kubectl("apply", "-f", str(EXAMPLES))
    env.operator(KUBECONFIG=files.kubeconfig)
    all_live(env)
    assert files.plugin_runs() >= 2, "one login for the operator's client, one for kopf's"


def report(replica: str, age_s: float, **states: str) -> ReplicaStatus:
    now_ms = int(time.time() * 1000)
    breakers = [
        BreakerReport(provider=p, state=s.replace("_", "-"), since_unix_ms=now_ms - 5_000, consecutive_failures=3)
        for p, s in states.items()
    ]
    return ReplicaStatus(
        replica=replica,
        policy_name="default",
        policy_version=1,
        revision="1",
        last_error=None,
        breakers=breakers,
        reported_unix_ms=now_ms - int(age_s * 1000),
    )


async def send_reports(env: Env, *reports: ReplicaStatus) -> None:
    """As router replicas do: `KubeSource.report`, with the router's service account."""
    client = KubeClient(connection_config({"KUBECONFIG": str(env.router_kubeconfig)}))
    source = KubeSource(client, KubeSourceSettings(namespace=env.namespace, replica="unused"))
    try:
        for r in reports:
            await source.report(r)
    finally:
        await source.aclose()


def provider(env: Env, tier_name: str, name: str) -> dict[str, Any]:
    providers = env.get(f"ptier/{tier_name}").get("status", {}).get("providers", [])
    return next((p for p in providers if p["name"] == name), {})


def test_breaker_reports_show_in_the_tier_status_until_they_go_stale(env: Env) -> None:
    env.kubectl("apply", "-f", str(EXAMPLES))
    env.operator(LLM_ROUTER_REPORT_TTL_SECONDS="6")
    all_live(env)
    asyncio.run(
        send_reports(
            env,
            report("router-a", 0, **{"sim-fast-a": "open", "sim-fast-b": "closed", "sim-smart-a": "half_open"}),
            report("router-b", 0, **{"sim-fast-a": "closed", "sim-fast-b": "closed"}),
            report("router-gone", 60, **{"sim-smart-b": "open"}),  # stale: ignored
        )
    )
    both = {"closed": 1, "halfOpen": 0, "open": 1}
    fast_a = wait_for(
        lambda: (p := provider(env, "tier-1-fast", "sim-fast-a")).get("replicas") == both and p,
        "both live reports counted for sim-fast-a",
    )
    assert fast_a["state"] == "open"
    assert fast_a["since"].endswith("Z")
    assert provider(env, "tier-1-fast", "sim-fast-b")["state"] == "closed"
    assert provider(env, "tier-2-smart", "sim-smart-a")["state"] == "half-open"
    assert provider(env, "tier-2-smart", "sim-smart-b")["state"] == "unknown"
    assert env.get("ptier/tier-2-smart")["status"]["openBreakers"] == 0
    row = env.kubectl("get", "ptier", "tier-1-fast", "--no-headers").stdout.split()
    assert row[:5] == ["tier-1-fast", "1", "True", "True", "1"]

    # no new report: once the TTL has passed the operator forgets them without being asked
    wait_for(
        lambda: provider(env, "tier-1-fast", "sim-fast-a").get("state") == "unknown", "reports expired"
    )
    assert env.get("ptier/tier-1-fast")["status"]["openBreakers"] == 0


def test_deleting_the_live_policy_keeps_the_last_config(env: Env) -> None:
    env.kubectl("apply", "-f", str(EXAMPLES))
    env.operator()
    all_live(env)
    before = env.configmap()
    assert before is not None
    env.kubectl("delete", "rpol", "default")
    orphaned = wait_for(
        lambda: (c := env.configmap()) and "llmrouter.io/orphaned" in c["metadata"]["annotations"] and c,
        "the config marked orphaned",
    )
    assert orphaned["data"] == before["data"] and revision(env) == "1"
    env.wait_condition("ptier/tier-1-fast", "Live", "True", "Published")

    env.kubectl("apply", "-f", str(EXAMPLES))  # back, with the same content
    env.wait_condition("rpol/default", "Live", "True", "Published")
    wait_for(lambda: "llmrouter.io/orphaned" not in env.configmap()["metadata"]["annotations"], "orphan mark removed")  # type: ignore[index]
    assert revision(env) == "1"


def resource_versions(env: Env) -> dict[str, str]:
    items = env.get("rpol,ptier,configmap")["items"]
    return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}


def test_a_killed_operator_restarts_into_the_same_state(env: Env) -> None:
    env.kubectl("apply", "-f", str(EXAMPLES))
    first = env.operator()
    # killed as soon as it has published, likely before all statuses are written
    wait_for(lambda: any(e["msg"] == "config published" for e in first.logs()), "the first publication", timeout=30)
    first.stop(signal.SIGKILL)

    env.kubectl("patch", "rpol", "default", "--type=merge", "-p", '{"spec": {"logPrompts": true}}')
    env.operator()
    for obj in OBJECTS:  # every status says so, not only the first one written
        wait_for(
            lambda o=obj: (c := env.condition(o, "Live")) and c["message"].endswith("in revision 2"), f"{obj} live"
        )
    settled = resource_versions(env)

    # A restart with nothing to do writes nothing: same revision, no status rewritten.
    env.processes[-1].stop()
    again = env.operator(LOG_LEVEL="DEBUG")
    wait_for(lambda: any(e["msg"] == "reconciled" for e in again.logs()), "a pass of the restarted operator")
    assert resource_versions(env) == settled


def active(replicas: list[OperatorProcess]) -> list[OperatorProcess]:
    """Replicas whose last word on peering is that they act (a paused one may never say anything)."""

    def acting(process: OperatorProcess) -> bool:
        said = [e["msg"] for e in process.logs() if e["logger"] == "kopf._core.engines.peering"]
        return bool(said) and said[-1].startswith("Resuming operations")

    return [p for p in replicas if acting(p)]


def elected(env: Env, replicas: dict[str, OperatorProcess]) -> OperatorProcess | None:
    """The one acting replica once the election has settled: every replica is in the peering
    object and the one acting holds the highest priority there (no later takeover can come)."""
    peers = env.get("kopfpeering", PEERING).get("status") or {}
    if set(peers) != set(replicas) or len(acting := active(list(replicas.values()))) != 1:
        return None
    highest = max(peers, key=lambda peer: int(peers[peer]["priority"]))
    return acting[0] if replicas[highest] is acting[0] else None


def test_two_operator_replicas_elect_one_and_agree(env: Env) -> None:
    replicas = {name: env.operator(POD_ID=name) for name in ("operator-a", "operator-b")}
    leader = wait_for(lambda: elected(env, replicas), "one active replica, the highest priority")
    env.kubectl("apply", "-f", str(EXAMPLES))
    all_live(env)
    for n, log_prompts in enumerate(("true", "false"), start=2):
        env.kubectl("patch", "rpol", "default", "--type=merge", "-p", f'{{"spec": {{"logPrompts": {log_prompts}}}}}')
        wait_for(lambda n=n: revision(env) == str(n), f"revision {n}")
    # Had the paused replica published too, one of the two changes would have counted twice.
    assert revision(env) == "3"
    acting = [p for p in replicas.values() if any(e["msg"] == "config published" for e in p.logs())]
    assert acting == [leader], "only the leader publishes"
