"""The sender on a fake clock: per-provider isolation, breaker, retry window, expiry."""

from datetime import timedelta

from nudgeflow.orchestrator.outbox.breaker import BreakerState
from tests.support.clock import settle
from tests.support.outbox import build_outbox, request


async def test_a_slack_outage_with_429s_never_delays_email():
    outbox = build_outbox(concurrency=2)
    slack, email = outbox.providers["slack"], outbox.providers["email"]
    slack.down_for(3600)
    slack.retry_after = 30.0
    now = outbox.clock.now()
    for n in range(20):
        outbox.sender.start(request(n, "slack", send_at=now), partition=0)
    for n in range(5):
        outbox.sender.start(request(n, "email", send_at=now), partition=0)
    await settle()
    assert len(email.sent) == 5, "every email went out without any time passing"
    assert {r.delivery_id for r in outbox.results} == {f"d-email-{n}" for n in range(5)}
    assert len(slack.calls) <= 2, "Slack's Retry-After holds back its own lane, not email's"
    await outbox.sender.stop()


async def test_a_hanging_provider_uses_only_its_own_send_slots():
    outbox = build_outbox(concurrency=2)
    slack, email = outbox.providers["slack"], outbox.providers["email"]
    slack.hanging = True
    now = outbox.clock.now()
    for n in range(10):
        outbox.sender.start(request(n, "slack", send_at=now), partition=0)
    await settle()
    assert len(slack.calls) == 2, "two slots for Slack, both stuck"
    for n in range(10):
        outbox.sender.start(request(n, "email", send_at=now), partition=0)
    await settle()
    assert len(email.sent) == 10
    slack.release()
    await settle()
    assert len(slack.sent) == 10
    await outbox.sender.stop()


async def test_backoff_waits_without_a_slot_and_follows_the_schedule():
    outbox = build_outbox(concurrency=1, breaker_failures=100)
    email = outbox.providers["email"]
    email.down_for(10)
    now = outbox.clock.now()
    outbox.sender.start(request(1, send_at=now), partition=3)
    outbox.sender.start(request(2, send_at=now), partition=3)
    await settle()
    assert [a.status for a in outbox.attempts] == ["retry", "retry"], "the one slot is free while both back off"
    [first, second] = outbox.retries
    assert first.attempts == 1 and first.next_attempt_at > now, "the next due time is published, to survive restarts"
    await outbox.clock.advance(20)
    await outbox.clock.advance(20)
    assert len(email.sent) == 2 and {r.status for r in outbox.results} == {"sent"}
    await outbox.sender.stop()


async def test_an_outage_of_hours_ends_in_one_delivery_each_without_burning_attempts():
    outbox = build_outbox(concurrency=4, breaker_failures=3, breaker_reset=60)
    email = outbox.providers["email"]
    email.down_for(2 * 3600)
    now = outbox.clock.now()
    for n in range(30):
        outbox.sender.start(request(n, send_at=now), partition=0)
    await settle()
    for _ in range(3 * 60):  # three hours, a minute at a time
        await outbox.clock.advance(60)
    assert sorted(m.delivery_id for m in email.sent) == sorted(f"d-email-{n}" for n in range(30)), "each exactly once"
    assert {r.status for r in outbox.results} == {"sent"}
    # the breaker lets ~one probe a minute through, not 30 deliveries' worth of backoff attempts
    assert len(email.calls) < 30 + 2 * 60 + 10, len(email.calls)
    assert outbox.sender.lane("email").breaker.state is BreakerState.CLOSED
    await outbox.sender.stop()


async def test_after_the_retry_window_a_dead_letter_with_the_reason_and_the_request():
    outbox = build_outbox(window=3600, max_age={})
    email = outbox.providers["email"]
    email.down_for(10 * 3600)
    outbox.sender.start(request(1, send_at=outbox.clock.now()), partition=0)
    for _ in range(70):
        await outbox.clock.advance(60)
    [result] = outbox.results
    assert result.status == "exhausted" and result.dead_letter
    assert "retry window 60 min" in (result.reason or "") and "HTTP 503" in (result.reason or "")
    assert result.request is not None and result.request.delivery_id == "d-email-1"
    assert email.sent == []
    assert not outbox.sender.running("d-email-1") and outbox.sender.completed("d-email-1")
    await outbox.sender.stop()


