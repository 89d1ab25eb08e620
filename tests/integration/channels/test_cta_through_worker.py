"""A celebration with a CTA through the worker and the outbox to the SendGrid and Slack stand-ins (real
sendgrid and slack-sdk clients): the email has the CTA as a button, Slack as a primary button, both
pointing at the in-app API's signed redirect, which leads to the URL rendered from the user's traits
and records a `link_clicked` outcome per channel."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.slack_server import SlackStandIn
from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic

URL = "https://app.example.com/reports/r-7/share?ws=w-3"
PLAYBOOK = """\
id: launch
name: Launch
milestones:
  - id: first_report
    title: Create a report
    when: {event: Report Created}
    celebrate:
      - channel: email
        title: "Your first report, {{ user.first_name }}"
        body: "Well done."
        cta:
          label: "Share it"
          url: "https://app.example.com/reports/{{ event.report_id }}/share?ws={{ user.workspace_id }}"
        links: [{label: "Sharing tips", url: "https://help.example.com/sharing"}]
        image: {url: "https://cdn.example.com/report.png", alt: "Your report"}
      - channel: slack
        title: "First report!"
        body: "{{ user.first_name }} made a report"
        cta:
          label: "Share it"
          url: "https://app.example.com/reports/{{ event.report_id }}/share?ws={{ user.workspace_id }}"
"""


async def test_email_and_slack_ctas_lead_through_the_tracked_redirect(  # type: ignore[no-untyped-def]
    worker_settings, sendgrid_server: SendGridStandIn, slack_server: SlackStandIn
) -> None:
    sendgrid, slack = sendgrid_server, slack_server
    port = free_port()
    settings = worker_settings(PLAYBOOK, api_port=port, public_api_url=f"http://127.0.0.1:{port}")
    traits = {"first_name": "Ana", "email": "ana@example.com", "slack_user_id": "UANA", "workspace_id": "w-3"}
    async with Worker(settings) as worker:
        await worker.wait_ready()
        await produce(
            worker.bootstrap_servers,
            settings.events_topic,
            [(b"ana", identify("ana", traits)), (b"ana", track("ana", "Report Created", {"report_id": "r-7"}))],
        )
        await eventually(lambda: len(sendgrid.messages) == 1 and len(slack.messages) == 1, timeout=30)
        [mail], [post] = sendgrid.messages, slack.messages
        page = next(c["value"] for c in mail["content"] if c["type"] == "text/html")
        button = re.search(r'<a href="(http://127\.0\.0\.1:\d+/v1/r/[^"]+)" style="[^"]*background:#3b5bdb', page)
        assert button, page
        assert '<img src="https://cdn.example.com/report.png" alt="Your report"' in page
        assert URL not in json.dumps(mail), "the email links through the redirect, not to the URL itself"
        [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
        [slack_button] = actions["elements"]
        assert (slack_button["text"]["text"], slack_button["style"]) == ("Share it", "primary")
        async with httpx.AsyncClient() as client:
            for link in (html.unescape(button.group(1)), slack_button["url"]):
                followed = await client.get(link)
                assert followed.status_code == 302 and followed.headers["location"] == URL

        def clicked(values: list[dict[str, Any]]) -> bool:
            return len([v for v in values if v.get("kind") == "link_clicked"]) >= 2

        values = await read_topic(worker.bootstrap_servers, settings.outcomes_topic, until=clicked)
        clicks = {v["channel"]: v for v in values if v.get("kind") == "link_clicked"}
        assert set(clicks) == {"email", "slack"}
        assert all(c["attributes"]["url"] == URL and c["attributes"]["link"] == "cta" for c in clicks.values())
        assert clicks["email"]["playbook_id"] == "launch" and clicks["email"]["milestone_id"] == "first_report"
