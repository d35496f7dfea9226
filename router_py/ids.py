"""Request and response ids.

`uuid.uuid4()` reads the kernel's random source on every call: ~5% of the event loop's time at
200 requests/s in `benches/service_bench.py`. These ids only need to be unique, not secret, so
they come from a PRNG seeded once per process from the kernel's random source (`random.Random()`
does that; a forked child reseeds the same way, see `os.register_at_fork`)."""

from __future__ import annotations

import os
import random

_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)


def new_id() -> str:
    """32 lowercase hex digits, the same shape as `uuid4().hex`."""
    return f"{_rng.getrandbits(128):032x}"
