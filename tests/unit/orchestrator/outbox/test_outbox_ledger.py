"""The outbox table's bookkeeping, with a dict as the table and lists as the topics."""

from typing import Any

from nudgeflow.orchestrator.outbox.ledger import OutboxLedger
from nudgeflow.rules.contracts.deliveries import DeliveryRequest, DeliveryResult, ReplayRequest
from tests.support.clock import settle
from tests.support.outbox import Outbox, build_outbox, request

DAY = 86400.0


def ledger_for(outbox: Outbox, table: dict[str, Any], *, retention: float = 7 * DAY) -> OutboxLedger:
    closed: list[DeliveryResult] = []

    async def publish_closed(result: DeliveryResult, request: DeliveryRequest) -> None:
        closed.append(result)

    return OutboxLedger(table, outbox.sender, clock=outbox.clock, retention=retention, publish_closed=publish_closed)


async def deliver_topic(outbox: Outbox, ledger: OutboxLedger, partition: int = 0) -> None:
    """The agent reading back what the sender published (results and retry schedules)."""
    for record in [*outbox.retries, *outbox.results]:
        await ledger.handle(record.model_dump(mode="json"), partition)
    outbox.retries.clear()
    outbox.results.clear()


async def test_a_send_finished_here_is_not_resumed_when_the_marker_is_read_before_its_result():
    outbox = build_outbox()
    table: dict[str, Any] = {}
    ledger = ledger_for(outbox, table)
    await ledger.handle(request(1, send_at=outbox.clock.now()).model_dump(mode="json"), 0)
    await settle()
    assert len(outbox.providers["email"].sent) == 1 and outbox.results, "sent, result published"
    assert table["d-email-1"]["status"] == "in_flight", "…but not yet read back by the agent"
    assert ledger.resume(0) == [], "the marker arrives first: nothing to resume"
    await settle()
    assert len(outbox.providers["email"].calls) == 1
    await deliver_topic(outbox, ledger)
    assert table["d-email-1"]["status"] == "sent"
    await outbox.sender.stop()


async def test_a_new_worker_resumes_at_the_stored_attempt_and_due_time():
    before = build_outbox(breaker_failures=100)
    table: dict[str, Any] = {}
    ledger = ledger_for(before, table)
    before.providers["email"].down_for(3600)
    await ledger.handle(request(1, send_at=before.clock.now()).model_dump(mode="json"), 2)
    await settle()
    await deliver_topic(before, ledger, partition=2)
    entry = table["d-email-1"]
    assert entry["attempts"] == 1 and entry["next_attempt_at"], "the due time lives in the table"
    await before.sender.stop()  # the worker stops

    after = build_outbox(clock=before.clock)
    resumed = ledger_for(after, table)
    assert resumed.resume(2) == ["d-email-1"]
    await settle()
    assert after.providers["email"].calls == [], "not before its due time"
    await after.clock.advance(5)
    assert len(after.providers["email"].sent) == 1
    assert after.attempts[0].attempt == 2, "attempt numbering carries on"
    await after.sender.stop()


async def test_replay_sends_a_dead_letter_again_and_ignores_anything_else():
    outbox = build_outbox(window=600, max_age={})
    table: dict[str, Any] = {}
    ledger = ledger_for(outbox, table)
    email = outbox.providers["email"]
    email.down_for(3600)
    await ledger.handle(request(1, send_at=outbox.clock.now()).model_dump(mode="json"), 0)
    for _ in range(12):
        await outbox.clock.advance(60)
    await deliver_topic(outbox, ledger)
    assert table["d-email-1"]["status"] == "exhausted" and table["d-email-1"]["request"]
    await ledger.handle(ReplayRequest(delivery_id="d-nope", user_id="u1").model_dump(), 0)
    await outbox.clock.advance(3600)
    await ledger.handle(ReplayRequest(delivery_id="d-email-1", user_id="u1").model_dump(), 0)
    await settle()
    assert [m.delivery_id for m in email.sent] == ["d-email-1"]
    await deliver_topic(outbox, ledger)
    assert table["d-email-1"]["status"] == "sent" and "d-nope" not in table
    await outbox.sender.stop()


async def test_the_table_stays_bounded_in_a_soak_of_thirty_days():
    """200 deliveries a day for 30 days, retention 2 days: the table never holds much more
    than retention × rate, and in-flight rows are never pruned."""
    outbox = build_outbox(max_age={}, window=40 * DAY)
    table: dict[str, Any] = {}
    ledger = ledger_for(outbox, table, retention=2 * DAY)
    outbox.providers["slack"].down_for(40 * DAY)  # Slack rows stay in flight the whole time
    sizes = []
    n = 0
    await ledger.handle(request("stuck", "slack", kind="nudge", send_at=outbox.clock.now()).model_dump(mode="json"), 0)
    for _day in range(30):
        for _batch in range(20):
            for _ in range(10):
                n += 1
                await ledger.handle(request(n, send_at=outbox.clock.now()).model_dump(mode="json"), 0)
            await settle()
            await deliver_topic(outbox, ledger, partition=0)
            await outbox.clock.advance(DAY / 20)
        sizes.append(len(table))
    assert len(outbox.providers["email"].sent) == 6_000
    assert max(sizes) <= 2 * 200 + 200 + 1, sizes
    assert sizes[-1] <= sizes[5] + 10, "no growth once retention is reached"
    assert table["d-slack-stuck"]["status"] == "in_flight", "an undelivered row is never pruned"
    await outbox.sender.stop()


async def test_a_request_replayed_after_its_row_was_pruned_is_not_sent_again_by_this_worker():
    outbox = build_outbox()
    table: dict[str, Any] = {}
    ledger = ledger_for(outbox, table, retention=60)
    again = request(1, send_at=outbox.clock.now()).model_dump(mode="json")
    await ledger.handle(again, 0)
    await settle()
    await deliver_topic(outbox, ledger)
    await outbox.clock.advance(120)
    assert ledger.prune(0) == 1 and table == {}
    await ledger.handle(again, 0)
    await settle()
    assert len(outbox.providers["email"].calls) == 1 and table == {}, "no send, and no row left in flight"
    await outbox.sender.stop()


async def test_a_prune_pass_holds_one_row_at_a_time_not_a_copy_of_the_table():
    """The table holds a week of deliveries: a pass that listed every row first made a transient copy of
    it (Faust decodes each row), four times a minute, a peak growing with the table (the soak's RSS)."""
    import weakref

    class Row(dict[str, Any]):  # a decoded row; weakref-able, to count those alive at once
        pass

    class DecodingTable(dict[str, Any]):
        """Like Faust's RocksDB table: each read decodes a fresh row."""

        alive = 0
        most = 0

        def items(self) -> Any:
            for key, value in list(super().items()):
                row = Row(value)
                DecodingTable.alive += 1
                DecodingTable.most = max(DecodingTable.most, DecodingTable.alive)
                weakref.finalize(row, lambda: setattr(DecodingTable, "alive", DecodingTable.alive - 1))
                yield key, row

    outbox = build_outbox()
    now = outbox.clock.now()
    table = DecodingTable(
        {f"d-{n}": {"status": "sent", "partition": n % 2, "finished_at": now.isoformat()} for n in range(1000)}
    )
    ledger = ledger_for(outbox, table, retention=DAY)
    await outbox.clock.advance(2 * DAY)
    assert ledger.prune(0) == 500 and len(table) == 500
    assert DecodingTable.most <= 2, "rows are checked one by one and dropped"
    await outbox.sender.stop()
