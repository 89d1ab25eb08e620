"""Micro-surveys in the in-app API: the prompt carries its question, the user answers once, the
answer is published as a "Survey Answered" event and becomes a `survey_answered` outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.channels.product_events import recorded_outcome
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import parse_product_event
from nudgeflow.rules.contracts.outcomes import OutcomeKind
from nudgeflow.rules.contracts.prompts import Prompt
from tests.support.inbox import InboxStore, inbox_api

SECRET = "unit-secret-of-at-least-thirty-two-bytes"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def _request(delivery_id: str, survey: dict[str, Any] | None) -> DeliveryRequest:
    return DeliveryRequest(
        delivery_id=delivery_id,
        kind="celebration",
        channel="in_app",
        user_id="ana",
        playbook_id="admin_onboarding",
        playbook_version="v1",
        milestone_id="connect_data_source",
        title="Your data is flowing",
        body="Nice.",
        send_at=NOW,
        survey=survey,
    )


class Api:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.store = InboxStore()
        self.store.apply(
            Prompt.from_delivery(_request("d1", {"question": "How easy?", "scale": 5, "comment": True}), now=NOW)
        )
        self.store.apply(
            Prompt.from_delivery(_request("d2", {"question": "Useful?", "scale": 2, "comment": False}), now=NOW)
        )
        self.store.apply(Prompt.from_delivery(_request("d3", None), now=NOW))

        async def publish(prompt: Prompt) -> None:
            self.store.apply(prompt)

        async def publish_event(event: dict[str, Any]) -> None:
            self.events.append(event)

        api = inbox_api(self.store, publish, ready=lambda: True, signing_secret=SECRET, publish_event=publish_event)
        self.client = TestClient(api)
        self.headers = {"Authorization": f"Bearer {issue_token(SECRET, 'ana')}"}

    def answer(self, delivery_id: str, **body: Any) -> Any:
        return self.client.post(f"/v1/users/ana/prompts/{delivery_id}/answer", json=body, headers=self.headers)


def test_an_answer_is_kept_on_the_prompt_and_published_once_as_an_event() -> None:
    api = Api()
    response = api.answer("d1", rating=4, comment="  The docs link helped. ")
    assert response.status_code == 200
    assert response.json()["answer"]["rating"] == 4 and response.json()["answer"]["comment"] == "The docs link helped."
    [event] = api.events
    assert (event["event"], event["properties"]["rating"], event["properties"]["scale"]) == ("Survey Answered", 4, 5)
    assert event["properties"]["milestone_id"] == "connect_data_source"
    assert api.answer("d1", rating=4, comment="The docs link helped.").status_code == 200, "the same answer: fine"
    assert api.answer("d1", rating=2).status_code == 409, "another answer is refused"
    assert len(api.events) == 1
    listed = api.client.get("/v1/users/ana/prompts", headers=api.headers).json()["prompts"]
    assert {p["delivery_id"]: (p["answer"] or {}).get("rating") for p in listed} == {"d1": 4, "d2": None, "d3": None}


def test_answers_outside_the_survey_are_refused_with_the_reason() -> None:
    api = Api()
    assert api.answer("d2", rating=3).json()["detail"] == "rating: give 1 to 2"
    assert api.answer("d2", rating=2, comment="nice").json()["detail"] == "comment: this survey asks for a rating only"
    assert api.answer("d3", rating=1).status_code == 404
    assert api.answer("d1", rating=0).status_code == 422
    assert api.events == []


def test_the_answer_event_becomes_a_survey_answered_outcome_with_rating_and_comment() -> None:
    api = Api()
    api.answer("d1", rating=5, comment="Smooth")
    event = parse_product_event(json.dumps(api.events[0]))
    outcome = recorded_outcome(event, NOW)  # type: ignore[arg-type]
    assert outcome is not None and outcome.kind is OutcomeKind.SURVEY_ANSWERED
    assert (outcome.attributes["rating"], outcome.attributes["scale"], outcome.attributes["comment"]) == (
        5,
        5,
        "Smooth",
    )
    assert outcome.outcome_id == recorded_outcome(event, NOW).outcome_id  # type: ignore[union-attr,arg-type]
