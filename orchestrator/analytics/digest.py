"""The weekly stakeholder digest: a few plain sentences, posted to Slack and/or emailed
through the existing channel adapters, on an APScheduler cron schedule.

Rates compare mature cohorts only (users who signed up 7–14 days ago, whose 7-day window
is over, vs the week before), so "61% within 7 days" never counts people still in it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel

from nudgeflow.channels.base import Channel, OutboundMessage, SendResult
from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics

log = logging.getLogger(__name__)
WEEK = timedelta(days=7)


class Digest(BaseModel):
    week_ending: datetime
    title: str
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _trend(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    delta = round((now - before) * 100)
    if delta == 0:
        return f" (same as the week before, {before:.0%})"
    return f" ({'up' if delta > 0 else 'down'} from {before:.0%})"


def _count_trend(now: int, before: int) -> str:
    if now == before:
        return " (same as the week before)"
    return f" ({'up' if now > before else 'down'} from {before})"


def weekly_digest(analytics: OnboardingAnalytics, now: datetime | None = None, days: int = 7) -> Digest:
    """Plain-language summary of the 7 days before `now`."""
    now = now or datetime.now(UTC)
    summary = [claim.text for claim in analytics.report().summary]  # opens the digest, as the dashboard
    new, previous = analytics.signups(now - WEEK, now), analytics.signups(now - 2 * WEEK, now - WEEK)
    lines = [*summary, f"This week {new} new user{'s' if new != 1 else ''}{_count_trend(new, previous)}."]
    for playbook in analytics.playbooks:
        milestone = playbook.milestone(playbook.first_value) if playbook.first_value else None
        if milestone is None:
            continue
        lag = timedelta(days=days)  # cohorts whose whole window is over
        share, cohort = analytics.share_within(playbook, now - WEEK - lag, now - lag, days)
        before, _ = analytics.share_within(playbook, now - 2 * WEEK - lag, now - WEEK - lag, days)
        if share is None:
            continue
        lines.append(
            f"{playbook.name}: {share:.0%} of the {cohort} users who signed up the week before reached "
            f"“{milestone.title}” within {days} days{_trend(share, before)}."
        )
    settled = now - timedelta(days=days + 1)  # signed up by then: their day `days` is over
    active, cohort = analytics.active_on_day(settled - WEEK, settled, days)
    active_before, _ = analytics.active_on_day(settled - 2 * WEEK, settled - WEEK, days)
    if active is not None:
        lines.append(
            f"Retention: {active:.0%} of the {cohort} users who signed up in the week to {settled:%d %b} came back "
            f"on day {days}{_trend(active, active_before)}."
        )
    for result in analytics.experiments():
        for variant_lift in result.lifts:
            lift = variant_lift.lift
            if lift is None:
                continue
            verdict = (
                f"{variant_lift.variant} {'beats' if lift.absolute > 0 else 'trails'} {result.control} by "
                f"{abs(lift.absolute) * 100:.1f} points (95% CI {lift.absolute_ci_low * 100:+.1f} to "
                f"{lift.absolute_ci_high * 100:+.1f})"
                if lift.significant
                else f"no clear difference yet between {variant_lift.variant} and {result.control}"
            )
            lines.append(f"Experiment {result.experiment}: {verdict}.")
    return Digest(week_ending=now, title=f"Onboarding this week (to {now:%a %d %b %Y})", lines=lines)


def digest_messages(digest: Digest, *, slack_channel: str | None, emails: list[str]) -> list[OutboundMessage]:
    """One Slack post and one email per recipient; the id is stable per week, for idempotency."""
    base = dict(
        user_id="stakeholders", kind="digest", title=digest.title, body=digest.text, categories=["nudgeflow", "digest"]
    )
    stamp = digest.week_ending.strftime("%Y%m%d")
    messages = []
    if slack_channel:
        messages.append(
            OutboundMessage(delivery_id=f"digest-{stamp}-slack", channel="slack", slack_channel=slack_channel, **base)
        )
    for email in emails:
        messages.append(OutboundMessage(delivery_id=f"digest-{stamp}-{email}", channel="email", to_email=email, **base))
    return messages


class DigestJob:
    """Builds the digest from fresh analytics and sends it on every configured channel."""

    def __init__(
        self,
        load: Callable[[], Awaitable[OnboardingAnalytics]],
        channels: dict[str, Channel],
        *,
        slack_channel: str | None = None,
        emails: list[str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.load, self.channels = load, channels
        self.slack_channel, self.emails, self.clock = slack_channel, emails or [], clock
        self.sent: list[tuple[OutboundMessage, SendResult]] = []

    async def run(self) -> Digest:
        analytics = await self.load()
        try:
            digest = weekly_digest(analytics, self.clock())
        finally:
            analytics.close()
        for message in digest_messages(digest, slack_channel=self.slack_channel, emails=self.emails):
            channel = self.channels.get(message.channel)
            if channel is None:
                continue
            result = await channel.send(message)
            if result.status != "sent":
                log.warning(
                    "digest %s on %s: %s %s", message.delivery_id, message.channel, result.status, result.reason
                )
            self.sent.append((message, result))
        return digest


def schedule(job: DigestJob, cron: str, timezone: str) -> AsyncIOScheduler:
    """An AsyncIOScheduler (not started) running `job` on the crontab `cron` in `timezone`."""
    scheduler = AsyncIOScheduler(timezone=timezone)
    scheduler.add_job(
        job.run,
        CronTrigger.from_crontab(cron, timezone=timezone),
        id="weekly-digest",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )
    return scheduler
