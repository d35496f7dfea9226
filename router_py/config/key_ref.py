"""API key references (`apiKeyRef`), read by the core's one parser (`config::KeyRef` in Rust)
for every Python reader: the router's key resolver and the operator's Secret check."""

from __future__ import annotations

from router_py import _core

KeyRef = _core.KeyRef


class KeyRefError(ValueError):
    """Not `env:VARIABLE` nor `secret:NAME/KEY`; the message says what is wrong."""


def parse_key_ref(text: str) -> KeyRef:
    """`env:VARIABLE` (`name` is the variable, `key` None) or `secret:NAME/KEY`."""
    try:
        return _core.parse_key_ref(text)
    except _core.InvalidConfigError as err:
        raise KeyRefError(str(err.args[0])) from None
