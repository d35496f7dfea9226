"""Check a RouterConfig with the Rust core without serving it: the same parse and validation a
router runs in `apply_config`, so what passes here is what the routers will accept."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from router_py import _core
from router_py.config.schema import RouterConfig
from router_py.runtime import model_dir, ort_library


class ConfigProblem(BaseModel):
    """The core's first objection: `path` names the field (`tiers[1].providers[0].baseUrl`)."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class CoreChecker:
    """Owns a private `_core.Router` whose live policy is whatever was checked last; it never
    routes. A router is needed because domain overrides are checked against the classifier's
    domain labels, which come with the models."""

    def __init__(self, router: _core.Router) -> None:
        self._router = router

    @classmethod
    def load(cls, models: Path | None = None) -> CoreChecker:
        return cls(_core.Router(models or model_dir(), ort_library=ort_library(), sessions=1))

    def check(self, config: RouterConfig) -> ConfigProblem | None:
        return self.check_json(config.to_core_json())

    def check_json(self, text: str) -> ConfigProblem | None:
        """`check` on a config document as written, for what the Python models would refuse first."""
        try:
            self._router.apply_config(text)
        except _core.InvalidConfigError as err:
            message, path = str(err.args[0]), str(err.args[1])
            return ConfigProblem(path=path, message=message.removeprefix(f"invalid config at {path}: "))
        return None
