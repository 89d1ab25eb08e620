"""A user's inbox row applies prompt records idempotently, never moves a status backwards, stays
bounded, and the feed replays to a reconnecting stream exactly what it missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nudgeflow.channels.inapp.feed import InboxFeed
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


def test_the_feed_replays_only_what_a_stream_missed_and_knows_when_it_cannot() -> None:
    feed = InboxFeed(journal_size=3)
    heard: list[str] = []
    unsubscribe = feed.subscribe(lambda entry: heard.append(entry.prompt.delivery_id))
    first = feed.publish(prompt("a"), "created", 1)
    feed.publish(prompt("b", user="ben"), "created", 1)
    feed.publish(prompt("c"), "created", 2)
    unsubscribe()
    feed.publish(prompt("d"), "created", 3)
    assert heard == ["a", "b", "c"]
    assert feed.resume_point(feed.event_id(first.sequence)) == first.sequence
    assert [e.prompt.delivery_id for e in feed.changes_since("ana", first.sequence) or []] == ["c", "d"]
    assert feed.changes_since("ana", 0) is None, "the journal no longer reaches back to the start"
    assert feed.resume_point("another-replica-7") is None
    assert feed.recent_users() == ["ana", "ben"]
