"""API keys from `apiKeyRef`: `env:VAR` or `secret:NAME/KEY` (a mounted Kubernetes Secret).

Secret files are re-read when they change on disk, so a rotated Secret takes effect without a
restart; the value itself never appears in an error or a log line, only the ref that named it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from router_py.config.key_ref import KeyRefError, parse_key_ref
from router_py.providers.types import FailureKind, ProviderError

DEFAULT_SECRETS_DIR = Path("/var/run/secrets/llm-router")
SECRETS_DIR_ENV = "LLM_ROUTER_SECRETS_DIR"

log = logging.getLogger("llm_router.providers.keys")


@dataclass(frozen=True, slots=True)
class _Cached:
    # mtime alone misses a kubelet symlink swap that keeps the timestamp; inode and size catch it.
    signature: tuple[int, int, int]
    value: str


class KeyResolver:
    def __init__(self, secrets_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._secrets_dir = secrets_dir or Path(os.environ.get(SECRETS_DIR_ENV, DEFAULT_SECRETS_DIR))
        self._environ = os.environ if environ is None else environ
        self._cache: dict[Path, _Cached] = {}
        self._lock = threading.Lock()

    def resolve(self, provider: str, ref: str | None) -> str | None:
        """The key `ref` names, or None when there is no ref (a provider that needs no auth)."""
        if ref is None:
            return None
        try:
            parsed = parse_key_ref(ref)
        except KeyRefError as err:
            raise _missing(provider, ref, str(err)) from None
        if parsed.key is None:  # env:VARIABLE
            return self._from_env(provider, ref, parsed.name)
        return self._from_secret(provider, ref, parsed.name, parsed.key)

    def _from_env(self, provider: str, ref: str, var: str) -> str:
        value = self._environ.get(var, "").strip()
        if not value:
            raise _missing(provider, ref, "environment variable unset or empty")
        return value

    def _from_secret(self, provider: str, ref: str, secret: str, key: str) -> str:
        # The parser refuses `.` and `..`, so the path stays under the Secrets' directory.
        path = self._secrets_dir / secret / key
        try:
            st = path.stat()
        except OSError:
            raise _missing(provider, ref, f"no file at {path}") from None
        signature = (st.st_mtime_ns, st.st_ino, st.st_size)
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached.signature == signature:
                return cached.value
            value = self._read(provider, ref, path)
            if cached is not None:
                log.info("api key reloaded", extra={"provider": provider, "ref": ref})
            self._cache[path] = _Cached(signature, value)
            return value

    @staticmethod
    def _read(provider: str, ref: str, path: Path) -> str:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise _missing(provider, ref, f"unreadable {path}: {type(err).__name__}") from None
        if not value:
            raise _missing(provider, ref, f"empty file {path}")
        return value


def _missing(provider: str, ref: str, why: str) -> ProviderError:
    return ProviderError(provider, FailureKind.AUTH, f"api key {ref}: {why}")
