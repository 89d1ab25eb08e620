"""Playbooks written to a test's folder."""

from __future__ import annotations

from pathlib import Path

STALL_PLAYBOOK = """\
id: trial
name: Trial
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited}
    celebrate:
      - {channel: in_app, title: "Team work!", body: "done"}
stalls:
  - milestone: invite_teammate
    of: connect_source
    not_within: {not_within}
    nudges:
      - {channel: in_app, title: "Invite someone", body: "nudge 1"}
      - {channel: in_app, title: "Still there?", body: "nudge 2", after: 2s}
"""


def stall_rules(tmp_path: Path, not_within: str) -> Path:
    """A folder with one playbook that nudges twice when a teammate is not invited `not_within`."""
    folder = tmp_path / f"stall-{not_within}"
    folder.mkdir()
    (folder / "trial.yaml").write_text(STALL_PLAYBOOK.replace("{not_within}", not_within))
    return folder


ONBOARDING = """\
id: trial
name: Trial
audience: {role: admin}
milestones:
  - id: connect
    title: Connect a data source
    when: {event: Data Source Connected}
    celebrate:
      - {channel: in_app, title: "Connected", body: "{{ progress.done }} of {{ progress.total }}"}
      - {channel: email, title: "Your data flows", body: "next: {{ progress.next }}"}
  - id: invite
    title: Invite a teammate
    when: {event: Teammate Invited}
    celebrate:
      - {channel: in_app, title: "Team work", body: "done"}
stalls:
  - milestone: invite
    of: connect
    not_within: 2h
    nudges:
      - {channel: in_app, title: "Invite someone", body: "nudge 1"}
      - {channel: email, title: "Still there?", body: "nudge 2", after: 5h}
timing:
  channels: [in_app, email]
"""


def onboarding_playbook(quiet_hours: tuple[str, str] | None = ("21:00", "08:00")) -> str:
    """Admins: celebrate a connected source (in-app and email), nudge twice (in-app, then email) if no
    teammate is invited within 2h; quiet hours, if any, hold back both channels."""
    if quiet_hours is None:
        return ONBOARDING
    start, end = quiet_hours
    return ONBOARDING + f'  quiet_hours: {{start: "{start}", end: "{end}"}}\n'
