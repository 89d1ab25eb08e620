"""Random outages of both providers and random arrivals, on a fake clock: every delivery ends
exactly once, none is sent twice, nothing is lost when its provider comes back long enough within
the window, and a provider that is up sends at once whatever the other one suffers."""

import asyncio
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.clock import settle
from tests.support.outbox import Provider, build_outbox, request

STEP = 60.0  # seconds of fake time per step
HOURS = 3
MAX_DELAY = 300.0  # the outbox's longest backoff (tests/support/outbox.py)
BREAKER_RESET = 60.0
# An up-time this long is sure to see an attempt: the longest backoff, then the breaker's probe.
SURE_TO_SEE_A_RETRY = timedelta(seconds=MAX_DELAY + BREAKER_RESET + STEP)

outage = st.tuples(st.integers(min_value=0, max_value=HOURS * 60 - 1), st.integers(min_value=1, max_value=120))
arrival = st.tuples(st.integers(min_value=0, max_value=HOURS * 60), st.sampled_from(["email", "slack"]))


@settings(max_examples=30, deadline=None)
@given(
    email_outages=st.lists(outage, max_size=3),
    slack_outages=st.lists(outage, max_size=3),
    arrivals=st.lists(arrival, min_size=1, max_size=40),
    rate_limited=st.booleans(),
)
def test_random_outages_never_lose_duplicate_or_cross_delay(email_outages, slack_outages, arrivals, rate_limited):
    asyncio.run(scenario(email_outages, slack_outages, arrivals, rate_limited))


async def scenario(email_outages, slack_outages, arrivals, rate_limited) -> None:  # type: ignore[no-untyped-def]
    outbox = build_outbox(
        concurrency=2, window=HOURS * 3600.0, max_age={}, breaker_failures=3, breaker_reset=BREAKER_RESET
    )
    start = outbox.clock.now()
    for name, outages in (("email", email_outages), ("slack", slack_outages)):
        for first_step, steps in outages:
            outbox.providers[name].down_between(
                start + timedelta(seconds=first_step * STEP), start + timedelta(seconds=(first_step + steps) * STEP)
            )
    outbox.providers["slack"].retry_after = 45.0 if rate_limited else None
    due = sorted((step, n, channel) for n, (step, channel) in enumerate(arrivals))
    arrived_at = {}
    for step in range(int(HOURS * 3600 / STEP) * 2):  # twice the window: everything must have ended
        while due and due[0][0] <= step:
            _, n, channel = due.pop(0)
            delivery = request(n, channel, send_at=outbox.clock.now())
            arrived_at[delivery.delivery_id] = (outbox.clock.now(), channel)
            outbox.sender.start(delivery, partition=0)
        await settle()  # first attempts go out at arrival, as they would on a real clock
        await outbox.clock.advance(STEP)

    ended = [r.delivery_id for r in outbox.results]
    assert sorted(ended) == sorted(arrived_at), "every delivery ends, once"
    for provider in outbox.providers.values():
        ids = [m.delivery_id for m in provider.sent]
        assert len(ids) == len(set(ids)), "never sent twice"
    for result in outbox.results:
        at, channel = arrived_at[result.delivery_id]
        provider = outbox.providers[channel]
        window_end = at + timedelta(hours=HOURS)
        if provider.up(at) or came_back(provider, at, window_end):
            # up at arrival, or back for long enough before the window closed: the message got through
            assert result.status == "sent", (result, provider.outages)
        if result.status == "sent":
            assert provider.sent_at[result.delivery_id] <= window_end
    # Email's outages are its own business: with email up at an email's arrival and in the next
    # minute, it goes out within that minute, whatever Slack suffers.
    email = outbox.providers["email"]
    quiet_email = [
        d
        for d, (at, channel) in arrived_at.items()
        if channel == "email" and email.up(at) and email.up(at + timedelta(seconds=STEP)) and not email.outages
    ]
    for delivery_id in quiet_email:
        assert email.sent_at[delivery_id] - arrived_at[delivery_id][0] <= timedelta(seconds=STEP)
    await outbox.sender.stop()


def came_back(provider: Provider, since: datetime, until: datetime) -> bool:
    """Up without a break for `SURE_TO_SEE_A_RETRY` somewhere between `since` and `until`."""
    start = since
    while start + SURE_TO_SEE_A_RETRY <= until:
        steps = int(SURE_TO_SEE_A_RETRY.total_seconds() // STEP) + 1
        if all(provider.up(start + timedelta(seconds=n * STEP)) for n in range(steps)):
            return True
        start += timedelta(seconds=STEP)
    return False
