"""Events the API publishes are valid product events for the worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from nudgeflow.channels.product_events import prompt_status_event
from nudgeflow.rules.contracts.events import TrackEvent, parse_product_event
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_prompt_status_change_becomes_a_track_event_with_a_stable_message_id() -> None:
    prompt = Prompt(
        delivery_id="d1",
        user_id="ana",
        kind="celebration",
        title="t",
        body="b",
        playbook_id="p",
        playbook_version="v1",
        milestone_id="m",
        created_at=NOW,
        status_changed_at=NOW,
    )
    clicked = prompt.with_status(PromptStatus.CLICKED, at=NOW)
    event = parse_product_event(json.dumps(prompt_status_event(clicked)))
    assert isinstance(event, TrackEvent)
    assert event.event == "Prompt Clicked" and event.user_id == "ana"
    assert {k: event.properties[k] for k in ("delivery_id", "playbook_id", "milestone_id", "kind")} == {
        "delivery_id": "d1",
        "playbook_id": "p",
        "milestone_id": "m",
        "kind": "celebration",
    }
    assert prompt_status_event(clicked)["messageId"] == prompt_status_event(clicked)["messageId"]
    seen = prompt.with_status(PromptStatus.SEEN, at=NOW)
    assert prompt_status_event(seen)["event"] == "Prompt Seen"
    assert prompt_status_event(seen)["messageId"] != prompt_status_event(clicked)["messageId"]
