"""The published ConfigMap's config format (`release.next_configmap`): marked on every
publication, and added to one published before formats were marked without a new revision, so
routers do not reload for it."""

from __future__ import annotations

from router_operator.release import Publication, Release, next_configmap

from router_py.config.kube_objects import ConfigMap
from router_py.config.kube_source import CONFIG_FORMAT, FORMAT_ANNOTATION, REVISION_ANNOTATION

RELEASE = Release(data={"config.json": "{}"}, generations={"RoutingPolicy/default": 1})


def publish(current: ConfigMap | None) -> ConfigMap | None:
    return next_configmap(current, RELEASE, name="cfg", namespace="ns", live_policy="default", live_exists=True)


def test_a_publication_carries_the_config_format() -> None:
    first = publish(None)
    assert first is not None and first.metadata.annotations[FORMAT_ANNOTATION] == CONFIG_FORMAT
    assert publish(first) is None, "published as wanted: nothing to write"


def test_a_configmap_from_before_formats_gets_the_format_under_the_same_revision() -> None:
    first = publish(None)
    assert first is not None
    annotations = {k: v for k, v in first.metadata.annotations.items() if k != FORMAT_ANNOTATION}
    older = first.model_copy(update={"metadata": first.metadata.model_copy(update={"annotations": annotations})})
    rewritten = publish(older)
    assert rewritten is not None
    assert rewritten.metadata.annotations[REVISION_ANNOTATION] == first.metadata.annotations[REVISION_ANNOTATION]
    assert Publication.of(rewritten) == Publication.of(first)
