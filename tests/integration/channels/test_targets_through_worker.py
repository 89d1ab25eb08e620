"""`to` and deadlines through the worker and the outbox to the SendGrid and Slack stand-ins (real
sendgrid and slack-sdk clients): a win goes to the team's Slack channel, an overdue step escalates
to the account's CSM by email (the account and its CSM from a Segment group call), and the user's
own email opt-out silences only her own messages."""

from __future__ import annotations

from typing import Any

from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.slack_server import SlackStandIn
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import group, identify, track
from tests.support.kafka import eventually, produce, read_topic

PLAYBOOK = """\
id: accounts
name: Accounts
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
    celebrate:
      - {channel: slack, to: "#cs-wins", title: "{{ user.first_name }} connected data", body: "A win"}
      - {channel: email, title: "You are live", body: "Next: invite a teammate"}
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited}
    due: 2s
    overdue:
      - {channel: in_app, title: "Invite someone", body: "Work is better together"}
      - channel: email
        to: csm
        after: 1s
        title: "{{ user.first_name }} has not invited anyone"
        body: "{{ user.account.name }} is overdue on {{ milestone.title }}"
"""


async def test_a_win_reaches_the_team_channel_and_a_stall_the_csm_despite_the_users_opt_out(  # type: ignore[no-untyped-def]
    worker_settings, sendgrid_server: SendGridStandIn, slack_server: SlackStandIn
) -> None:
    sendgrid, slack = sendgrid_server, slack_server
    settings = worker_settings(PLAYBOOK)
    traits = {
        "first_name": "Ana",
        "email": "ana@example.com",
        "slack_user_id": "UANA",
        "nudgeflow_opt_out_channels": ["email"],
    }
    async with Worker(settings) as worker:
        await worker.wait_ready()
        await produce(
            worker.bootstrap_servers,
            settings.events_topic,
            [
                (b"ana", identify("ana", traits)),
                (b"ana", group("ana", "acme", {"name": "Acme", "csm_email": "carla@vendor.example"})),
                (b"ana", track("ana", "Data Source Connected", {})),
            ],
        )
        await eventually(lambda: len(slack.messages) == 1 and len(sendgrid.messages) == 1, timeout=30)
        [post], [mail] = slack.messages, sendgrid.messages
        assert (post["channel"], post["text"].startswith("Ana connected data")) == ("#cs-wins", True)
        recipients = [to["email"] for p in mail["personalizations"] for to in p["to"]]
        assert recipients == ["carla@vendor.example"] and mail["subject"] == "Ana has not invited anyone"
        assert "Acme is overdue on Invite a teammate" in str(mail["content"]), "the account's name from the group call"

        def suppressed(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                v for v in values if v.get("kind") == "delivery_failed" and v["attributes"]["status"] == "suppressed"
            ]

        outcomes = await read_topic(worker.bootstrap_servers, settings.outcomes_topic, until=suppressed)
        [own] = suppressed(outcomes)
        assert (own["channel"], own["attributes"]["reason"]) == ("email", "user preferences"), "her own email: not sent"
