"""Preferences: `allows` honours every opt-out; the store keeps the newest record; the service tells the rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from nudgeflow.channels.preferences import PreferencesService, PreferencesStore
from nudgeflow.rules.contracts.events import IdentifyEvent, parse_product_event
from nudgeflow.rules.contracts.preferences import Preferences, PreferencesUpdate

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_defaults_allow_everything() -> None:
    store = PreferencesStore()
    assert all(store.allows("ana", channel, "admin_onboarding") for channel in ("in_app", "email", "slack"))


def test_channel_playbook_and_global_opt_outs() -> None:
    prefs = Preferences(user_id="ana", opt_out_channels=["email"], opt_out_playbooks=["power_users"], updated_at=NOW)
    assert not prefs.allows("email", "admin_onboarding")
    assert prefs.allows("slack", "admin_onboarding")
    assert not prefs.allows("slack", "power_users")
    assert prefs.allows("in_app")
    unsubscribed = prefs.model_copy(update={"unsubscribed": True})
    assert not any(unsubscribed.allows(channel) for channel in ("in_app", "email", "slack"))


def test_store_keeps_the_newest_record_and_forgets_on_tombstone() -> None:
    store = PreferencesStore()
    heard: list[bool] = []
    store.subscribe(lambda p: heard.append(p.unsubscribed))
    newer = Preferences(user_id="ana", unsubscribed=True, updated_at=NOW)
    older = Preferences(user_id="ana", unsubscribed=False, updated_at=NOW - timedelta(seconds=1))
    store.apply(newer)
    store.apply(older)  # this replica's earlier write, read back from the topic late
    store.apply(newer)  # the same record again: no change
    assert store.get("ana").unsubscribed
    assert heard == [True]
    store.forget("ana")
    assert store.allows("ana", "email")


async def test_service_publishes_identify_then_writes_and_skips_no_op_changes() -> None:
    store = PreferencesStore()
    calls: list[str] = []
    events: list[dict[str, object]] = []
    written: list[Preferences] = []

    async def publish(event: dict[str, object]) -> None:
        calls.append("identify")
        events.append(event)

    async def write(record: Preferences) -> None:
        calls.append("write")
        written.append(record)

    service = PreferencesService(store, write=write, publish_event=publish, clock=lambda: NOW)
    update = PreferencesUpdate(opt_out_channels=["slack", "email", "slack"], opt_out_playbooks=["p2"])
    saved = await service.set("ana", update, source="api")
    assert saved.opt_out_channels == ["email", "slack"] and saved.source == "api" and saved.updated_at == NOW
    assert calls == ["identify", "write"]
    assert store.get("ana") == saved == written[0]
    identify = parse_product_event(json.dumps(events[0]))
    assert isinstance(identify, IdentifyEvent)
    assert identify.traits == {
        "nudgeflow_unsubscribed": False,
        "nudgeflow_opt_out_channels": ["email", "slack"],
        "nudgeflow_opt_out_playbooks": ["p2"],
    }

    await service.set("ana", update, source="api")
    assert calls == ["identify", "write"], "same choice again: nothing written"

    await service.opt_out_channel("ana", "email", source="sendgrid:bounce")
    assert calls == ["identify", "write"], "already opted out of email"
    after = await service.unsubscribe("ana", source="unsubscribe_link")
    assert after.unsubscribed and after.opt_out_channels == ["email", "slack"] and after.opt_out_playbooks == ["p2"]
    assert len(written) == 2 and events[-1]["traits"]["nudgeflow_unsubscribed"] is True  # type: ignore[index]
