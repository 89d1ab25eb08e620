"""A partition whose records wait while nothing is read from it for `stall_seconds` is read again from
its next offset; a partition that moves, is caught up, or is in a rebalance is left alone.

The consumer here is a stand-in for Faust's with the same attributes the watch reads (the real stall
needs a takeover under load: tests/integration/faults/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from nudgeflow.orchestrator.broker.faust_patches import ReadOffsets
from nudgeflow.orchestrator.broker.stall_watch import StallWatch

EVENTS = TP("app.events.by-user", 0)
OTHER = TP("app.events.by-user", 1)
THIRD = TP("app.events.by-user", 2)
CHANGELOG = TP("app-users-changelog", 0)


@dataclass
class Consumer:
    highwaters: dict[Any, int]
    _read_offset: ReadOffsets = field(default_factory=lambda: ReadOffsets(unknown_is_start=True))
    _active_partitions: set[Any] = field(default_factory=set)
    _paused_partitions: set[Any] = field(default_factory=set)
    _buffered_partitions: set[Any] = field(default_factory=set)
    _committed_offset: dict[Any, int] = field(default_factory=dict)
    seeks: list[dict[Any, int]] = field(default_factory=list)
    fetch_positions: dict[Any, int] = field(default_factory=dict)  # aiokafka's, where the test sets one

    @property
    def _thread(self) -> Any:  # aiokafka's fetch state, at the path the watch reads it from
        positions = self.fetch_positions

        class Assignment:
            def state_value(self, tp: Any) -> Any:
                return SimpleNamespace(
                    has_valid_position=True, position=positions[tp], paused=False, awaiting_reset=False
                )

        assignment = SimpleNamespace(assignment=Assignment())
        aiokafka_consumer = SimpleNamespace(_subscription=SimpleNamespace(subscription=assignment))
        return SimpleNamespace(_ensure_consumer=lambda: aiokafka_consumer)

    def highwater(self, tp: Any) -> int | None:
        return self.highwaters.get(tp)

    def _is_changelog_tp(self, tp: Any) -> bool:
        return tp == CHANGELOG

    def assignment(self) -> set[Any]:
        return set(self.highwaters)

    def resume_partitions(self, tps: set[Any]) -> None:
        self._active_partitions |= tps
        self._paused_partitions -= tps

    async def seek_wait(self, partitions: dict[Any, int]) -> None:
        self.seeks.append(dict(partitions))


@dataclass
class Assignor:
    actives: set[Any]

    def assigned_actives(self) -> set[Any]:
        return self.actives


@dataclass
class App:
    consumer: Consumer
    assignor: Assignor
    rebalancing: bool = False
    in_recovery: bool = False


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def setup(read: dict[Any, int], highwaters: dict[Any, int]) -> tuple[App, StallWatch, Clock]:
    consumer = Consumer(highwaters)
    for tp, offset in read.items():
        consumer._read_offset.delivered(tp, offset - 1)
    app = App(consumer, Assignor(set(highwaters)))
    clock = Clock()
    return app, StallWatch(app, stall_seconds=10, now=clock), clock


async def test_a_partition_stalled_with_records_waiting_is_resumed_and_read_again_from_its_next_offset() -> None:
    app, watch, clock = setup({EVENTS: 91, OTHER: 40}, {EVENTS: 169, OTHER: 80})
    app.consumer._paused_partitions.add(EVENTS)  # lost track of it, as after the takeover
    assert await watch.check() == []
    clock.t = 5
    app.consumer._read_offset.delivered(OTHER, 60)  # the other partition moves
    assert await watch.check() == []
    clock.t = 10
    assert await watch.check() == [EVENTS]
    assert app.consumer.seeks == [{EVENTS: 91}]
    assert EVENTS in app.consumer._active_partitions and EVENTS not in app.consumer._paused_partitions
    assert app.consumer._read_offset.expected[EVENTS] == 91
    clock.t = 15
    app.consumer._read_offset.delivered(OTHER, 70)
    assert await watch.check() == [], "one seek per stall window, not one per check"


async def test_caught_up_partitions_changelogs_and_rebalances_are_left_alone() -> None:
    app, watch, clock = setup({EVENTS: 169, CHANGELOG: 3}, {EVENTS: 169, CHANGELOG: 50})
    for t in (0, 10, 20):
        clock.t = t
        assert await watch.check() == []
    app, watch, clock = setup({EVENTS: 91}, {EVENTS: 169})
    await watch.check()
    app.rebalancing = True
    clock.t = 10
    assert await watch.check() == [], "a rebalance moves positions on purpose"
    app.rebalancing = False
    clock.t = 12
    assert await watch.check() == [], "the stall window starts again after the rebalance"
    clock.t = 22
    assert await watch.check() == [EVENTS]


async def test_it_reads_again_from_the_committed_offset_when_that_is_further_and_never_when_all_is_committed() -> None:
    app, watch, clock = setup({EVENTS: 106, OTHER: 38}, {EVENTS: 161, OTHER: 40})
    app.consumer._committed_offset.update({EVENTS: 143, OTHER: 40})  # acked up to 142, and all of OTHER
    await watch.check()
    clock.t = 10
    assert await watch.check() == [EVENTS]
    assert app.consumer.seeks == [{EVENTS: 143}], "records below the committed offset were processed"


async def test_a_partition_merely_behind_gets_longer_before_it_is_sought_again() -> None:
    """aiokafka has not handed out its records yet (position = next expected, nothing paused): an
    overloaded worker, not a lost batch; a seek would only throw away what was fetched."""
    app, watch, clock = setup({EVENTS: 4040, OTHER: 40, THIRD: 8319}, {EVENTS: 9392, OTHER: 80, THIRD: 9392})
    app.consumer.fetch_positions.update({EVENTS: 4040, OTHER: 80, THIRD: 8319})  # OTHER's records were handed out: lost
    app.consumer._buffered_partitions.add(THIRD)  # Faust's queue for the agent is full
    await watch.check()
    clock.t = 10
    assert await watch.check() == [OTHER]
    clock.t = 50
    assert await watch.check() == []
    clock.t = 60
    assert {EVENTS, THIRD} <= set(await watch.check()), "still a safety net for a partition never served"
    assert {EVENTS: 4040} in app.consumer.seeks


async def test_a_partition_aiokafka_no_longer_holds_is_skipped_not_a_crash() -> None:
    """Mid-rebalance the assignor still lists a partition aiokafka has dropped; its highwater() asserts."""
    app, watch, clock = setup({EVENTS: 91}, {EVENTS: 169})

    def unassigned(tp: Any) -> int | None:
        raise AssertionError("Partition is not assigned")

    app.consumer.highwater = unassigned  # type: ignore[method-assign]
    for t in (0, 10, 60):
        clock.t = t
        assert await watch.check() == []
