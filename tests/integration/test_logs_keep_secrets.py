"""A whole worker run, as an operator would see its logs: every line is JSON and no secret appears
in any of them, even when providers reject the keys and the logs are full of errors."""

from __future__ import annotations

import json
from pathlib import Path

from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.slack_server import SlackStandIn
from nudgeflow.orchestrator.broker.embedded import free_port
from tests.integration.test_outbox import PLAYBOOK
from tests.support.events import identify, track
from tests.support.inapp import list_prompts
from tests.support.kafka import eventually, produce
from tests.support.processes import WorkerProcess

SECRETS = {
    "sendgrid_api_key": "SG.live-key-7f3a9c1e2b4d6f8a0c1e3b5d7f9a1c3e.Xy",
    "slack_bot_token": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
    "inapp_signing_secret": "signing-secret-5b8e2f1d9c7a4b6e8f0a2c4e6b8d0f1a",
}


async def test_a_full_run_logs_json_lines_and_never_a_secret(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "launch.yaml").write_text(PLAYBOOK)
    async with SendGridStandIn() as sendgrid, SlackStandIn() as slack:
        sendgrid.fail_next(status=401, count=3, error="The provided authorization grant is invalid")
        slack.fail_next(status=200, count=3, error="invalid_auth")
        settings = make_settings(
            rules,
            api_port=free_port(),
            sendgrid_host=sendgrid.url,
            slack_api_url=f"{slack.url}/api/",
            log_format="json",
            log_level="DEBUG",  # the libraries' debug lines carry request headers: the hardest case
            **SECRETS,
        )
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        try:
            await worker.start()
            users = [f"s{n}" for n in range(3)]
            records = []
            for user in users:
                records.append((user.encode(), identify(user, {"first_name": user, "email": f"{user}@example.com"})))
                records.append((user.encode(), track(user, "Report Created", {})))
            await produce(settings.kafka_bootstrap_servers or "", settings.events_topic, records)
            secret = SECRETS["inapp_signing_secret"]
            for user in users:
                await eventually(lambda user=user: list_prompts(worker.api_url, user, secret), timeout=60)
            await eventually(lambda: len(sendgrid.requests) >= 3 and len(slack.requests) >= 3, timeout=60)
        finally:
            worker.stop()
    lines = [line for line in (tmp_path / "worker.log").read_text().splitlines() if line.strip()]
    assert any("mail/send" in line for line in lines) and any(
        "127.0.0.1:" in line and "/api/" in line for line in lines
    ), "the provider calls were logged"
    leaked = [(name, line) for line in lines for name, secret in SECRETS.items() if secret in line]
    assert not leaked, leaked[:3]
    not_json = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            not_json.append(line)
    # The CLI's own banner ("nudgeflow worker on ...", "ready in ...", "stopping…") is plain text for people.
    assert all(line.startswith(("nudgeflow worker", "ready in", "stopping")) for line in not_json), not_json[:5]
