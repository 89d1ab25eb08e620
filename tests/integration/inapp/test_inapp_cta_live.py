"""Calls to action through the worker and the real broker: the CTA's URL is rendered from the user's
traits and reaches the in-app API; clicks (in-app, and through the signed redirect of email/Slack links)
come back as events and become `link_clicked` outcomes on the outcomes topic."""

from __future__ import annotations

from typing import Any

import httpx

from nudgeflow.channels.inapp.auth import click_url
from nudgeflow.channels.product_events import LinkClick
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.inapp.inapp_support import SECRET, bearer
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.worker import prompts_of

PLAYBOOK = """\
id: admin_onboarding
name: Admin onboarding
audience:
  role: admin
milestones:
  - id: invite_teammate
    title: Invite a teammate
    when:
      event: Teammate Invited
    celebrate:
      - channel: in_app
        title: "Team work!"
        body: "Next: connect a data source"
        cta:
          label: "Connect {{ user.first_name }}'s data"
          url: "https://app.example.com/sources/new?ws={{ user.workspace_id }}"
        links:
          - {label: "How to connect", url: "https://help.example.com/connect"}
"""


async def link_clicks(worker: Worker, count: int) -> list[dict[str, Any]]:
    def enough(values: list[dict[str, Any]]) -> bool:
        return len([v for v in values if v.get("kind") == "link_clicked"]) >= count

    values = await read_topic(worker.bootstrap_servers, worker.settings.outcomes_topic, until=enough)
    return [v for v in values if v.get("kind") == "link_clicked"]


async def test_a_cta_rendered_from_traits_reaches_the_api_and_its_click_is_an_outcome(inapp_worker: Worker) -> None:
    worker = inapp_worker
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"ada", identify("ada", {"role": "admin", "first_name": "Ada", "workspace_id": "w-7"})),
            (b"ada", track("ada", "Teammate Invited", {})),
        ],
    )
    [prompt] = await eventually(lambda: prompts_of(worker, "ada"))
    assert prompt["cta"] == {"label": "Connect Ada's data", "url": "https://app.example.com/sources/new?ws=w-7"}
    assert prompt["links"] == [{"label": "How to connect", "url": "https://help.example.com/connect"}]

    async with httpx.AsyncClient(base_url=worker.api_url or "", timeout=10) as http:
        status_url = f"/v1/users/ada/prompts/{prompt['delivery_id']}/status"
        response = await http.post(status_url, json={"status": "clicked", "link": "cta"}, headers=bearer("ada"))
        assert response.status_code == 200 and response.json()["status"] == "clicked"

        # An email's tracked link: the redirect records the click and leads to the URL.
        click = LinkClick(
            user_id="ada",
            delivery_id="email-delivery",
            link="links.0",
            url="https://help.example.com/connect",
            channel="email",
            playbook_id="admin_onboarding",
        )
        redirect = await http.get(click_url(worker.api_url or "", SECRET, click))
        assert redirect.status_code == 302 and redirect.headers["location"] == "https://help.example.com/connect"

    outcomes = await link_clicks(worker, 2)
    by_channel = {o["channel"]: o for o in outcomes}
    assert by_channel["in_app"]["delivery_id"] == prompt["delivery_id"]
    assert by_channel["in_app"]["attributes"]["link"] == "cta"
    assert by_channel["in_app"]["attributes"]["url"] == "https://app.example.com/sources/new?ws=w-7"
    assert by_channel["email"]["outcome_id"] == "link_clicked:email-delivery:links.0"


async def test_a_cta_whose_trait_is_missing_is_suppressed_not_sent(inapp_worker: Worker) -> None:
    worker = inapp_worker
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"bob", identify("bob", {"role": "admin", "first_name": "Bob"})),  # no workspace_id
            (b"bob", track("bob", "Teammate Invited", {})),
        ],
    )

    def suppressed(values: list[dict[str, Any]]) -> bool:
        return any(v.get("kind") == "delivery_suppressed" and v.get("user_id") == "bob" for v in values)

    values = await read_topic(worker.bootstrap_servers, worker.settings.outcomes_topic, until=suppressed)
    [outcome] = [v for v in values if v.get("kind") == "delivery_suppressed" and v.get("user_id") == "bob"]
    assert outcome["attributes"]["reason"] == "template_error" and "workspace_id" in outcome["attributes"]["detail"]
    assert await prompts_of(worker, "bob") == []
