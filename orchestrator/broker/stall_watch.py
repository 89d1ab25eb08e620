"""A last line of defence against a partition that stops being read while its records wait.

The takeover fault runs (bench/faults.py, tests/integration/faults/) found by-user partitions of a
survivor whose records waited on the broker while the agent received none of them, with nothing
logged, until the next rebalance. This watch's own log of one showed why: Faust active and not
paused, aiokafka's fetch position at the partition's end, the agent's next offset far below it.
Faust's `getmany` drops the rest of a fetched batch when the flow stops or the generation changes;
faust_patches.py seeks back when a later record shows the jump, but when the dropped records were
the partition's last ones no later record comes (docs/architecture.md).

So, outside a rebalance and a recovery, a partition whose next expected offset is below the
highwater and has not moved for `stall_seconds` is logged with Faust's and aiokafka's state of it,
resumed everywhere and sought to that offset again. A partition that is merely behind (Faust
holds it back while the agent's queue is full, or aiokafka has not handed out its records yet) is
a backlog, not a stall; seeking it would only drop what was fetched and queued, so it gets
`BACKLOG_PATIENCE` times longer (the overloaded pipeline bench showed partitions waiting over 10 s
for their turn, and the watch re-reading them). At least once, so re-reading is safe: the
agents drop records they already applied (events by `messageId`, prompts and deliveries by id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.broker.faust_patches import ReadOffsets, seek_to

log = logging.getLogger(__name__)

BACKLOG_PATIENCE = 6


@dataclass
class _Seen:
    expected: int
    since: float


class StallWatch:
    def __init__(self, app: Any, *, stall_seconds: float, now: Callable[[], float]) -> None:
        self.app = app
        self.stall_seconds = stall_seconds
        self.now = now
        self._seen: dict[Any, _Seen] = {}
        self.unstuck = 0

    async def check(self) -> list[Any]:
        """Unsticks every partition stalled for `stall_seconds`; returns them."""
        app, consumer = self.app, self.app.consumer
        read_offsets = consumer._read_offset
        if app.rebalancing or app.in_recovery or not isinstance(read_offsets, ReadOffsets):
            self._seen.clear()  # a rebalance or recovery moves positions and pauses on purpose
            return []
        now = self.now()
        stalled = []
        owned = set(app.assignor.assigned_actives())
        for tp in list(self._seen):
            if tp not in owned:
                del self._seen[tp]
        for tp in owned:
            if consumer._is_changelog_tp(tp):
                continue
            expected = _next_unprocessed(read_offsets.expected.get(tp), consumer._committed_offset.get(tp))
            highwater = highwater_of(consumer, tp)
            if expected is None or highwater is None or expected >= highwater:
                self._seen.pop(tp, None)
                continue
            seen = self._seen.get(tp)
            if seen is None or seen.expected != expected:
                self._seen[tp] = _Seen(expected, now)
            elif now - seen.since >= self.stall_seconds * (BACKLOG_PATIENCE if _backlog(consumer, tp, expected) else 1):
                stalled.append((tp, expected, highwater, now - seen.since))
                del self._seen[tp]
        for tp, expected, highwater, waited in stalled:
            await self._unstick(tp, expected, highwater, waited)
        return [tp for tp, *_ in stalled]

    async def _unstick(self, tp: Any, expected: int, highwater: int, waited: float) -> None:
        consumer = self.app.consumer
        log.warning(
            "%s: %d records wait but none was read for %.0fs (%s); resuming it and seeking to %d again",
            tp,
            highwater - expected,
            waited,
            describe(consumer, tp),
            expected,
        )
        self.unstuck += 1
        metrics.PARTITIONS_UNSTUCK.labels(tp.topic).inc()
        consumer._buffered_partitions.discard(tp)
        consumer.resume_partitions({tp})
        await seek_to(consumer, tp, expected)


def _next_unprocessed(expected: int | None, committed: int | None) -> int | None:
    """The first offset not processed yet: the drain's next expected one, or the committed offset
    when that is higher (everything below it was acked; the drain's figure lags when a seek crossed
    a delivery, and re-reading from it would only repeat processed records)."""
    if expected is None or committed is None:
        return expected
    return max(expected, committed)


def highwater_of(consumer: Any, tp: Any) -> int | None:
    """The partition's high watermark from the last fetch, or None when aiokafka no longer holds it: the
    assignor's view and aiokafka's assignment differ for a moment in a rebalance, and aiokafka asserts
    'Partition is not assigned' (raised in a Faust timer, it crashed the worker in a CI run)."""
    try:
        result = consumer.highwater(tp)
    except AssertionError:
        return None
    return int(result) if result is not None else None


def _backlog(consumer: Any, tp: Any, expected: int) -> bool:
    """The partition is behind, not lost: Faust holds it back because the agent's queue is full, or
    aiokafka has not handed out its waiting records yet and nothing pauses it. (A lost batch shows
    aiokafka's position past the expected offset with nothing held back.)"""
    if tp in consumer._buffered_partitions:
        return True
    state = _fetch_state(consumer, tp)
    if state is None or tp in consumer._paused_partitions:
        return False
    return bool(state.has_valid_position and state.position == expected and not state.paused)


def _fetch_state(consumer: Any, tp: Any) -> Any:
    """aiokafka's fetch state of the partition (None if no longer assigned or its internals moved)."""
    try:
        return consumer._thread._ensure_consumer()._subscription.subscription.assignment.state_value(tp)
    except Exception:
        return None


def describe(consumer: Any, tp: Any) -> str:
    """Where Faust and aiokafka stand on one partition, for the log line that reports a stall."""
    facts = {
        "assigned": tp in consumer.assignment(),
        "faust_active": tp in (consumer._active_partitions or ()),
        "faust_paused": tp in consumer._paused_partitions,
        "faust_buffer_full": tp in consumer._buffered_partitions,
        "committed": consumer._committed_offset.get(tp),
    }
    state = _fetch_state(consumer, tp)
    if state is None:  # aiokafka internals moved, or no longer assigned: say so, don't fail
        facts["fetch_state"] = "unknown"
    else:
        facts |= {
            "fetch_position": state.position if state.has_valid_position else None,
            "fetch_paused": state.paused,
            "awaiting_reset": state.awaiting_reset,
        }
    return ", ".join(f"{name}={value}" for name, value in facts.items())
