"""The scheduled digest through the real Slack and SendGrid clients, against the stand-ins."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from nudgeflow.channels import SendGridEmailChannel, SlackChannel
from nudgeflow.channels.standins import SendGridStandIn, SlackStandIn
from nudgeflow.orchestrator.analytics import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.digest import DigestJob, schedule
from tests.support.analytics import EVENTS, OUTCOMES, PLAYBOOK, T0
from tests.support.kafka import eventually


async def _load() -> OnboardingAnalytics:
    analytics = OnboardingAnalytics([PLAYBOOK])
    analytics.add_all(EVENTS, OUTCOMES)
    return analytics


async def test_scheduled_digest_is_posted_to_slack_and_emailed() -> None:
    async with SlackStandIn() as slack, SendGridStandIn() as sendgrid:
        channels = {
            "slack": SlackChannel("xoxb-test", base_url=f"{slack.url}/api/", timeout=2),
            "email": SendGridEmailChannel("SG.test", "digest@nudgeflow.dev", host=sendgrid.url, timeout=2),
        }
        job = DigestJob(
            _load,
            channels,
            slack_channel="C0CS",
            emails=["ceo@acme.test"],  # type: ignore[arg-type]
            clock=lambda: T0 + timedelta(days=14),
        )
        scheduler = schedule(job, "0 9 * * mon", "Europe/Paris")
        trigger = scheduler.get_job("weekly-digest").trigger
        assert isinstance(trigger, CronTrigger) and str(trigger.timezone) == "Europe/Paris"
        first = trigger.get_next_fire_time(None, datetime(2026, 3, 4, 12, tzinfo=ZoneInfo("Europe/Paris")))
        assert first == datetime(2026, 3, 9, 9, tzinfo=ZoneInfo("Europe/Paris"))
        scheduler.start()
        try:
            scheduler.get_job("weekly-digest").modify(next_run_time=datetime.now(ZoneInfo("Europe/Paris")))
            await eventually(lambda: slack.messages and sendgrid.messages, timeout=10)
        finally:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
        [post] = slack.messages
        assert post["channel"] == "C0CS"
        assert "This week 2 new users (down from 3)." in post["text"]
        [mail] = sendgrid.messages
        assert mail["personalizations"][0]["to"][0]["email"] == "ceo@acme.test"
        assert "This week 2 new users" in str(mail["content"])
        assert [result.status for _, result in job.sent] == ["sent", "sent"]
