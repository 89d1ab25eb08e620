"""The event agent's handler with in-memory topics and table: what is published, in which order,
and when the user's state is written."""

from __future__ import annotations

import asyncio
import base64
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.handler import Worker, batch_of
from tests.support.rules import T0, identify, track


@pytest.fixture
def worker(tmp_path: Path) -> Worker:
    return Worker(tmp_path)


async def test_an_event_publishes_its_outputs_then_stores_the_record_and_arms_its_timer(worker: Worker) -> None:
    await worker.send(identify(T0, role="admin"))
    await worker.send(track("Data Source Connected", T0))
    assert [p["title"] for p in worker.published("prompts")] == ["Connected"]
    assert [d["channel"] for d in worker.published("deliveries")] == ["email"]
    assert "milestone_completed" in {o["kind"] for o in worker.published("outcomes")}
    stored = worker.table["u1"]
    assert stored["partition"] == zlib.crc32(b"u1") % 4
    assert worker.timers.count({0, 1, 2, 3}) == 1
    assert worker.handler.stats.processed == 2


async def test_the_record_is_stored_only_after_the_broker_acknowledged_the_outputs(worker: Worker) -> None:
    await worker.send(identify(T0, role="admin"))
    before = worker.table["u1"]
    held = worker.outputs.outcomes.hold_acks()
    task = asyncio.create_task(worker.send(track("Data Source Connected", T0)))
    await held.reached.wait()  # the handler published and now waits for the acks
    assert worker.published("prompts") and worker.published("outcomes")
    assert worker.table["u1"] is before and not task.done(), "a crash now re-processes the event"
    held.release.set()
    await task
    assert worker.table["u1"] is not before


async def test_a_due_timer_comes_back_through_the_timers_topic_and_fires_once(worker: Worker) -> None:
    await worker.send(identify(T0, role="admin"))
    await worker.send(track("Data Source Connected", T0))
    worker.clock.advance(timedelta(hours=2))
    assert await worker.firing.fire_due({0, 1, 2, 3}) == 1
    [command] = worker.outputs.timers.take()
    for _ in range(2):  # published twice (a crash before the commit): applied once
        await worker.consume(command.value or b"", command.key, topic="timers")
    assert [p["title"] for p in worker.published("prompts")] == ["Connected", "Invite someone"]
    assert worker.handler.stats.timers_fired == 1


async def test_malformed_records_are_dead_lettered_with_their_bytes(worker: Worker) -> None:
    await worker.consume(b"{not json", b"u1")
    [letter] = worker.published("dead_letters")
    assert letter["error_type"] == "not_json" and base64.b64decode(letter["value_base64"]) == b"{not json"
    assert letter["rejected_at"].startswith("2026-03-02T12:00:00")  # the injected clock
    await worker.consume(b'{"user_id": "u1"}', b"u1", topic="timers")
    assert [d["error_type"] for d in worker.published("dead_letters")] == ["not_json", "processing_error"]
    assert worker.table == {} and worker.handler.stats.dead_lettered == 2


async def test_a_mis_keyed_event_goes_back_to_its_users_partition_unprocessed(worker: Worker) -> None:
    event = track("Data Source Connected", T0)
    raw = event.model_dump_json(by_alias=True).encode()
    await worker.consume(raw, key=None)
    [message] = worker.outputs.events.take()
    assert (message.key, message.value) == (b"u1", raw)
    assert worker.table == {} and worker.handler.stats.rekeyed == 1


async def test_a_duplicate_publishes_nothing(worker: Worker) -> None:
    await worker.send(identify(T0, role="admin"))
    connected = track("Data Source Connected", T0)
    await worker.send(connected)
    published = len(worker.broker.log)
    await worker.send(connected)
    assert len(worker.broker.log) == published and worker.handler.stats.duplicates == 1


