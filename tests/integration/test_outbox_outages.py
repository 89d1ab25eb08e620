"""Provider incidents, through the real worker, broker and provider clients against the stand-ins:
one provider's outage never delays another's messages, an outage longer than the old retry budget
loses nothing, a worker never resends what it finished, and dead letters can be listed and replayed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.slack_server import SlackStandIn
from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.test_outbox import outbox_settings, publish_report
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.processes import WorkerProcess, settings_env

pytestmark = pytest.mark.timeout(170)

EMAIL_ONLY = """\
id: launch
name: Launch
milestones:
  - id: first_report
    title: Create a report
    when: {event: Report Created}
    celebrate:
      - {channel: email, title: "Your first report, {{ user.first_name }}", body: "Well done."}
"""


def emails_by_user(sendgrid: SendGridStandIn) -> Counter[str]:
    return Counter(m["custom_args"]["user_id"] for m in sendgrid.messages)


def email_received_at(sendgrid: SendGridStandIn, user: str) -> float | None:
    for request in sendgrid.requests:
        body = request.body if isinstance(request.body, dict) else {}
        if request.status == 202 and body.get("custom_args", {}).get("user_id") == user:
            return request.received_at
    return None


async def email_latencies(worker: Worker, sendgrid: SendGridStandIn, users: list[str]) -> list[float]:
    """Seconds from publishing each user's event to SendGrid accepting their email (wall clock)."""
    published = time.time()
    await publish_report(worker, users)
    await eventually(lambda: all(email_received_at(sendgrid, u) for u in users), timeout=60)
    return [email_received_at(sendgrid, u) - published for u in users]  # type: ignore[operator]


async def test_slack_down_for_30_seconds_never_delays_email(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """15 s of 500s, then 15 s of 429 + Retry-After, with Slack messages piling up beyond the send
    slots: emails sent meanwhile arrive as fast as with Slack healthy, and every Slack message
    arrives once after the outage."""
    async with SendGridStandIn() as sendgrid, SlackStandIn() as slack:
        settings = outbox_settings(
            make_settings, tmp_path, sendgrid, slack, delivery_concurrency=4, delivery_breaker_reset=2.0
        )
        async with Worker(settings) as worker:
            await worker.wait_ready()
            baseline = await email_latencies(worker, sendgrid, ["base0", "base1", "base2"])
            users: list[str] = ["base0", "base1", "base2"]
            during: list[float] = []
            slack.fail_for(seconds=15, status=500)
            started = time.monotonic()
            for batch in range(6):  # a batch every 5 s through the outage
                if batch == 3:
                    slack.fail_for(seconds=15, status=429)
                names = [f"b{batch}u{n}" for n in range(4)]
                users += names
                during += await email_latencies(worker, sendgrid, names)
                await asyncio.sleep(max(0.0, started + 5 * (batch + 1) - time.monotonic()))
            print(f"email latency: healthy {max(baseline):.2f} s, during the Slack outage {max(during):.2f} s")
            assert {r.status for r in slack.requests} >= {500, 429}, "Slack really was down meanwhile"
            assert max(during) < max(5.0, 3 * max(baseline)), (baseline, during)
            await eventually(lambda: len(slack.messages) >= len(users), timeout=60)
            per_user = Counter(m["channel"] for m in slack.messages)
            assert per_user == Counter(f"U{u.upper()}" for u in users), "every Slack message, once"
            assert emails_by_user(sendgrid) == Counter(users)


async def test_sendgrid_outage_longer_than_the_old_retry_budget_delivers_every_email_once(  # type: ignore[no-untyped-def]
    make_settings, tmp_path: Path
) -> None:
    """The old policy (6 attempts, 1 s base) gave up after ~15 s; with the default schedule every
    email sent during a 25 s outage arrives once after it, and none is reported failed."""
    async with SendGridStandIn() as sendgrid:
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "launch.yaml").write_text(EMAIL_ONLY)
        settings = make_settings(
            rules, sendgrid_api_key="SG.test", sendgrid_host=sendgrid.url, delivery_breaker_reset=3.0
        )
        async with Worker(settings) as worker:
            await worker.wait_ready()
            sendgrid.fail_for(seconds=25, status=503)
            outage_ends = time.monotonic() + 25
            users = [f"o{n}" for n in range(12)]
            await publish_report(worker, users[:6])
            await asyncio.sleep(12)
            await publish_report(worker, users[6:])
            await eventually(lambda: set(emails_by_user(sendgrid)) == set(users), timeout=90)
            print(f"all emails delivered {time.monotonic() - outage_ends:.1f} s after the outage ended")
            assert emails_by_user(sendgrid) == Counter(users), "each exactly once"
            outcomes = await read_topic(worker.bootstrap_servers, settings.outcomes_topic, timeout=5)
            assert [o for o in outcomes if o["kind"] == "delivery_failed"] == []


