"""A targeted patch of faust-streaming 0.15.3's offset tracking: never commit past a record nobody processed.

The bug (measured in /work/shared/notes/stack.md, "Records lost at a takeover"): after a rebalance, table
recovery seeks the stream partitions to their committed offsets (`tables/recovery.py`, `_resume_streams`)
while `Consumer._drain_messages` is still handing out a batch fetched *before* the seek. The next record
of that stale batch is far above the new read position, so the drain records a gap (`_add_gap`), and
`_new_offset` treats every gap as processed; records that were queued to the agent and then dropped by
the rebalance's flow-control clear are re-fetched, dropped again as "below the read offset", and the
next commit goes past them. Upstream reports of the same family: faust-streaming #216, #221 and the
open #606 (https://github.com/faust-streaming/faust/issues/606); the #223 generation check cannot catch
it because both seeks happen in one generation.

The fix is position based and lives in the one place that hands records to streams:

- Every write to `Consumer._read_offset` other than the drain's own (a seek, `perform_seek`,
  `_seek_wait`, a revocation) records where the fetcher was moved to: the next offset it will return.
- The drain delivers a source-topic record only if it is exactly the next offset expected. A record
  above it is a jump: it is abandoned, the partition is sought back to the expected offset, and the
  rest of that partition's records in the same (stale) batch are abandoned too. If the *next* fetch,
  made from the expected offset, still starts higher, the broker has confirmed the records are gone
  (retention, compaction, transaction markers): only then is the gap recorded as done.
- The read position advances only if the agent took the record and no seek happened meanwhile.

Changelog partitions keep Faust's own handling (gaps there are normal: compaction). `apply()` is
idempotent and refuses any other Faust version: the replaced `_drain_messages` is a copy of 0.15.3's
with these changes, so an upgrade must re-check the upstream code first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

log = logging.getLogger(__name__)

FAUST_VERSION = "0.15.3"
UPSTREAM_ISSUES = (
    "https://github.com/faust-streaming/faust/issues/216",
    "https://github.com/faust-streaming/faust/issues/221",
    "https://github.com/faust-streaming/faust/issues/606",
)
_APPLIED_FLAG = "_nudgeflow_offsets_patched"
_UPSTREAM: dict[str, Any] = {}


def upstream_drain() -> Any:
    """Faust's own `_drain_messages` as it was before `apply()` (for the test that shows the bug)."""
    apply()
    return _UPSTREAM["_drain_messages"]


class ReadOffsets(defaultdict[Any, int | None]):
    """Faust's `_read_offset` map, which also knows the next offset the fetcher will return per partition.

    Faust writes a seek's target here ("offset to read next"); the drain writes the last offset it
    delivered through `delivered()`, which doesn't count as a seek. `seeks` counts the seeks per partition
    so the drain can tell that one happened while it awaited the agent.
    """

    def __init__(self, *, unknown_is_start: bool) -> None:
        super().__init__(lambda: None)
        self.expected: dict[Any, int | None] = {}
        self.seeks: dict[Any, int] = defaultdict(int)
        # With auto_offset_reset=earliest, "no committed offset" means the fetcher starts at the log start:
        # expecting 0 is then right or, after retention, confirmed by one re-seek.
        self.unknown_is_start = unknown_is_start

    def __missing__(self, tp: Any) -> None:
        return None  # reading an unknown partition is not a seek: don't insert (defaultdict would, via __setitem__)

    def __setitem__(self, tp: Any, offset: int | None) -> None:
        super().__setitem__(tp, offset)
        self.expected[tp] = offset if offset is not None else (0 if self.unknown_is_start else None)
        self.seeks[tp] += 1

    def update(self, *args: Any, **kwargs: Any) -> None:
        for tp, offset in dict(*args, **kwargs).items():
            self[tp] = offset

    def __delitem__(self, tp: Any) -> None:
        super().__delitem__(tp)
        self.expected.pop(tp, None)
        self.seeks[tp] += 1

    def pop(self, tp: Any, *default: Any) -> Any:
        self.expected.pop(tp, None)
        self.seeks[tp] += 1
        return super().pop(tp, *default)

    def delivered(self, tp: Any, offset: int) -> None:
        """The drain handed `offset` to the agent: Faust's read offset moves to it, the next expected after it."""
        dict.__setitem__(self, tp, offset)
        self.expected[tp] = offset + 1


def apply() -> None:
    """Patch Faust's consumer once per process. Raises if the installed Faust isn't the reviewed version."""
    import faust
    from faust.transport import consumer as consumer_module

    if faust.__version__ != FAUST_VERSION:
        raise RuntimeError(
            f"nudgeflow's offset-tracking patch is written for faust-streaming {FAUST_VERSION}, found "
            f"{faust.__version__}: re-check Consumer._drain_messages upstream ({', '.join(UPSTREAM_ISSUES)})"
        )
    consumer_class = consumer_module.Consumer
    if getattr(consumer_class, _APPLIED_FLAG, False):
        return
    original_init = consumer_class.__init__
    _UPSTREAM["_drain_messages"] = consumer_class._drain_messages

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        earliest = str(self.app.conf.consumer_auto_offset_reset).lower() == "earliest"
        self._read_offset = ReadOffsets(unknown_is_start=earliest)

    original_perform_seek = consumer_class.perform_seek

    async def perform_seek(self: Any) -> None:
        await original_perform_seek(self)
        await _rewind_uncommitted(self)

    setattr(consumer_class, "__init__", __init__)  # noqa: B010 -- patching a class, on purpose
    setattr(consumer_class, "_drain_messages", _drain_messages)  # noqa: B010
    setattr(consumer_class, "perform_seek", perform_seek)  # noqa: B010
    setattr(consumer_class, _APPLIED_FLAG, True)
    log.debug("faust offset-tracking patch applied (%s)", ", ".join(UPSTREAM_ISSUES))