async def test_preferences_from_identify_traits_are_published_first_and_apply_to_later_events(worker: Worker) -> None:
    await worker.send(identify(T0, role="admin", nudgeflow_opt_out_channels=["in_app"]))
    assert worker.broker.log[0].topic == "preferences"
    assert worker.preferences.get("u1").opt_out_channels == ["in_app"]
    await worker.send(track("Data Source Connected", T0))
    assert worker.published("prompts") == []
    assert [d["channel"] for d in worker.published("deliveries")] == ["email"]


async def test_a_batch_waits_once_for_every_ack_then_stores_each_user_once(worker: Worker) -> None:
    """Two users, several records each, in one batch: a user's later record sees what the earlier
    ones did, and nothing is stored before the broker acknowledged every output of the batch."""
    held = worker.outputs.outcomes.hold_acks()
    batch = batch_of(
        worker,
        identify(T0, role="admin"),
        identify(T0, role="admin", user="u2"),
        track("Data Source Connected", T0),
        track("Data Source Connected", T0, user="u2"),
        track("Teammate Invited", T0),
    )
    task = asyncio.create_task(worker.handler.handle_batch(batch))
    await held.reached.wait()
    assert worker.table == {} and not task.done(), "a crash now re-processes the whole batch"
    held.release.set()
    await task
    assert sorted(worker.table) == ["u1", "u2"] and worker.handler.batches == 1
    assert [p["title"] for p in worker.published("prompts") if p["user_id"] == "u1"] == ["Connected", "Team work"]
    assert worker.timers.count({0, 1, 2, 3}) == 1, "u2's stall timer is armed; u1's was cancelled in the batch"


async def test_a_batch_replayed_after_a_crash_publishes_the_same_ids_and_stores_the_same_state(
    worker: Worker, tmp_path: Path
) -> None:
    events = (identify(T0, role="admin"), track("Data Source Connected", T0))
    await worker.handler.handle_batch(batch_of(worker, *events))
    first_ids = {o["outcome_id"] for o in worker.published("outcomes")}
    stored = worker.table["u1"]
    again = Worker(tmp_path)  # a fresh worker over the state as it was before the batch: nothing stored
    await again.handler.handle_batch(batch_of(again, *events))
    assert {o["outcome_id"] for o in again.published("outcomes")} == first_ids
    assert again.table["u1"]["progress"] == stored["progress"]


TEAM_PLAYBOOK = """\
id: team
name: Team
audience: {role: admin}
milestones:
  - id: invite
    title: Any admin invited a teammate
    when: {event: Teammate Invited}
    account: {members: any}
    celebrate:
      - {channel: in_app, title: "Your team grew", body: "A teammate was invited"}
"""


async def test_an_account_milestone_goes_member_to_account_to_every_member_and_a_replay_changes_nothing(
    tmp_path: Path,
) -> None:
    worker = Worker(tmp_path, TEAM_PLAYBOOK)
    for user in ("ana", "bo"):
        await worker.send(identify(user=user, role="admin", account_id="acme"))
    await worker.send(track("Teammate Invited", user="bo"))
    signals = worker.broker.topic("relay").messages
    assert {m.key for m in signals} == {b"acme"}, "signals are keyed by account: its record lives there"
    assert await worker.pass_on("relay") == 3  # two members joined, one of them invited
    assert set(worker.accounts["acme"]["members"]["team"]) == {"ana", "bo"}
    notices = worker.broker.topic("relay").messages[3:]
    assert sorted(m.key for m in notices) == [b"ana", b"bo"], "notices are keyed by member: back to their state"
    assert await worker.pass_on("relay") == 2
    prompts = [p["user_id"] for p in worker.published("prompts")]
    assert sorted(prompts) == ["ana", "bo"]

    for message in [*signals[:3], *notices]:  # a crash before the offsets were committed: all again
        await worker.consume(message.value or b"", message.key, "relay")
    assert worker.broker.topic("relay").take() == [], "a reached milestone is not reached again"
    assert sorted(p["user_id"] for p in worker.published("prompts")) == ["ana", "bo"], "no second celebration"