async def test_a_celebration_past_its_max_age_expires_instead_of_arriving_stale():
    outbox = build_outbox(max_age={"celebration": 2 * 86400.0})
    email = outbox.providers["email"]
    now = outbox.clock.now()
    outbox.sender.start(request("old", send_at=now - timedelta(days=3)), partition=0)
    outbox.sender.start(request("new", send_at=now - timedelta(hours=1)), partition=0)
    await settle()
    old = outbox.result("d-email-old")
    assert old is not None and old.status == "expired" and "max age of 48.0 h" in (old.reason or "")
    assert [m.delivery_id for m in email.sent] == ["d-email-new"]
    await outbox.sender.stop()


async def test_a_delivery_expires_during_an_outage_even_while_the_breaker_is_open():
    outbox = build_outbox(max_age={"nudge": 3600.0}, breaker_failures=1, breaker_reset=7200)
    email = outbox.providers["email"]
    email.down_for(86400)
    outbox.sender.start(request(1, kind="nudge", send_at=outbox.clock.now()), partition=0)
    await settle()
    await outbox.clock.advance(3601)
    [result] = outbox.results
    assert result.status == "expired" and len(email.calls) == 1
    await outbox.sender.stop()


async def test_a_finished_delivery_is_never_started_again_by_this_worker():
    outbox = build_outbox()
    now = outbox.clock.now()
    assert outbox.sender.start(request(1, send_at=now), partition=0)
    await settle()
    assert not outbox.sender.start(request(1, send_at=now), partition=0)
    await settle()
    assert len(outbox.providers["email"].calls) == 1
    outbox.sender.forget("d-email-1")  # an operator's replay
    assert outbox.sender.start(request(1, send_at=now), partition=0, replayed=True)
    await outbox.sender.stop()


async def test_keep_only_cancels_the_sends_of_lost_partitions():
    outbox = build_outbox()
    email = outbox.providers["email"]
    email.down_for(3600)
    now = outbox.clock.now()
    outbox.sender.start(request(1, send_at=now), partition=0)
    outbox.sender.start(request(2, send_at=now), partition=1)
    await settle()
    await outbox.sender.keep_only({1})
    assert not outbox.sender.running("d-email-1") and outbox.sender.running("d-email-2")
    await outbox.clock.advance(7200)
    assert [m.delivery_id for m in email.sent] == ["d-email-2"]
    await outbox.sender.stop()


async def test_metrics_show_queued_retrying_expired_and_the_circuit_per_provider():
    from prometheus_client import REGISTRY

    def sample(name: str, provider: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"provider": provider})

    outbox = build_outbox(
        concurrency=1, breaker_failures=2, breaker_reset=600, provider_names={"slack": "slack-m", "email": "sendgrid-m"}
    )
    outbox.providers["slack"].down_for(3600)
    now = outbox.clock.now()
    for n in range(5):
        outbox.sender.start(request(n, "slack", send_at=now), partition=0)
    outbox.sender.start(request("stale", "email", send_at=now - timedelta(days=9)), partition=0)
    await settle()
    assert sample("nudgeflow_outbox_circuit_state", "slack-m") == 2.0, "open"
    assert sample("nudgeflow_outbox_retrying", "slack-m") == 2.0, "the two that failed wait for a retry"
    assert sample("nudgeflow_outbox_queued", "slack-m") == 3.0, "the rest never tried: the breaker is open"
    assert sample("nudgeflow_outbox_expired_total", "sendgrid-m") == 1.0
    assert sample("nudgeflow_outbox_circuit_state", "sendgrid-m") == 0.0
    await outbox.sender.stop()


async def test_a_lane_keeps_no_entry_of_the_deliveries_it_sent():
    """Each queued job has a deadline (its retry window, a day ahead): the entry must not outlive the
    send, or every delivery a lane ever sent stays in memory (the soak's RSS growth)."""
    from nudgeflow.orchestrator.outbox.lanes import COMPACT_SLACK

    outbox = build_outbox(concurrency=4)
    now = outbox.clock.now()
    for n in range(1000):
        outbox.sender.start(request(n, send_at=now), partition=0)
        if n % 50 == 49:
            await settle()
    await settle()
    assert len(outbox.providers["email"].sent) == 1000
    lane = outbox.sender.lane("email")
    assert len(lane._deadlines) <= COMPACT_SLACK and len(lane._heap) <= COMPACT_SLACK
    await outbox.sender.stop()
