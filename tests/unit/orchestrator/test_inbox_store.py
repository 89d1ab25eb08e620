"""The inbox applies records idempotently and never moves a prompt's status backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nudgeflow.channels.inapp.store import InboxStore
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
    store = InboxStore()
    changes: list[str] = []
    store.subscribe(lambda p, change: changes.append(f"{change}:{p.status}"))
    original = store.apply(prompt())
    store.apply(original.with_status(PromptStatus.DISMISSED, at=NOW + timedelta(minutes=1)))
    store.apply(prompt(at=NOW + timedelta(minutes=2)))  # the worker re-processed the event after a crash
    [kept] = store.prompts("ana")
    assert kept.status is PromptStatus.DISMISSED
    assert kept.created_at == NOW
    assert changes == ["created:pending", "updated:dismissed"]


def test_listing_is_per_user_newest_first_with_unread_count() -> None:
    store = InboxStore()
    store.apply(prompt("old", at=NOW))
    store.apply(prompt("new", at=NOW + timedelta(hours=1)))
    store.apply(prompt("other-user", user="ben"))
    store.apply(store.get("ana", "old").with_status(PromptStatus.SEEN, at=NOW))  # type: ignore[union-attr]
    assert [p.delivery_id for p in store.prompts("ana")] == ["new", "old"]
    assert [p.delivery_id for p in store.prompts("ana", {PromptStatus.PENDING})] == ["new"]
    assert store.unread_count("ana") == 1
    assert store.users() == ["ana", "ben"]
