"""A user's inbox row applies prompt records idempotently, never moves a status backwards, stays
bounded, and the feed replays to a reconnecting stream exactly what it missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nudgeflow.channels.inapp.feed import InboxFeed, Position
from nudgeflow.channels.inapp.inbox import MAX_PROMPTS_PER_USER, UserInbox
from nudgeflow.channels.inapp.listing import in_view, unread
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def prompt(delivery_id: str = "d1", user: str = "ana", at: datetime = NOW) -> Prompt:
    return Prompt(
        delivery_id=delivery_id,
        user_id=user,
        kind="celebration",
        title="t",
        body="b",
        playbook_id="p",
        playbook_version="v1",
        milestone_id="m",
        created_at=at,
        status_changed_at=at,
    )


def test_replayed_creation_does_not_reset_a_dismissed_prompt() -> None:
    inbox = UserInbox(user_id="ana")
    changes = [inbox.apply(prompt())]
    changes.append(inbox.apply(prompt().with_status(PromptStatus.DISMISSED, at=NOW + timedelta(minutes=1))))
    changes.append(inbox.apply(prompt(at=NOW + timedelta(minutes=2))))  # the worker re-processed the event
    [kept] = inbox.listing()
    assert kept.status is PromptStatus.DISMISSED
    assert kept.created_at == NOW
    assert changes == ["created", "updated", None]


def test_listing_is_newest_first_with_unread_count_and_survives_the_table_round_trip() -> None:
    inbox = UserInbox(user_id="ana")
    inbox.apply(prompt("old", at=NOW))
    inbox.apply(prompt("new", at=NOW + timedelta(hours=1)))
    inbox.apply(prompt("old").with_status(PromptStatus.SEEN, at=NOW))
    stored = UserInbox.load("ana", inbox.dump())
    assert [p.delivery_id for p in stored.listing()] == ["new", "old"]
    assert [p.delivery_id for p in in_view(stored.listing(), now=NOW, statuses=[PromptStatus.PENDING])] == ["new"]
    assert unread(stored.listing(), NOW) == 1
    assert stored.changed_prompt() == stored.prompts["old"]
    assert UserInbox.load("ben", None).listing() == []


def test_a_full_inbox_drops_dismissed_prompts_first_then_the_oldest() -> None:
    inbox = UserInbox(user_id="ana")
    inbox.apply(prompt("dismissed-newest", at=NOW + timedelta(days=30)).with_status(PromptStatus.DISMISSED, at=NOW))
    for n in range(MAX_PROMPTS_PER_USER):
        inbox.apply(prompt(f"p{n:04d}", at=NOW + timedelta(minutes=n)))
    assert len(inbox.prompts) == MAX_PROMPTS_PER_USER
    assert "dismissed-newest" not in inbox.prompts
    inbox.apply(prompt("one-more", at=NOW + timedelta(days=1)))
    assert "p0000" not in inbox.prompts and "one-more" in inbox.prompts


def test_the_feed_replays_only_what_a_stream_missed_on_any_replica_and_knows_when_it_cannot() -> None:
    partitions = {"ana": 0, "ben": 1}
    here, there = (InboxFeed(partitions.__getitem__, journal_size=4) for _ in range(2))
    for feed in (here, there):
        feed.start(0, 10)
        feed.start(1, 4)
    heard: list[str] = []
    unsubscribe = here.subscribe(lambda entry: heard.append(entry.prompt.delivery_id))
    changes = [("a", "ana", 0, 10), ("b", "ben", 1, 4), ("c", "ana", 0, 11)]
    for feed in (here, there):  # both replicas tail the same changelog
        for delivery, user, partition, offset in changes:
            feed.publish(prompt(delivery, user=user), "created", 1, Position(partition, offset))
    first = here.position_of("ana")
    assert first == Position(0, 11) and heard == ["a", "b", "c"]
    unsubscribe()
    for feed in (here, there):
        feed.publish(prompt("d"), "created", 3, Position(0, 12))
    assert heard == ["a", "b", "c"]
    seen = Position.parse(Position(0, 10).event_id)
    assert seen == Position(0, 10)
    assert [e.prompt.delivery_id for e in there.changes_since("ana", seen) or []] == ["c", "d"], "any replica"
    from_start = there.changes_since("ana", Position(0, 9)) or []
    assert [e.prompt.delivery_id for e in from_start] == ["a", "c", "d"], "it heard everything from offset 10"
    assert there.changes_since("ana", Position(0, 8)) is None, "offset 9 is before what it heard"
    there.publish(prompt("e"), "created", 4, Position(0, 13))  # the journal of 4 drops offset 10
    assert there.changes_since("ana", Position(0, 9)) is None, "offset 10 is no longer in the journal"
    assert [e.prompt.delivery_id for e in there.changes_since("ana", Position(0, 10)) or []] == ["c", "d", "e"]
    assert there.changes_since("ana", Position(1, 4)) is None, "a position on another user's partition"
    assert Position.parse("garbage") is None and Position.parse("another-replica-7") is None
    assert here.recent_users() == ["ana", "ben"]
