"""What a router makes of the published ConfigMap's content (`config_update`), without a cluster:
the config formats it reads and refuses, and the errors it reports."""

from __future__ import annotations

import pytest

from router_py.config.kube_objects import ConfigMap, ObjectMeta
from router_py.config.kube_source import (
    ABSENT,
    CONFIG_FORMAT,
    CONFIG_KEY,
    FORMAT_ANNOTATION,
    REVISION_ANNOTATION,
    config_update,
)
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import RouterConfig

WHERE = "ns/llm-router-config"


@pytest.fixture(scope="module")
def config() -> RouterConfig:
    return load_config(embedded_default_dir())


def published(content: str, **annotations: str) -> ConfigMap:
    metadata = ObjectMeta(name="llm-router-config", resource_version="99", annotations={REVISION_ANNOTATION: "4"} | annotations)
    return ConfigMap(metadata=metadata, data={CONFIG_KEY: content})


def test_the_format_this_router_reads_is_accepted(config: RouterConfig) -> None:
    update = config_update(published(config.to_core_json(), **{FORMAT_ANNOTATION: CONFIG_FORMAT}), WHERE)
    assert (update.revision, update.config, update.error) == ("4", config, None)


def test_a_configmap_from_before_formats_were_marked_is_read_as_v1(config: RouterConfig) -> None:
    assert CONFIG_FORMAT == "v1"
    assert config_update(published(config.to_core_json()), WHERE).config == config


@pytest.mark.parametrize("newer", ["v2", "config-v1", ""])
def test_any_other_format_is_refused_by_name_before_the_content_is_read(newer: str) -> None:
    update = config_update(published('{"policy": {"aFieldV1HasNot": 1}}', **{FORMAT_ANNOTATION: newer}), WHERE)
    assert (update.revision, update.config) == ("4", None)
    assert update.error == (
        f"ConfigMap {WHERE} is in config format {newer!r}; this router reads 'v1' only "
        "(published by a newer operator? upgrade the routers)"
    )


def test_content_that_does_not_parse_names_the_field() -> None:
    update = config_update(published('{"policy": {}}'), WHERE)
    assert update.error == f"ConfigMap {WHERE} {CONFIG_KEY}: policy.name: Field required"


def test_no_configmap_and_no_config_key() -> None:
    assert config_update(None, WHERE).revision == ABSENT
    empty = ConfigMap(metadata=ObjectMeta(name="x", resource_version="7"))
    assert config_update(empty, WHERE).error == f"ConfigMap {WHERE} has no {CONFIG_KEY}"
    assert config_update(empty, WHERE).revision == "7", "a ConfigMap written by hand: its resourceVersion"
