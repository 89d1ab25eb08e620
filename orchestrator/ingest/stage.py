"""The ingest stage: Nudgeflow's own partitioning of every product event, whatever produced it.

Producers of the public events topic may key by userId with any partitioner (librdkafka's CRC32,
murmur2), or not key at all. This stage reads that topic in batches in its own consumer group,
dead-letters records that cannot be events, and forwards every valid event, keyed by userId, to the
internal by-user topic with Nudgeflow's one partitioner (murmur2, as Kafka Streams' repartition
topics). The Faust agent reads only the by-user topic, so a user's state lives on one partition.
Source offsets are committed only after every forward and dead letter of the batch is acknowledged:
a crash re-forwards (the agent drops repeated messageIds), it never skips.

`admit` is the pre-filter: the worker passes the pipeline's `reads_track`, so track (and page,
screen) calls no loaded rule reads, most of a product's stream, are counted and dropped here, in
batches, instead of paying Faust's per-message cost; identify calls always pass. The filter looks
only at the call's type, user and event name (decode.py's `read_call`), so noise costs a JSON parse,
not a validation: a dropped call that would have failed validation is dropped, not dead-lettered.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.broker.partitioning import partition_for, partitioner
from nudgeflow.orchestrator.ingest.decode import Rejected, read_call, validate_call
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.rules.contracts.dead_letters import DeadLetter

log = logging.getLogger(__name__)

Admit = Callable[[str], bool]
"""Whether a rule reads the track event of this name."""
MAX_BATCH = 1000
FETCH_WAIT_MS = 100
RETRY_SECONDS = 1.0


def admit_all(name: str) -> bool:
    """Forward every valid event (`NUDGEFLOW_INGEST_PREFILTER=false`, and tests of the stage alone)."""
    return True


@dataclass
class IngestCounts:
    forwarded: int = 0
    dead_lettered: int = 0
    filtered: int = 0


class IngestStage:
    """Consumer group `<app_id>-ingest` on the events topic → the by-user topic (see module doc)."""

    def __init__(self, settings: Settings, kafka_options: dict[str, Any], *, admit: Admit = admit_all) -> None:
        self.settings = settings
        self.source = settings.events_topic
        self.target = settings.user_events_topic
        self.admit = admit
        self.counts = IngestCounts()
        group_timeouts: dict[str, Any] = {}
        if settings.broker_profile == "tansu":  # as the Faust app: Tansu holds JoinGroup for half the session
            group_timeouts = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 1000}
        self._consumer = AIOKafkaConsumer(
            self.source,
            group_id=f"{settings.app_id}-ingest",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=MAX_BATCH,
            fetch_max_wait_ms=settings.fetch_wait_ms,
            **group_timeouts,
            **kafka_options,
        )
        self._producer = AIOKafkaProducer(acks="all", partitioner=partitioner, linger_ms=2, **kafka_options)
        self._partitions = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._producer.start()
        try:
            self._partitions = len(await self._producer.partitions_for(self.target))
            await self._consumer.start()
        except BaseException:
            await self._producer.stop()
            raise
        self._task = asyncio.create_task(self._run(), name="ingest")
        self._task.add_done_callback(_report_end)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()
        await self._producer.stop()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        """Never ends on its own: a failed batch is read again from the committed offsets."""
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=MAX_BATCH)
            except KafkaError as exc:  # the broker is away: aiokafka reconnects, keep asking
                log.warning("ingest: fetch failed (%r), retrying", exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if not batches:
                continue
            try:
                await self.forward(batches)
            except Exception as exc:  # not all acknowledged: nothing of the batch is committed
                log.warning("ingest: forwarding failed (%r), reading again from the committed offsets", exc)
                await asyncio.sleep(RETRY_SECONDS)
                await self._rewind(batches)
                continue
            offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
            try:
                await self._consumer.commit(offsets)
            except (CommitFailedError, KafkaError) as exc:  # rebalanced meanwhile: the new owner forwards again
                log.info("ingest: commit refused (%r); the records are forwarded again, deduplicated", exc)

    async def _rewind(self, partitions: Iterable[TopicPartition]) -> None:
        owned = [tp for tp in partitions if tp in self._consumer.assignment()]
        if owned:
            try:
                await self._consumer.seek_to_committed(*owned)
            except Exception as exc:  # revoked meanwhile: the next owner starts at the committed offset anyway
                log.info("ingest: rewind failed (%r)", exc)

    async def forward(self, batches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> None:
        """Forward or dead-letter every record of the batch and wait for all acknowledgements. Records of
        different source partitions are sent in timestamp order, the best guess at a user's order when a
        user's events were split over partitions by the producer."""
        sends = [await self._route(record) for record in _in_time_order(batches.values())]
        await asyncio.gather(*(send for send in sends if send is not None))

    async def _route(self, record: ConsumerRecord[Any, Any]) -> asyncio.Future[Any] | None:
        settings = self.settings
        call = read_call(record.value, max_bytes=settings.max_event_bytes, max_depth=settings.max_event_depth)
        if isinstance(call, Rejected):
            return await self._dead_letter(record, call)
        if call.name is not None and not self.admit(call.name):
            self.counts.filtered += 1
            metrics.EVENTS.labels("filtered").inc()
            return None
        decoded = validate_call(call)
        if isinstance(decoded, Rejected):
            return await self._dead_letter(record, decoded)
        key = decoded.owner.encode()  # the user; an alias goes to its previous id, which hands over
        self.counts.forwarded += 1
        future: asyncio.Future[Any] = await self._producer.send(
            self.target,
            record.value,
            key=key,
            partition=partition_for(key, self._partitions),
            timestamp_ms=record.timestamp,
            headers=list(record.headers or ()),
        )
        return future

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], rejected: Rejected) -> asyncio.Future[Any]:
        letter = DeadLetter.of(
            reason=rejected.reason,
            error_type=rejected.error_type,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            rejected_at=datetime.now(UTC),
            max_bytes=self.settings.max_event_bytes,
        )
        metrics.DEAD_LETTERS.labels(rejected.error_type).inc()
        self.counts.dead_lettered += 1
        log.warning("dead-lettered %s[%s]@%s: %s", record.topic, record.partition, record.offset, rejected.reason)
        future: asyncio.Future[Any] = await self._producer.send(
            self.settings.dead_letter_topic, letter.model_dump_json().encode(), key=letter.kafka_key()
        )
        return future


def _report_end(task: asyncio.Task[None]) -> None:
    """The stage only ends when stopped; anything else is an error the operator must see (and /readyz fails)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("ingest stage stopped: no event reaches the rules any more", exc_info=task.exception())


def _in_time_order(batches: Iterable[list[ConsumerRecord[Any, Any]]]) -> list[ConsumerRecord[Any, Any]]:
    """Interleave the partitions' records by timestamp; each partition's own log order is kept."""
    return list(heapq.merge(*batches, key=lambda record: record.timestamp))
