"""The event agent: batches are handled whole, retried whole while the broker refuses their
outputs, and their records acked only after the handler stored the users' state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka.errors import KafkaTimeoutError

from nudgeflow.orchestrator.event_agent import EventAgent
from tests.support.handler import Worker, batch_of
from tests.support.memory import MemoryMessage
from tests.support.rules import T0, identify, track


@dataclass
class FaustEvent:
    """What Faust's stream hands out: the record, and whether it was acked."""

    message: MemoryMessage


@dataclass
class TakingStream:
    """Faust's `Stream.noack_take` and `ack`: batches out, acks in, with what was stored at each ack."""

    batches: Sequence[Sequence[FaustEvent]]
    worker: Worker
    acked: list[tuple[int, set[str]]] = field(default_factory=list)  # (offset, users stored when acked)

    async def noack_take(self, max_: int, within: float) -> AsyncIterator[Sequence[FaustEvent]]:
        for batch in self.batches:
            assert len(batch) <= max_
            yield batch

    async def ack(self, event: FaustEvent) -> bool:
        self.acked.append((event.message.offset, set(self.worker.table)))
        return True


class Sleeps:
    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@pytest.fixture
def worker(tmp_path: Path) -> Worker:
    return Worker(tmp_path)


def agent_for(worker: Worker, sleeps: Sleeps) -> EventAgent:
    return EventAgent(worker.handler, max_records=10, max_wait_seconds=0.005, retry_delays=(0.1, 0.5), sleep=sleeps)


def events_of(worker: Worker) -> list[FaustEvent]:
    messages = batch_of(worker, identify(T0, role="admin"), track("Data Source Connected", T0))
    return [FaustEvent(m) for m in messages]


async def test_records_are_acked_only_after_their_users_state_is_stored(worker: Worker) -> None:
    sleeps = Sleeps()
    events = events_of(worker)
    stream = TakingStream([events], worker)
    await agent_for(worker, sleeps)(stream)  # type: ignore[arg-type]
    assert [offset for offset, _ in stream.acked] == [e.message.offset for e in events]
    assert all(stored == {"u1"} for _, stored in stream.acked), "no record acked before u1 was stored"
    assert worker.handler.batches == 1 and sleeps.asked == []


async def test_a_batch_the_broker_refuses_is_handled_again_with_the_same_ids(worker: Worker) -> None:
    worker.outputs.deliveries.fail_acks(KafkaTimeoutError(), KafkaTimeoutError())  # one email per attempt
    sleeps = Sleeps()
    stream = TakingStream([events_of(worker)], worker)
    await agent_for(worker, sleeps)(stream)  # type: ignore[arg-type]
    assert sleeps.asked == [0.1, 0.5], "two refusals, two waits, then the batch went through"
    emails = [d["delivery_id"] for d in worker.published("deliveries")]
    assert len(emails) == 3 and len(set(emails)) == 1, "the same email each attempt, which the outbox drops by id"
    outcomes = [o["outcome_id"] for o in worker.published("outcomes")]
    assert len(outcomes) == 3 * len(set(outcomes)), "and the same outcomes"
    assert set(worker.table) == {"u1"} and len(stream.acked) == 2


async def test_a_batch_still_refused_after_the_last_retry_raises_and_stays_unacked(worker: Worker) -> None:
    worker.outputs.deliveries.fail_acks(*(KafkaTimeoutError() for _ in range(3)))
    sleeps = Sleeps()
    stream = TakingStream([events_of(worker)], worker)
    with pytest.raises(KafkaTimeoutError):
        await agent_for(worker, sleeps)(stream)  # type: ignore[arg-type]
    assert worker.table == {} and stream.acked == [], "nothing stored, nothing committed past"
    assert sleeps.asked == [0.1, 0.5]


async def test_a_retried_batch_parks_its_malformed_record_once(worker: Worker) -> None:
    worker.outputs.deliveries.fail_acks(KafkaTimeoutError())
    worker.offset += 1
    malformed = FaustEvent(MemoryMessage("events", 0, worker.offset, b"u1", b"{not json"))
    stream = TakingStream([[malformed, *events_of(worker)]], worker)
    await agent_for(worker, Sleeps())(stream)  # type: ignore[arg-type]
    letters = worker.published("dead_letters")
    assert len(letters) == 1, "the dead letter the broker acknowledged in the first attempt is not sent again"
    assert letters[0]["source_offset"] == malformed.message.offset and len(stream.acked) == 3
    assert worker.handler.stats.dead_lettered == 1
