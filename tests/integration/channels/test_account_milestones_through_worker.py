"""Account-level milestones through the worker on the real broker: members' events reach the
account's partition as signals, the account's notices come back to every member's partition, each
member gets the in-app celebration, and the team's Slack channel hears it once per account."""

from __future__ import annotations

from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.slack_server import SlackStandIn
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import group, identify, track
from tests.support.kafka import eventually, produce
from tests.support.worker import prompts_of

PLAYBOOK = """\
id: team
name: Team onboarding
audience: {role: admin}
milestones:
  - id: invite
    title: Two admins invited a teammate
    when: {event: Teammate Invited}
    account: {members: 2}
    celebrate:
      - {channel: in_app, title: "{{ user.account.name }} is growing", body: "Two of you invited teammates"}
      - {channel: slack, to: "#cs-wins", title: "{{ user.account.name }} invited teammates", body: "A win"}
"""
ACME = {"name": "Acme"}


async def test_two_members_reach_the_account_milestone_and_every_member_is_celebrated(  # type: ignore[no-untyped-def]
    worker_settings, sendgrid_server: SendGridStandIn, slack_server: SlackStandIn
) -> None:
    settings = worker_settings(PLAYBOOK)
    members = ["ana", "bo", "cy"]
    async with Worker(settings) as worker:
        await worker.wait_ready()
        joined = [(u.encode(), identify(u, {"role": "admin"})) for u in members]
        joined += [(u.encode(), group(u, "acme", ACME)) for u in members]
        await produce(
            worker.bootstrap_servers, settings.events_topic, [*joined, (b"bo", track("bo", "Teammate Invited", {}))]
        )

        def counted() -> dict[str, object]:
            record = worker.nudgeflow.handler.accounts.get("acme") or {}
            return dict(record.get("milestones", {}).get("team/invite", {}))

        await eventually(lambda: counted().get("members_done") == ["bo"], timeout=20)
        assert counted().get("reached_at") is None, "one member is not two"

        await produce(worker.bootstrap_servers, settings.events_topic, [(b"cy", track("cy", "Teammate Invited", {}))])

        async def everyone_celebrated() -> bool:
            return all([await prompts_of(worker, u) for u in members])

        await eventually(everyone_celebrated, timeout=20)
        for user in members:
            [prompt] = await prompts_of(worker, user)
            assert prompt["title"] == "Acme is growing"
        await eventually(lambda: len(slack_server.messages) == 1, timeout=20)

        late = [(b"dee", identify("dee", {"role": "admin"})), (b"dee", group("dee", "acme", ACME))]
        await produce(worker.bootstrap_servers, settings.events_topic, late)

        async def dee_celebrated() -> bool:
            return bool(await prompts_of(worker, "dee"))

        await eventually(dee_celebrated, timeout=20)
        [post] = slack_server.messages
        assert (post["channel"], post["text"].startswith("Acme invited teammates")) == ("#cs-wins", True)
        assert sendgrid_server.messages == []
