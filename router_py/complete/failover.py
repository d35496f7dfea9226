"""Same-tier failover: try a tier's providers in order, asking each one's circuit breaker first,
within the request's deadline; 429s put a provider aside for its Retry-After."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

from router_py import _core
from router_py.complete.catalog import Catalog
from router_py.completion import Attempt
from router_py.providers.pool import ProviderPool
from router_py.providers.types import ChatRequest, ChatResult, FailureKind, ProviderError, StreamEvent
from router_py.telemetry.tracing import tracer

log = logging.getLogger("llm_router.failover")


class DeadlineExceededError(TimeoutError):
    pass


class TierUnavailableError(RuntimeError):
    """Every provider of a tier failed or was skipped; `attempts` says why, one by one."""

    def __init__(self, tier: int, attempts: list[Attempt]) -> None:
        why = ", ".join(f"{a.provider} ({a.outcome})" for a in attempts) or "no candidates"
        super().__init__(f"tier {tier}: no provider answered: {why}")
        self.tier = tier
        self.attempts = attempts


@dataclass
class Cooldowns:
    """Providers that answered 429, until their Retry-After (or `default_s`) is over."""

    default_s: float = 1.0
    _until: dict[str, float] = field(default_factory=dict)

    def cooling(self, provider: str) -> bool:
        return self._until.get(provider, 0.0) > time.monotonic()

    def start(self, provider: str, retry_after: float | None) -> None:
        self._until[provider] = time.monotonic() + min(retry_after if retry_after is not None else self.default_s, 300.0)


TransitionSink = Callable[[_core.Transition], None]


@dataclass
class TierAnswer:
    result: ChatResult
    provider: str
    attempts: list[Attempt]


@dataclass
class TierStream:
    """A stream whose first delta has arrived: from here on, failover is no longer possible."""

    provider: str
    attempts: list[Attempt]
    events: AsyncIterator[StreamEvent]


class Failover:
    def __init__(self, core: _core.Router, pool: ProviderPool, on_transition: TransitionSink,
                 loop_is_late: Callable[[], bool] = lambda: False) -> None:
        self._core = core
        self._pool = pool
        self._on_transition = on_transition
        self._loop_is_late = loop_is_late
        self.cooldowns = Cooldowns()

    async def call(self, catalog: Catalog, tier: int, names: list[str], request: ChatRequest, deadline: float) -> TierAnswer:
        attempts: list[Attempt] = []
        for name, timeout, started in self._tries(catalog, tier, names, deadline, attempts):
            try:
                with tracer().start_as_current_span("provider.call", attributes={"llm_router.provider": name,
                                                                                 "llm_router.tier": tier}):
                    result = await self._pool.client(name).complete(request, timeout=timeout)
            except ProviderError as e:
                self._failed(tier, name, e, started, attempts)
                continue
            self._record(name, success=True)
            attempts.append(Attempt(tier=tier, provider=name, outcome="ok", latency_ms=ms_since(started)))
            return TierAnswer(result=result, provider=name, attempts=attempts)
        raise TierUnavailableError(tier, attempts)

    async def open_stream(
        self, catalog: Catalog, tier: int, names: list[str], request: ChatRequest, deadline: float
    ) -> TierStream:
        """Fail over until a provider's first delta (or its whole, empty answer) has arrived."""
        attempts: list[Attempt] = []
        for name, timeout, started in self._tries(catalog, tier, names, deadline, attempts):
            events = self._pool.client(name).stream(request, timeout=timeout)
            try:
                first = await anext(events)
            except (ProviderError, StopAsyncIteration) as e:
                error = e if isinstance(e, ProviderError) else ProviderError(name, FailureKind.BAD_RESPONSE, "empty stream")
                self._failed(tier, name, error, started, attempts)
                continue
            attempts.append(Attempt(tier=tier, provider=name, outcome="ok", latency_ms=ms_since(started)))
            return TierStream(provider=name, attempts=attempts, events=self._rest(name, first, events, deadline))
        raise TierUnavailableError(tier, attempts)

    async def _rest(
        self, name: str, first: StreamEvent, events: AsyncIterator[StreamEvent], deadline: float
    ) -> AsyncIterator[StreamEvent]:
        """The stream after its first event, within the request's whole deadline: the client's
        timeout bounds each read, so a provider trickling a token at a time would run for ever."""
        yield first
        try:
            while True:
                try:
                    # Around the read only, never around the yield: a timeout spanning a yield
                    # would fire in whatever the consumer is awaiting.
                    async with asyncio.timeout(deadline - time.monotonic()):
                        event = await anext(events)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    # Our deadline, not the provider's failure: its breaker hears nothing.
                    raise DeadlineExceededError("the request's deadline passed while the answer was streaming") from None
                yield event
        except ProviderError as e:
            if e.fails_over and not _rate_limited(e):
                self._record(name, success=False)
            raise
        finally:
            await _close(events)
        self._record(name, success=True)

    def _tries(
        self, catalog: Catalog, tier: int, names: list[str], deadline: float, attempts: list[Attempt]
    ) -> Iterator[tuple[str, float, float]]:
        """(provider, timeout, start) for each provider its breaker admits, in failover order;
        the ones skipped are noted in `attempts`."""
        for name in names:
            if self._admitted(tier, name, attempts):
                yield name, _budget(catalog.timeout_s(name), deadline), time.monotonic()

    def _admitted(self, tier: int, name: str, attempts: list[Attempt]) -> bool:
        if self.cooldowns.cooling(name):
            attempts.append(Attempt(tier=tier, provider=name, outcome="cooling_down"))
            return False
        allowed, transition = self._core.admit(name)
        if transition is not None:
            self._on_transition(transition)
        if not allowed:
            attempts.append(Attempt(tier=tier, provider=name, outcome="breaker_open"))
        return allowed

    def _failed(self, tier: int, name: str, error: ProviderError, started: float, attempts: list[Attempt]) -> None:
        attempts.append(Attempt(tier=tier, provider=name, outcome=error.kind.value, latency_ms=ms_since(started)))
        log.warning("provider call failed", extra={"provider": name, "tier": tier, "kind": error.kind.value,
                                                   "detail": error.message[:300]})
        if not error.fails_over:
            # The request itself is wrong; another provider would refuse it too.
            raise error
        if _rate_limited(error):
            # A 429 is the provider pacing us, not failing: it sits out its Retry-After, and its
            # breaker stays closed (counted as a failure, a 2 s Retry-After took a tier out for
            # 5-30 s). A half-open probe answered with a 429 frees its slot after `openFor`.
            self.cooldowns.start(name, error.retry_after)
            return
        if error.kind is FailureKind.TIMEOUT and self._loop_is_late():
            # Our own event loop was too busy to read the answer in time: not the provider's
            # fault, and opening its breaker would move load onto the next tier.
            return
        self._record(name, success=False)

    def _record(self, name: str, *, success: bool) -> None:
        transition = self._core.record_outcome(name, success)
        if transition is not None:
            self._on_transition(transition)


def _rate_limited(error: ProviderError) -> bool:
    return error.kind is FailureKind.RATE_LIMITED


async def _close(events: AsyncIterator[StreamEvent]) -> None:
    """Closing the provider's stream returns its connection to the pool (or drops it) now."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


def _budget(provider_timeout_s: float, deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0.005:
        raise DeadlineExceededError("the request's deadline passed before a provider answered")
    return min(provider_timeout_s, remaining)


def ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)

