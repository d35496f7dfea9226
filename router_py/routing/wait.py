"""How long decisions have been taking, queue included: the router's own delay before a
request can go to a provider, which admission control keeps bounded."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class DecisionWait:
    """An average of recent decision times (weight `weight` per decision) that decays with
    `decay_s` while no decision finishes, so a router that refused everything until it drained
    does not stay refusing on an old figure."""

    def __init__(self, *, weight: float = 0.1, decay_s: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self._weight = weight
        self._decay_s = decay_s
        self._clock = clock
        self._value = 0.0
        self._at = clock()

    def observe(self, seconds: float) -> None:
        self._value = (1 - self._weight) * self.current_s() + self._weight * seconds
        self._at = self._clock()

    def current_s(self) -> float:
        return self._value * math.exp(-(self._clock() - self._at) / self._decay_s)
