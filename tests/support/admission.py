"""Admission that load cannot trip, for every router a test starts that is not testing overload.

The event-loop lag and decision-wait signals measure how busy this machine is: on a busy one
(a build beside the tests, two cores shared) they would refuse requests a test expects served,
and a late loop would also stop provider timeouts from counting against breakers. The overload
tests drive those signals themselves (test_admission.py) or bound only the count they test."""

from __future__ import annotations

# More requests or queued decisions than any test sends at once.
UNREACHABLE = 1_000_000


def router_args(*, max_in_flight: int = UNREACHABLE) -> tuple[str, ...]:
    """`llm-router serve` flags: no refusal for lag or wait (an infinite bound), none for the
    decision backlog, and `max_in_flight` requests in flight. `support.pipelines.mock_service` is
    the in-process router set the same way."""
    return ("--max-in-flight", str(max_in_flight), "--max-decision-backlog", str(UNREACHABLE),
            "--max-loop-lag-ms", "inf", "--max-decision-wait-ms", "inf")