async def _rewind_uncommitted(consumer: Any) -> None:
    """`perform_seek` moves nothing for a partition without a committed offset (aiokafka's
    `seek_to_committed` skips it), so records fetched and then dropped at a rebalance (Faust's `getmany`
    stops a batch when the generation changes or the flow stops) stay skipped: the fetcher is past them
    and, once the producers pause, no later record reveals the jump. Such partitions start at the log
    start (auto_offset_reset=earliest), so seek them there explicitly."""
    read_offsets = consumer._read_offset
    if not (isinstance(read_offsets, ReadOffsets) and read_offsets.unknown_is_start):
        return
    uncommitted = {
        tp: 0 for tp in consumer.assignment() if read_offsets.get(tp) is None and not consumer._is_changelog_tp(tp)
    }
    if not uncommitted:
        return
    try:
        await consumer.seek_wait(uncommitted)
    except Exception as exc:  # revoked meanwhile: the next assignment seeks again
        log.info("seek to the log start of %s failed: %r", sorted(map(str, uncommitted)), exc)
        return
    read_offsets.update({tp: None for tp in uncommitted})  # `_seek_wait` deleted them: expect the log start


class _Jumps:
    """Per partition: the expected offset we sought back to after a jump, and in which fetch."""

    def __init__(self) -> None:
        self._sought: dict[Any, tuple[int, int]] = {}

    def first_in_batch(self, tp: Any, expected: int, batch: int) -> bool | None:
        """None: already sought back in this batch (abandon quietly); True: a new jump; False: the
        broker returned the higher offset again from the expected one, so the gap is real."""
        sought = self._sought.get(tp)
        if sought is None or sought[0] != expected:
            self._sought[tp] = (expected, batch)
            return True
        if sought[1] == batch:
            return None
        del self._sought[tp]
        return False

    def clear(self, tp: Any) -> None:
        self._sought.pop(tp, None)


async def _drain_messages(self: Any, fetcher: Any) -> None:
    """faust-streaming 0.15.3's `Consumer._drain_messages` with position-checked delivery (see module doc)."""
    from faust.transport.consumer import CONSUMER_FETCHING

    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    read_offsets = self._read_offset
    tracked = isinstance(read_offsets, ReadOffsets)
    get_read_offset = read_offsets.__getitem__
    flag_consumer_fetching = CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    jumps = _Jumps()
    batch = 0

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = getmany(timeout=1.0)
            batch += 1
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    offset = message.offset
                    if not tracked or self._is_changelog_tp(tp):
                        await _deliver_like_upstream(self, tp, message, get_read_offset(tp), acks_enabled_for)
                        continue
                    seeks = read_offsets.seeks[tp]
                    expected = read_offsets.expected.get(tp)
                    if expected is not None and offset < expected:
                        continue  # already delivered (a re-fetch after a seek back)
                    if expected is not None and offset > expected:
                        verdict = jumps.first_in_batch(tp, expected, batch)
                        if verdict is None:
                            continue
                        if verdict:
                            await _seek_back(self, tp, expected, offset)
                            continue
                        log.warning(
                            "%s: offsets %d..%d are not on the broker (retention, compaction or transaction "
                            "markers); continuing at %d",
                            tp,
                            expected,
                            offset - 1,
                            offset,
                        )
                        if acks_enabled_for(message.topic):
                            await self._add_gap(tp, expected, offset - 1)
                        if read_offsets.seeks[tp] != seeks:
                            continue  # sought while recording the gap: the new position decides
                    jumps.clear(tp)
                    callback_coro = callback(message)
                    results = await self.wait_first(callback_coro, self.suspend_flow.wait())
                    if callback_coro in results.done and read_offsets.seeks[tp] == seeks:
                        read_offsets.delivered(tp, offset)
                unset_flag(flag_consumer_fetching)

    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)


async def _seek_back(consumer: Any, tp: Any, expected: int, offset: int) -> None:
    """A record above the expected offset: abandon it and move the fetcher back to the expected offset."""
    log.info("%s: got offset %d while expecting %d (fetched before a seek); seeking back", tp, offset, expected)
    await seek_to(consumer, tp, expected)


async def seek_to(consumer: Any, tp: Any, offset: int) -> None:
    """Move the fetcher of `tp` to `offset` and expect that offset next (logged if the seek fails).

    Through `seek_wait`, which runs the seek on the consumer's own thread: aiokafka is not thread-safe,
    and Faust's `Consumer.seek` calls it from the event loop's thread (a partition awaiting its reset
    then stopped fetching for good, seen in the takeover bench)."""
    try:
        await consumer.seek_wait({tp: offset})
    except Exception as exc:  # revoked meanwhile: the next assignment seeks to the committed offset anyway
        log.info("%s: seek to %d failed: %r", tp, offset, exc)
        return
    consumer._read_offset[tp] = offset  # `_seek_wait` deletes the read offset for 0: expect 0, not "unknown"


async def _deliver_like_upstream(
    consumer: Any, tp: Any, message: Any, r_offset: int | None, acks_enabled_for: Any
) -> None:
    """Faust's own per-record step, kept for changelog partitions (compacted: gaps are normal there)."""
    offset = message.offset
    if r_offset is None or offset >= r_offset:
        gap = offset - (r_offset or 0)
        if gap > 1 and r_offset and acks_enabled_for(message.topic):
            await consumer._add_gap(tp, r_offset + 1, offset)
        await consumer.wait_first(consumer.callback(message), consumer.suspend_flow.wait())
        read_offsets = consumer._read_offset
        if isinstance(read_offsets, ReadOffsets):
            read_offsets.delivered(tp, offset)
        else:
            read_offsets[tp] = offset