async def test_a_worker_never_resends_a_delivery_it_finished_itself(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A second worker joins while the first is busy sending: after the rebalance the first one
    publishes resume markers while its sends keep finishing. Each worker has its own SendGrid
    stand-in, so a delivery id twice on one stand-in is a worker resending its own finished send."""
    async with SendGridStandIn() as first_sendgrid, SendGridStandIn() as second_sendgrid:
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "launch.yaml").write_text(EMAIL_ONLY)
        base = make_settings(rules, sendgrid_api_key="SG.test", delivery_concurrency=4)
        first = WorkerProcess(
            base.model_copy(update={"api_port": free_port(), "sendgrid_host": first_sendgrid.url}), tmp_path / "a.log"
        )
        second = WorkerProcess(
            base.model_copy(update={"api_port": free_port(), "sendgrid_host": second_sendgrid.url}), tmp_path / "b.log"
        )
        users = [f"r{n:03d}" for n in range(300)]
        try:
            first_sendgrid.delay(seconds=0.3)
            second_sendgrid.delay(seconds=0.3)
            await first.start()
            records = []
            for user in users:
                records.append((user.encode(), identify(user, {"first_name": user, "email": f"{user}@example.com"})))
                records.append((user.encode(), track(user, "Report Created", {})))
            await produce(base.kafka_bootstrap_servers or "", base.events_topic, records)
            await eventually(lambda: len(first_sendgrid.messages) >= 20, timeout=60)
            await second.start()  # the group rebalances while the first worker's sends keep finishing

            def everyone() -> bool:
                return set(emails_by_user(first_sendgrid)) | set(emails_by_user(second_sendgrid)) == set(users)

            await eventually(everyone, timeout=120)
        finally:
            first.stop()
            second.stop()
        for name, sendgrid in (("first", first_sendgrid), ("second", second_sendgrid)):
            again = {u: n for u, n in emails_by_user(sendgrid).items() if n > 1}
            assert again == {}, f"the {name} worker resent deliveries it had finished: {again}"
        assert len(second_sendgrid.messages) > 0, "the rebalance really moved partitions"


def nudgeflow(settings_env_: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nudgeflow.orchestrator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=settings_env_,
    )


async def test_dead_letters_are_listed_with_their_reason_and_replayed_once(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with SendGridStandIn() as sendgrid:
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "launch.yaml").write_text(EMAIL_ONLY)
        settings = make_settings(
            rules,
            sendgrid_api_key="SG.test",
            sendgrid_host=sendgrid.url,
            delivery_retry_window=2.0,
            delivery_base_delay=0.2,
            delivery_max_delay=0.5,
            delivery_breaker_reset=0.5,
        )
        env = settings_env(settings)
        async with Worker(settings) as worker:
            await worker.wait_ready()
            sendgrid.fail_for(seconds=600, status=503)
            await publish_report(worker, ["dl1", "dl2"])

            async def listed() -> list[dict[str, object]]:
                result = await asyncio.to_thread(nudgeflow, env, "deliveries", "failed", "--json")
                assert result.returncode == 0, result.stderr
                return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

            letters: list[dict[str, object]] = []

            async def two_listed() -> bool:
                letters[:] = await listed()
                return len(letters) == 2

            await eventually(two_listed, timeout=60, interval=1.0)
            assert {letter["user_id"] for letter in letters} == {"dl1", "dl2"}
            assert all(letter["status"] == "exhausted" for letter in letters)
            assert all("retry window 2 s" in str(letter["reason"]) for letter in letters), letters
            assert all("HTTP 503" in str(letter["reason"]) for letter in letters), letters
            assert sendgrid.messages == []

            unknown = await asyncio.to_thread(nudgeflow, env, "deliveries", "retry", "no-such-id")
            assert unknown.returncode == 1 and "not a failed delivery" in unknown.stdout

            sendgrid.heal()
            replay = await asyncio.to_thread(nudgeflow, env, "deliveries", "retry", "--all")
            assert replay.returncode == 0 and "replay requested for 2 deliveries" in replay.stdout, replay
            await eventually(lambda: set(emails_by_user(sendgrid)) == {"dl1", "dl2"}, timeout=30)
            assert await listed() == []
            assert emails_by_user(sendgrid) == Counter({"dl1": 1, "dl2": 1})


def email_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "launch.yaml").write_text(EMAIL_ONLY)
    return rules


async def test_a_restarted_worker_resumes_each_retry_at_its_stored_attempt(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The due time and number of the next attempt live in the outbox table, not in a sleeping task:
    after kill -9 the next worker carries on the schedule, and each email still arrives once."""
    async with SendGridStandIn() as sendgrid:
        settings = make_settings(
            email_rules(tmp_path),
            sendgrid_api_key="SG.test",
            sendgrid_host=sendgrid.url,
            api_port=free_port(),
            delivery_base_delay=0.5,
            delivery_max_delay=2.0,
            delivery_breaker_failures=1000,
        )
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        users = [f"k{n}" for n in range(5)]
        try:
            sendgrid.fail_for(seconds=600, status=503)
            await worker.start()
            await publish_report_to(settings, users)

            async def retried_twice() -> bool:
                records = await read_topic(settings.kafka_bootstrap_servers or "", settings.deliveries_topic, timeout=3)
                tries = Counter(r["user_id"] for r in records if r.get("type") == "delivery_retry")
                return all(tries[u] >= 2 for u in users)

            await eventually(retried_twice, timeout=60, interval=0.5)
            worker.kill()
            sendgrid.heal()
            await worker.start()
            await eventually(lambda: set(emails_by_user(sendgrid)) == set(users), timeout=60)
        finally:
            worker.stop()
        assert emails_by_user(sendgrid) == Counter(users), "each exactly once"
        outcomes = await read_topic(settings.kafka_bootstrap_servers or "", settings.outcomes_topic, timeout=5)
        sent = [o["attributes"] for o in outcomes if o["kind"] == "delivery_attempted"]
        sent = [a for a in sent if a["status"] == "sent"]
        assert len(sent) == len(users)
        assert all(a["attempt"] >= 3 for a in sent), [a["attempt"] for a in sent]


async def publish_report_to(settings, users: list[str]) -> None:  # type: ignore[no-untyped-def]
    records = []
    for user in users:
        records.append((user.encode(), identify(user, {"first_name": user, "email": f"{user}@example.com"})))
        records.append((user.encode(), track(user, "Report Created", {})))
    await produce(settings.kafka_bootstrap_servers or "", settings.events_topic, records)


async def test_finished_rows_are_pruned_after_the_retention(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with SendGridStandIn() as sendgrid:
        settings = make_settings(
            email_rules(tmp_path), sendgrid_api_key="SG.test", sendgrid_host=sendgrid.url, delivery_retention=1.0
        )
        async with Worker(settings) as worker:
            await worker.wait_ready()
            assert worker.nudgeflow is not None
            table = worker.nudgeflow.app.tables["outbox"]
            first = [f"p{n}" for n in range(40)]
            await publish_report_to(settings, first)
            await eventually(lambda: set(emails_by_user(sendgrid)) == set(first), timeout=30)
            first_ids = [m["custom_args"]["delivery_id"] for m in sendgrid.messages]
            await asyncio.sleep(1.5)  # past the retention
            second = [f"q{n}" for n in range(40)]  # records on every partition trigger its prune pass
            await publish_report_to(settings, second)
            await eventually(lambda: set(emails_by_user(sendgrid)) == set(first + second), timeout=30)
            await eventually(lambda: not any(i in table for i in first_ids), timeout=20)
            assert len(sendgrid.messages) == 80
