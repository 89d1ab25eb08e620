"""`to`: a message for the user's CSM or a team Slack channel instead of the user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nudgeflow.channels.base import OutboundMessage
from nudgeflow.rules import RulesetError
from nudgeflow.rules.contracts.events import parse_product_event
from tests.support.rules import T0, Run, identify, ruleset_from, track

PLAYBOOK = """\
id: admins
name: Admins
audience: {role: admin}
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
    celebrate:
      - {channel: slack, to: "#cs-wins", title: "{{ user.first_name }} connected data", body: "A win for the account"}
      - {channel: email, to: csm, title: "{{ user.first_name }} is live", body: "Time for a check-in call"}
      - {channel: email, title: "You are live", body: "Next: invite a teammate"}
timing:
  caps: {overall_per_day: 1, when_exceeded: suppress}
"""


def _sent(tmp_path: Path, **traits: object) -> list[object]:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify(role="admin", first_name="Ana", email="ana@example.com", **traits))
    return [d for d in run.send(track("Data Source Connected")) if d.type.startswith("delivery")]


def test_a_team_channel_and_the_csm_get_their_messages_and_the_user_hers(tmp_path: Path) -> None:
    team, csm, own = _sent(tmp_path, csm_email="carla@vendor.example", csm_slack_user_id="UCARLA")
    to_team = OutboundMessage.from_delivery(team)  # type: ignore[arg-type]
    assert (to_team.slack_channel, to_team.title) == ("#cs-wins", "Ana connected data")
    to_csm = OutboundMessage.from_delivery(csm)  # type: ignore[arg-type]
    assert (to_csm.to_email, to_csm.title) == ("carla@vendor.example", "Ana is live"), "not the user's address"
    assert OutboundMessage.from_delivery(own).to_email == "ana@example.com"  # type: ignore[arg-type]
    assert own.type == "delivery", "the user's daily cap of 1 counts only her own message"  # type: ignore[attr-defined]


def test_without_a_csm_trait_the_csm_message_is_suppressed_with_the_reason(tmp_path: Path) -> None:
    _, csm, _ = _sent(tmp_path)
    assert csm.type == "delivery_suppressed" and csm.reason == "no_recipient"  # type: ignore[attr-defined]
    assert "csm_email" in csm.detail  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("channel", "to", "words"),
    [
        ("in_app", "csm", "'csm' is not a recipient of in_app messages; use user"),
        ("email", "#cs-wins", "only Slack messages can go to a channel"),
        ("slack", "#CS Wins", "'#CS Wins' is not a Slack channel name"),
        ("slack", "manager", "use user, csm, a Slack channel like #cs-wins"),
    ],
)
def test_a_target_that_does_not_fit_the_channel_names_line_and_field(
    tmp_path: Path, channel: str, to: str, words: str
) -> None:
    text = PLAYBOOK.replace('{channel: slack, to: "#cs-wins"', f'{{channel: {channel}, to: "{to}"')
    with pytest.raises(RulesetError) as info:
        ruleset_from(tmp_path, text)
    [problem] = info.value.problems
    assert (problem.line, problem.field) == (9, "milestones[0].celebrate[0]") and words in problem.message


def test_the_csm_of_the_users_account_from_a_group_call_gets_the_csm_message(tmp_path: Path) -> None:
    run = Run(ruleset_from(tmp_path, PLAYBOOK))
    run.send(identify(role="admin", first_name="Ana", email="ana@example.com"))
    group = parse_product_event(
        json.dumps(
            {
                "type": "group",
                "messageId": "g1",
                "userId": "u1",
                "groupId": "acme",
                "timestamp": T0.isoformat(),
                "traits": {"name": "Acme", "csm_email": "carla@vendor.example"},
            }
        )
    )
    run.send(group)
    assert run.progress.traits["account_id"] == "acme" and run.progress.traits["account"]["name"] == "Acme"
    _, csm, _ = [d for d in run.send(track("Data Source Connected")) if d.type.startswith("delivery")]
    assert OutboundMessage.from_delivery(csm).to_email == "carla@vendor.example"
