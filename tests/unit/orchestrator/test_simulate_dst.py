"""`nudgeflow simulate` schedules nudges due in the repeated or skipped hour like the engine does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from nudgeflow.orchestrator.cli import app
from nudgeflow.rules.schema import Timing
from nudgeflow.rules.timing import next_allowed

PLAYBOOK = """\
id: pb
name: PB
milestones:
  - id: connect
    title: Connect
    when: {event: Data Source Connected}
  - id: invite
    title: Invite
    when: {event: Teammate Invited}
stalls:
  - milestone: invite
    of: connect
    not_within: 1d
    nudges:
      - {channel: email, title: "Invite someone", body: "b"}
timing:
  quiet_hours: {start: "22:00", end: "QUIET_END"}
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "quiet_end", "due", "expected"),
    [
        ("America/New_York", "01:30", utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 6, 30)),  # 01:15 EST -> 01:30 EST
        ("Europe/Berlin", "02:30", utc(2026, 10, 25, 1, 15), utc(2026, 10, 25, 1, 30)),  # 02:15 CET -> 02:30 CET
        ("America/New_York", "02:30", utc(2026, 3, 8, 6, 45), utc(2026, 3, 8, 7)),  # 01:45 EST -> 03:00 EDT
    ],
)
def test_simulated_nudge_in_a_dst_change_goes_out_when_the_engine_says(
    tmp_path: Path, zone: str, quiet_end: str, due: datetime, expected: datetime
) -> None:
    rules = tmp_path / "pb.yaml"
    rules.write_text(PLAYBOOK.replace("QUIET_END", quiet_end))
    connected = due - timedelta(days=1)
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(e)
            for e in [
                {
                    "type": "identify",
                    "messageId": "m1",
                    "userId": "u1",
                    "timestamp": connected.isoformat(),
                    "traits": {},
                    "context": {"timezone": zone},
                },
                {
                    "type": "track",
                    "messageId": "m2",
                    "userId": "u1",
                    "timestamp": connected.isoformat(),
                    "event": "Data Source Connected",
                    "properties": {},
                },
            ]
        )  # fmt: skip
    )
    out = tmp_path / "simulated"
    result = CliRunner().invoke(app, ["simulate", "--rules", str(rules), "--events", str(events), "--out", str(out)])
    assert result.exit_code == 0, result.output
    decisions = (out / "decisions.jsonl").read_text().splitlines()
    [nudge] = [d for d in map(json.loads, decisions) if d["type"] == "delivery"]
    send_at = datetime.fromisoformat(nudge["send_at"])
    timing = Timing.model_validate({"quiet_hours": {"start": "22:00", "end": quiet_end}})
    assert send_at == expected == next_allowed(due, timing, ZoneInfo(zone))
