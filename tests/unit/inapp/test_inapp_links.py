"""Calls to action in the in-app API: the prompt JSON carries them, a click names its link, and the
signed redirect of email/Slack links records the click and leads only where the message pointed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from nudgeflow.channels.base import OutboundMessage
from nudgeflow.channels.inapp.auth import click_url, issue_click_token, issue_token
from nudgeflow.channels.inapp.clicks import tracked_links
from nudgeflow.channels.product_events import LinkClick, link_click_outcome
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import parse_product_event
from nudgeflow.rules.contracts.outcomes import OutcomeKind
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus
from tests.support.inbox import InboxStore, inbox_api

SECRET = "unit-secret-of-at-least-thirty-two-bytes"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
CTA = {"label": "Connect a source", "url": "https://app.example.com/sources/new?ws=w-42"}
REQUEST = DeliveryRequest(
    delivery_id="d1",
    kind="nudge",
    channel="in_app",
    user_id="ana",
    playbook_id="admin_onboarding",
    playbook_version="v1",
    milestone_id="connect_data_source",
    title="Connect a source",
    body="It takes two minutes.",
    send_at=NOW,
    cta=CTA,
    secondary_cta={"label": "Book a call", "url": "https://cal.example.com/cs"},
    links=[{"label": "Help", "url": "https://docs.example.com/sources"}],
    image={"url": "https://cdn.example.com/s.png", "alt": "Sources"},
)


class Api:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.store = InboxStore()
        self.store.apply(Prompt.from_delivery(REQUEST, now=NOW))

        async def publish(prompt: Prompt) -> None:
            return None

        async def publish_event(event: dict[str, Any]) -> None:
            self.events.append(event)

        api = inbox_api(self.store, publish, ready=lambda: True, signing_secret=SECRET, publish_event=publish_event)
        self.client = TestClient(api, follow_redirects=False)
        self.headers = {"Authorization": f"Bearer {issue_token(SECRET, 'ana')}"}

    def click(self, link: str | None, status: str = "clicked") -> Any:
        body = {"status": status} if link is None else {"status": status, "link": link}
        return self.client.post("/v1/users/ana/prompts/d1/status", json=body, headers=self.headers)


def test_the_prompt_json_carries_the_cta_links_and_image() -> None:
    api = Api()
    [prompt] = api.client.get("/v1/users/ana/prompts", headers=api.headers).json()["prompts"]
    assert prompt["cta"] == CTA
    assert prompt["secondary_cta"]["label"] == "Book a call"
    assert prompt["links"] == [{"label": "Help", "url": "https://docs.example.com/sources"}]
    assert prompt["image"] == {"url": "https://cdn.example.com/s.png", "alt": "Sources"}


def test_a_cta_click_marks_the_prompt_clicked_and_publishes_which_link_with_its_url() -> None:
    api = Api()
    response = api.click("cta")
    assert response.status_code == 200 and response.json()["status"] == "clicked"
    [event] = api.events
    assert event["event"] == "Prompt Clicked"
    assert (event["properties"]["link"], event["properties"]["url"]) == ("cta", CTA["url"])
    assert api.click("links.0").status_code == 200  # already clicked: another link still counts, once
    assert api.click("links.0").status_code == 200
    assert [e["properties"]["link"] for e in api.events] == ["cta", "links.0", "links.0"]
    assert len({e["messageId"] for e in api.events}) == 2  # the repeat has the same id: the worker drops it
    assert api.store.get("ana", "d1").status is PromptStatus.CLICKED


def test_a_click_on_a_link_the_prompt_does_not_have_is_refused() -> None:
    api = Api()
    assert api.click("links.3").status_code == 404
    assert api.click("javascript").status_code == 422
    assert api.click("cta", status="seen").status_code == 422
    assert api.events == []


def test_a_click_event_becomes_a_link_clicked_outcome() -> None:
    api = Api()
    api.click("secondary_cta")
    event = parse_product_event(json.dumps(api.events[0]))
    outcome = link_click_outcome(event, NOW)
    assert outcome is not None and outcome.kind is OutcomeKind.LINK_CLICKED
    assert outcome.outcome_id == "link_clicked:d1:secondary_cta"
    assert (outcome.delivery_id, outcome.channel, outcome.playbook_id) == ("d1", "in_app", "admin_onboarding")
    assert outcome.attributes["url"] == "https://cal.example.com/cs"
    plain = Api()
    plain.click(None)
    assert link_click_outcome(parse_product_event(json.dumps(plain.events[0])), NOW) is None  # no link named


def test_the_redirect_records_the_click_and_leads_to_the_signed_url() -> None:
    api = Api()
    click = LinkClick(user_id="ana", delivery_id="d2", link="cta", url=CTA["url"], channel="email", playbook_id="p")
    path = click_url("https://api.example.com/", SECRET, click).removeprefix("https://api.example.com")
    response = api.client.get(path)
    assert response.status_code == 302 and response.headers["location"] == CTA["url"]
    [event] = api.events
    assert (event["event"], event["userId"], event["properties"]["channel"]) == ("Link Clicked", "ana", "email")
    outcome = link_click_outcome(parse_product_event(json.dumps(event)), NOW)
    assert outcome is not None and outcome.outcome_id == "link_clicked:d2:cta" and outcome.channel == "email"


def test_a_forged_or_foreign_token_is_no_redirect() -> None:
    api = Api()
    click = LinkClick(user_id="ana", delivery_id="d2", link="cta", url="https://evil.example.com", channel="email")
    forged = issue_click_token("another-secret-of-at-least-thirty-two-bytes", click)
    for token in (forged, issue_token(SECRET, "ana"), "garbage"):
        response = api.client.get(f"/v1/r/{token}")
        assert response.status_code == 400 and "location" not in response.headers
    assert api.events == []


def test_email_and_slack_links_are_rewritten_to_the_redirect() -> None:
    email = REQUEST.model_copy(update={"channel": "email"})
    message = tracked_links(OutboundMessage.from_delivery(email), email, "https://api.example.com", SECRET)
    assert message.cta is not None and message.cta.label == "Connect a source"
    assert message.cta.url.startswith("https://api.example.com/v1/r/")
    assert message.links[0].url.startswith("https://api.example.com/v1/r/")
    assert message.image == OutboundMessage.from_delivery(email).image  # images are not clicks
    api = Api()
    response = api.client.get(message.links[0].url.removeprefix("https://api.example.com"))
    assert response.headers["location"] == "https://docs.example.com/sources"
    assert api.events[0]["properties"]["link"] == "links.0"
