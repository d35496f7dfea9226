"""How long decisions have been taking, queue included: the router's own delay before a
request can go to a provider, which admission control keeps bounded."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class DecisionWait:
    """An average of decision times (queue included) weighted by time, not by count: each
    decision weighs as much as the time since the one before, over a memory of `memory_s`. A
    burst (24 requests at once on an idle router) queues for a few tens of milliseconds and so
    moves it by a fraction of its size; a standing queue, work arriving faster than it is
    decided, moves it all the way. While no decision finishes (a drained router, or one refusing
    everything) it decays with the same memory, so the router admits again."""

    def __init__(self, *, memory_s: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self._memory_s = memory_s
        self._clock = clock
        self._value = 0.0
        self._at = clock()

    def observe(self, seconds: float) -> None:
        now = self._clock()
        weight = 1.0 - math.exp(-(now - self._at) / self._memory_s)
        self._value = (1.0 - weight) * self._value + weight * seconds
        self._at = now

    def current_s(self) -> float:
        return self._value * math.exp(-(self._clock() - self._at) / self._memory_s)


class DecisionLoad:
    """What admission control reads about the decide thread: how long decisions wait for it
    (time-averaged, see `DecisionWait`) and what one costs on this CPU once it runs. Queue time, not decision time, is the overload signal: a lone 128-token
    decision takes ~26 ms on a CPU without VNNI and ~5 ms with it, and neither is overload."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.queue_wait = DecisionWait(clock=clock)
        self._cost_s = 0.0

    def observe(self, queued_s: float, cost_s: float) -> None:
        self.queue_wait.observe(queued_s)
        # Per decision, not per unit of time: the cost of one decision does not decay while idle.
        self._cost_s = cost_s if self._cost_s == 0.0 else 0.9 * self._cost_s + 0.1 * cost_s

    def cost_s(self) -> float:
        return self._cost_s
