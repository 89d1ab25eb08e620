"""Segment `page` and `screen` calls are read as `Page Viewed` / `Screen Viewed` track events, so a
milestone can wait for a page (the page's name is the property `page`)."""

from __future__ import annotations

import json
from pathlib import Path

from nudgeflow.orchestrator.ingest.decode import decode_event
from nudgeflow.rules.contracts.events import TrackEvent
from tests.support.rules import T0, Run, identify, ruleset_from

PLAYBOOK = """\
id: billing
name: Billing
milestones:
  - id: saw_pricing
    title: See the pricing page
    when: {event: Page Viewed, where: {page: Pricing}}
  - id: opened_billing_on_mobile
    title: Open billing in the app
    when: {event: Screen Viewed, where: {page: Billing, category: Settings}}
"""


def call(kind: str, name: str, message_id: str, **fields: object) -> bytes:
    document = {"type": kind, "userId": "u1", "messageId": message_id, "timestamp": T0.isoformat(), "name": name}
    return json.dumps(document | fields).encode()


def test_page_and_screen_calls_decode_as_the_track_events_they_stand_for() -> None:
    page = decode_event(call("page", "Pricing", "m1", properties={"path": "/pricing"}, anonymousId="a-1"))
    assert isinstance(page, TrackEvent)
    assert (page.event, page.properties) == ("Page Viewed", {"path": "/pricing", "page": "Pricing"})
    assert page.messageId == "m1" and page.model_extra == {"anonymousId": "a-1"}
    screen = decode_event(call("screen", "Billing", "m2", category="Settings"))
    assert isinstance(screen, TrackEvent) and screen.event == "Screen Viewed"
    assert screen.properties == {"page": "Billing", "category": "Settings"}


def test_a_milestone_completes_on_a_page_view_and_on_a_screen_view(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify())
    for raw in (
        call("page", "Home", "m1"),
        call("page", "Pricing", "m2"),
        call("screen", "Billing", "m3", category="Settings"),
    ):
        event = decode_event(raw)
        assert isinstance(event, TrackEvent)
        run.send(event)
    assert run.completed() == ["saw_pricing", "opened_billing_on_mobile"]
