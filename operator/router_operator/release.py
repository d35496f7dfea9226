"""What to publish, and whether the published ConfigMap must change. Pure.

The ConfigMap the routers follow (see `router_py.config.kube_source`) carries, besides
`config.json` (and `shadow.json` when the live policy names a shadow), annotations that make
publishing idempotent and status exact:
- `llmrouter.io/revision`: bumped only when the content changes, so an operator restart or a
  no-op edit never makes routers reload;
- `llmrouter.io/config-format`: the format of the content, so a router that cannot read it
  refuses it by name (see `kube_source`). A ConfigMap published before formats were marked is
  rewritten once with it, under the same revision: routers do not reload for it;
- `llmrouter.io/content-hash`: of the data, to compare without parsing;
- `llmrouter.io/generations`: `{"Kind/name": generation}` of every object in it, which is how
  each object's Live condition is decided;
- `llmrouter.io/orphaned`: set when the live RoutingPolicy is deleted. The content is kept, so
  routers go on with the last good config instead of losing their policy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, ValidationError

from router_operator.judge import AcceptedTier, Judged, Judgement, router_config
from router_py.config.kube_objects import ConfigMap, ObjectMeta
from router_py.config.kube_source import (
    CONFIG_FORMAT,
    CONFIG_KEY,
    FORMAT_ANNOTATION,
    REVISION_ANNOTATION,
    SHADOW_KEY,
)
from router_py.config.schema import RoutingPolicySpec

CONTENT_HASH_ANNOTATION = "llmrouter.io/content-hash"
GENERATIONS_ANNOTATION = "llmrouter.io/generations"
ORPHANED_ANNOTATION = "llmrouter.io/orphaned"
MANAGED_BY = {"app.kubernetes.io/managed-by": "llm-router-operator"}


def object_key(kind: str, name: str) -> str:
    return f"{kind}/{name}"


@dataclass(frozen=True)
class Release:
    """The content the routers should run now."""

    data: dict[str, str]
    generations: dict[str, int]

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for key in sorted(self.data):
            digest.update(f"{key}\0{self.data[key]}\0".encode())
        return digest.hexdigest()[:16]


class Publication(BaseModel):
    """What the published ConfigMap's annotations say."""

    model_config = ConfigDict(frozen=True)

    revision: int
    content_hash: str
    generations: dict[str, int]
    config_format: str | None = None
    orphaned: str | None = None

    @classmethod
    def of(cls, configmap: ConfigMap) -> Publication | None:
        """None for a ConfigMap this operator did not write (or whose annotations were edited)."""
        annotations = configmap.metadata.annotations
        try:
            return cls(
                revision=int(annotations.get(REVISION_ANNOTATION, "")),
                content_hash=annotations.get(CONTENT_HASH_ANNOTATION, ""),
                generations=json.loads(annotations.get(GENERATIONS_ANNOTATION, "")),
                config_format=annotations.get(FORMAT_ANNOTATION),
                orphaned=annotations.get(ORPHANED_ANNOTATION),
            )
        except (ValueError, ValidationError):
            return None


def release(judgement: Judgement, live_policy: str) -> Release | None:
    """The live policy with its shadow and the tiers, when all of them are accepted."""
    tiers = judgement.tier_set
    live = judgement.policy(live_policy)
    live_spec = _accepted_spec(live)
    if tiers is None or live is None or live_spec is None:
        return None
    chosen = {CONFIG_KEY: (live, live_spec)}
    if live_spec.shadow_policy is not None:
        shadow = judgement.policy(live_spec.shadow_policy)
        shadow_spec = _accepted_spec(shadow)
        if shadow is None or shadow_spec is None:  # the judge refuses such a live policy
            return None
        chosen[SHADOW_KEY] = (shadow, shadow_spec)
    data = {key: _compiled(policy.name, spec, tiers) for key, (policy, spec) in chosen.items()}
    generations = {object_key("RoutingPolicy", p.name): p.obj.generation for p, _ in chosen.values()}
    generations |= {object_key("ProviderTier", t.obj.metadata.name): t.obj.generation for t in tiers}
    return Release(data=data, generations=generations)


def _accepted_spec(policy: Judged | None) -> RoutingPolicySpec | None:
    if policy is None or not policy.verdict.accepted or not isinstance(policy.spec, RoutingPolicySpec):
        return None
    return policy.spec


def _compiled(name: str, spec: RoutingPolicySpec, tiers: list[AcceptedTier]) -> str:
    """`config.json`. The policy version is a hash of the content, as for manifest files: any
    change gives a new version (a fresh exact-cache namespace), the same content the same one."""
    draft = router_config(name, spec, tiers, version=0).to_core_json()
    version = int.from_bytes(hashlib.sha256(draft.encode()).digest()[:6], "big")
    return router_config(name, spec, tiers, version=version).to_core_json()


def next_configmap(
    current: ConfigMap | None,
    release: Release | None,
    *,
    name: str,
    namespace: str,
    live_policy: str,
    live_exists: bool,
) -> ConfigMap | None:
    """The ConfigMap to write, or None to leave the current one as it is. Without a release the
    content is never touched: routers keep the last good config."""
    published = Publication.of(current) if current is not None else None
    if release is None:
        if current is None or live_exists or (published is not None and published.orphaned):
            return None
        why = f"RoutingPolicy {live_policy!r} was deleted; routers keep this config"
        annotations = current.metadata.annotations | {ORPHANED_ANNOTATION: why}
        return current.model_copy(update={"metadata": current.metadata.model_copy(update={"annotations": annotations})})
    revision = _revision(published, release)
    if published is not None and published == Publication(
        revision=revision, content_hash=release.content_hash, generations=release.generations, config_format=CONFIG_FORMAT
    ):
        return None
    metadata = ObjectMeta(
        name=name,
        namespace=namespace,
        resource_version=current.metadata.resource_version if current is not None else None,
        labels=MANAGED_BY,
        annotations={
            REVISION_ANNOTATION: str(revision),
            FORMAT_ANNOTATION: CONFIG_FORMAT,
            CONTENT_HASH_ANNOTATION: release.content_hash,
            GENERATIONS_ANNOTATION: json.dumps(release.generations, sort_keys=True),
        },
    )
    return ConfigMap(metadata=metadata, data=release.data)


def _revision(published: Publication | None, release: Release) -> int:
    if published is None:
        return 1
    return published.revision if published.content_hash == release.content_hash else published.revision + 1
