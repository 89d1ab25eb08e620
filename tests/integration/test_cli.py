"""The `nudgeflow` command as a platform engineer or CS person uses it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from nudgeflow.channels.inapp.auth import verify_token
from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker, free_port
from nudgeflow.orchestrator.cli import app
from nudgeflow.rules.contracts.events import TrackEvent, parse_product_event
from tests.support.kafka import read_topic
from tests.support.processes import tansu_listening_on

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def nudgeflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NUDGEFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "nudgeflow.orchestrator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        cwd=REPO,
    )


def test_schema_events_prints_the_segment_contract() -> None:
    result = runner.invoke(app, ["schema", "events"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    variants = {ref.rsplit("/", 1)[-1] for ref in schema["discriminator"]["mapping"].values()}
    assert variants == {"TrackEvent", "IdentifyEvent", "PageEvent", "GroupEvent", "AliasEvent"}
    assert set(schema["discriminator"]["mapping"]) == {"track", "identify", "page", "screen", "group", "alias"}
    assert {"messageId", "userId", "timestamp", "event"} <= set(schema["$defs"]["TrackEvent"]["required"])


def test_inapp_token_is_accepted_for_that_user_only() -> None:
    result = runner.invoke(app, ["inapp", "token", "ana"], env={"NUDGEFLOW_INAPP_SIGNING_SECRET": "s3cret"})
    assert result.exit_code == 0
    assert verify_token("s3cret", result.output.strip()).user_id == "ana"


def test_rules_check_names_file_line_and_field(tmp_path: Path) -> None:
    assert nudgeflow("rules", "check", "playbooks").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: X\nmilestones:\n  - id: a\n    title: A\n    when: {event: E, within: 2 days}\n")
    result = nudgeflow("rules", "check", str(bad))
    assert result.returncode == 1
    assert re.search(r"bad\.yaml:6\b.*within", result.stdout + result.stderr), result.stdout
    assert "Traceback" not in result.stdout + result.stderr


async def test_send_publishes_a_valid_event_keyed_by_user(broker: EmbeddedBroker) -> None:
    result = nudgeflow(
        "send",
        "track",
        "-u",
        "ana",
        "-e",
        "Report Created",
        "-p",
        "charts=3",
        "-p",
        "name=Q3",
        NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
        NUDGEFLOW_EVENTS_TOPIC="cli.events",
    )
    assert result.returncode == 0, result.stderr
    [record] = await read_topic(broker.bootstrap_servers, "cli.events", decode=False)
    assert record.key == b"ana"
    event = parse_product_event(record.value)
    assert isinstance(event, TrackEvent) and event.properties == {"charts": 3, "name": "Q3"}


def test_worker_without_kafka_starts_an_embedded_broker_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NUDGEFLOW_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "nudgeflow.orchestrator", "worker"],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**clean, "NUDGEFLOW_API_PORT": str(port), "NUDGEFLOW_TABLE_DIR": str(tmp_path / "tables")},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("worker never became ready")
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    broker = re.search(r"on 127\.0\.0\.1:(\d+) \(embedded Tansu\)", output)
    assert broker, output
    assert tansu_listening_on(int(broker.group(1))) == []


def test_worker_with_invalid_playbooks_says_why_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: X\nmilestones: []\n")
    result = nudgeflow("worker", NUDGEFLOW_RULES_PATH=str(bad), NUDGEFLOW_API_PORT="0")
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "bad.yaml" in output and "milestones" in output
    assert "Traceback" not in output
