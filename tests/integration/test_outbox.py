"""Email and Slack deliveries through the outbox, with the real sendgrid and slack-sdk clients
talking to local stand-ins of the providers."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.slack_server import SlackStandIn
from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import identify, track
from tests.support.inapp import auth_headers, list_prompts
from tests.support.kafka import eventually, produce, read_topic
from tests.support.processes import WorkerProcess
from tests.support.worker import prompts_of

PLAYBOOK = """\
id: launch
name: Launch
milestones:
  - id: first_report
    title: Create a report
    when: {event: Report Created}
    celebrate:
      - {channel: in_app, title: "Report saved", body: "in-app"}
      - {channel: email, title: "Your first report, {{ user.first_name }}", body: "Well done."}
      - {channel: slack, title: "First report!", body: "{{ user.first_name }} made a report"}
"""


@pytest.fixture
async def providers() -> AsyncIterator[tuple[SendGridStandIn, SlackStandIn]]:
    async with SendGridStandIn() as sendgrid, SlackStandIn() as slack:
        yield sendgrid, slack


def outbox_settings(
    make_settings,
    tmp_path: Path,
    sendgrid: SendGridStandIn,
    slack: SlackStandIn,  # type: ignore[no-untyped-def]
    **overrides: object,
):
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "launch.yaml").write_text(PLAYBOOK)
    values: dict[str, object] = dict(
        sendgrid_api_key="SG.test",
        sendgrid_host=sendgrid.url,
        slack_bot_token="xoxb-test",
        slack_api_url=f"{slack.url}/api/",
        delivery_base_delay=0.2,
        delivery_max_delay=2.0,
        delivery_max_attempts=20,
    )
    values.update(overrides)
    return make_settings(rules, **values)


async def publish_report(worker: Worker, users: list[str]) -> None:
    records = []
    for user in users:
        records.append(
            (
                user.encode(),
                identify(
                    user,
                    {"first_name": user.title(), "email": f"{user}@example.com", "slack_user_id": f"U{user.upper()}"},
                ),
            )
        )
        records.append((user.encode(), track(user, "Report Created", {})))
    await produce(worker.bootstrap_servers, worker.settings.events_topic, records)


async def final_outcomes(worker: Worker, count: int) -> list[dict[str, object]]:
    def enough(values: list[dict[str, object]]) -> bool:
        return (
            len([v for v in values if v["kind"] in ("delivered", "delivery_failed") and v["channel"] != "in_app"])
            >= count
        )

    return await read_topic(worker.bootstrap_servers, worker.settings.outcomes_topic, until=enough, timeout=40)


async def test_celebration_is_emailed_and_posted_to_slack(make_settings, tmp_path: Path, providers) -> None:  # type: ignore[no-untyped-def]
    sendgrid, slack = providers
    async with Worker(outbox_settings(make_settings, tmp_path, sendgrid, slack)) as worker:
        await worker.wait_ready()
        await publish_report(worker, ["ana"])
        await eventually(lambda: len(sendgrid.messages) == 1 and len(slack.messages) == 1, timeout=20)
        mail = sendgrid.messages[0]
        assert mail["personalizations"][0]["to"][0]["email"] == "ana@example.com"
        assert mail["subject"] == "Your first report, Ana"
        assert mail["custom_args"]["delivery_id"]
        assert slack.messages[0]["channel"] == "UANA"
        outcomes = await final_outcomes(worker, 2)
        delivered = {o["channel"] for o in outcomes if o["kind"] == "delivered"}
        assert delivered == {"in_app", "email", "slack"}


async def test_provider_outage_delays_email_but_not_in_app_and_sends_once(
    make_settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    providers,
) -> None:
    sendgrid, slack = providers
    users = [f"o{n}" for n in range(5)]
    async with Worker(outbox_settings(make_settings, tmp_path, sendgrid, slack)) as worker:
        await worker.wait_ready()
        sendgrid.fail_for(seconds=10, status=500)
        started = time.monotonic()
        await publish_report(worker, users)
        for user in users:  # in-app is unaffected by the email outage
            await eventually(lambda user=user: prompts_of(worker, user), timeout=10)
        assert time.monotonic() - started < 10
        assert sendgrid.messages == []
        await final_outcomes(worker, 2 * len(users))
        ids = [m["custom_args"]["delivery_id"] for m in sendgrid.messages]
        assert len(ids) == len(users) and len(set(ids)) == len(users), "every email exactly once"
        assert len([r for r in sendgrid.requests if r.status == 500]) >= len(users)


async def test_rate_limit_is_honoured_and_a_rejected_key_is_not_retried(
    make_settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    providers,
) -> None:
    sendgrid, slack = providers
    settings = outbox_settings(make_settings, tmp_path, sendgrid, slack, sendgrid_api_key="SG.invalid")
    async with Worker(settings) as worker:
        await worker.wait_ready()
        slack.rate_limit_next(retry_after=2)
        await publish_report(worker, ["rae"])
        outcomes = await final_outcomes(worker, 2)
    attempts = [o for o in outcomes if o["kind"] == "delivery_attempted"]
    email = [a["attributes"] for a in attempts if a["channel"] == "email"]
    assert [a["status"] for a in email] == ["failed"], "401 is permanent: one attempt"
    assert email[0]["status_code"] == 401 and "authorization" in email[0]["reason"]
    failed = [o for o in outcomes if o["kind"] == "delivery_failed"]
    assert [o["channel"] for o in failed] == ["email"]
    slack_tries = sorted((a["attributes"] for a in attempts if a["channel"] == "slack"), key=lambda a: a["attempt"])
    assert [a["status"] for a in slack_tries] == ["retry", "sent"]
    gap = _ts(slack_tries[1]["started_at"]) - _ts(slack_tries[0]["started_at"])
    assert gap >= 2.0, f"retried after {gap:.2f}s, before Retry-After"


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


async def test_worker_killed_mid_burst_loses_no_email_and_duplicates_only_in_flight_ones(  # type: ignore[no-untyped-def]
    make_settings, tmp_path: Path, providers
) -> None:
    sendgrid, slack = providers
    users = [f"k{n}" for n in range(30)]
    settings = outbox_settings(make_settings, tmp_path, sendgrid, slack, api_port=free_port(), delivery_concurrency=4)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        await worker.start()
        sendgrid.delay(seconds=0.3)  # slow provider: sends are in flight when the worker dies
        records = []
        for user in users:
            records.append((user.encode(), identify(user, {"first_name": user, "email": f"{user}@example.com"})))
            records.append((user.encode(), track(user, "Report Created", {})))
        await produce(settings.kafka_bootstrap_servers or "", settings.events_topic, records)
        await eventually(lambda: len(sendgrid.requests) >= 8, timeout=30)
        worker.kill()
        sent_before_kill = len(sendgrid.requests)
        await worker.start()
        await _every_user_emailed(worker, sendgrid, users)
        per_user = {user: 0 for user in users}
        for message in sendgrid.messages:
            per_user[message["custom_args"]["user_id"]] += 1
        duplicates = sum(count - 1 for count in per_user.values())
        assert sent_before_kill < len(users), "the kill happened mid-burst"
        assert duplicates <= settings.delivery_concurrency, f"{duplicates} duplicate emails"
        for user in users:  # in-app: exactly one prompt each, whatever was replayed
            prompts = await list_prompts(worker.api_url, user)
            assert len(prompts) == 1, (user, prompts)
    finally:
        worker.stop()


async def _every_user_emailed(worker: WorkerProcess, sendgrid: SendGridStandIn, users: list[str]) -> None:
    """Waits for an email to each user; on failure says who lacks one and whether their event was processed."""

    def unsent() -> set[str]:
        return set(users) - {m["custom_args"]["user_id"] for m in sendgrid.messages}

    try:
        await eventually(lambda: not unsent(), timeout=60)
    except AssertionError:
        lacking = sorted(unsent())
        prompted = [user for user in lacking if await list_prompts(worker.api_url, user)]
        raise AssertionError(
            f"no email for {lacking} (in-app prompt there for {prompted}); {await worker.diagnosis()}"
        ) from None


async def test_preferences_are_checked_at_send_time_on_every_channel(
    make_settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    providers,
) -> None:
    sendgrid, slack = providers
    async with Worker(outbox_settings(make_settings, tmp_path, sendgrid, slack)) as worker:
        await worker.wait_ready()
        async with httpx.AsyncClient(base_url=worker.api_url or "") as client:
            for user, choice in [("pat", {"unsubscribed": True}), ("quinn", {"opt_out_channels": ["email"]})]:
                response = await client.put(f"/v1/users/{user}/preferences", json=choice, headers=auth_headers(user))
                assert response.status_code == 200, response.text
        await eventually(lambda: not worker.preferences.allows("quinn", "email", "launch"))
        await publish_report(worker, ["pat", "quinn", "ray"])
        outcomes = await final_outcomes(worker, 6)
    sent_to = sorted(m["personalizations"][0]["to"][0]["email"] for m in sendgrid.messages)
    assert sent_to == ["ray@example.com"]
    assert sorted(m["channel"] for m in slack.messages) == ["UQUINN", "URAY"]
    suppressed = {
        (o["user_id"], o["channel"])
        for o in outcomes
        if o["kind"] == "delivery_suppressed"
        or (o["kind"] == "delivery_failed" and o["attributes"].get("status") == "suppressed")
    }
    assert suppressed == {("pat", "in_app"), ("pat", "email"), ("pat", "slack"), ("quinn", "email")}


async def test_identify_traits_set_preferences_and_emails_carry_a_working_unsubscribe_link(  # type: ignore[no-untyped-def]
    make_settings, tmp_path: Path, providers
) -> None:
    sendgrid, slack = providers
    port = free_port()
    settings = outbox_settings(
        make_settings, tmp_path, sendgrid, slack, api_port=port, public_api_url=f"http://127.0.0.1:{port}"
    )
    async with Worker(settings) as worker:
        await worker.wait_ready()
        await produce(
            worker.bootstrap_servers,
            settings.events_topic,
            [
                (
                    b"sam",
                    identify(
                        "sam",
                        {
                            "first_name": "Sam",
                            "email": "sam@example.com",
                            "slack_user_id": "USAM",
                            "nudgeflow_opt_out_channels": ["slack"],
                        },
                    ),
                ),
                (b"sam", track("sam", "Report Created", {})),
            ],
        )
        await final_outcomes(worker, 2)
        assert slack.messages == [], "the identify trait turned Slack off before the celebration"
        [mail] = sendgrid.messages
        link = re.search(r"http://127\.0\.0\.1:\d+/v1/unsubscribe\?token=[\w.%-]+", json.dumps(mail))
        assert link, mail
        async with httpx.AsyncClient() as client:
            assert (await client.get(link.group(0))).status_code == 200
        await eventually(lambda: not worker.preferences.allows("sam", "in_app", "launch"), timeout=10)
        assert worker.preferences.get("sam").unsubscribed
