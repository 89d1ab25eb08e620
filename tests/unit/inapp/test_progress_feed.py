"""Checklist changes reach only the streams of their user, and a replica decodes only the changelog
records of users with a stream open on it."""

from __future__ import annotations

from datetime import UTC, datetime

from nudgeflow.channels.inapp.progress_feed import ProgressFeed
from nudgeflow.rules.contracts.progress import UserChecklist


def test_only_listened_users_records_are_picked_and_each_checklist_reaches_its_users_streams() -> None:
    feed = ProgressFeed()
    heard: list[tuple[str, str]] = []
    stop_ana = feed.subscribe("ana", lambda c: heard.append(("ana-tab", c.user_id)))
    feed.subscribe("a/b", lambda c: heard.append(("ab-tab", c.user_id)))
    assert feed.listened(b'"ana"') == "ana" and feed.listened(b'"a/b"') == "a/b"  # keys as Faust writes them
    assert feed.listened(b'"bob"') is None and feed.listened(None) is None
    now = datetime(2026, 11, 28, tzinfo=UTC)
    feed.publish(UserChecklist(user_id="ana", as_of=now, playbooks=[]))
    feed.publish(UserChecklist(user_id="bob", as_of=now, playbooks=[]))
    assert heard == [("ana-tab", "ana")]
    stop_ana()
    assert feed.listened(b'"ana"') is None, "no stream left: its records are skipped again"
