from datetime import UTC, datetime, timedelta

import pytest

from nudgeflow.orchestrator.outbox.breaker import BreakerState, CircuitBreaker

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_opens_after_consecutive_failures_only():
    breaker = CircuitBreaker(failure_threshold=3, reset_after=30)
    breaker.failed(at(0))
    breaker.failed(at(1))
    breaker.succeeded()  # a success in between resets the count
    breaker.failed(at(2))
    breaker.failed(at(3))
    assert breaker.state is BreakerState.CLOSED and breaker.wait(at(3)) == 0.0
    breaker.failed(at(4))
    assert breaker.state is BreakerState.OPEN
    assert breaker.wait(at(4)) == 30.0
    assert breaker.wait(at(20)) == 14.0


def test_half_open_lets_one_probe_through_and_its_success_closes():
    breaker = CircuitBreaker(failure_threshold=1, reset_after=10)
    breaker.failed(at(0))
    assert breaker.wait(at(10)) == 0.0 and breaker.state is BreakerState.HALF_OPEN
    breaker.started("d-1")
    assert breaker.wait(at(10)) is None, "a second send waits for the probe"
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED and breaker.wait(at(11)) == 0.0


def test_a_failed_probe_opens_again_for_a_full_period():
    breaker = CircuitBreaker(failure_threshold=5, reset_after=10)
    for n in range(5):
        breaker.failed(at(n))
    assert breaker.wait(at(15)) == 0.0
    breaker.started("d-1")
    breaker.failed(at(15))
    assert breaker.state is BreakerState.OPEN and breaker.wait(at(15)) == 10.0


def test_retry_after_holds_the_provider_back_even_when_closed():
    breaker = CircuitBreaker(failure_threshold=5, reset_after=10)
    breaker.failed(at(0), retry_after=30)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.wait(at(0)) == 30.0 and breaker.wait(at(29)) == 1.0 and breaker.wait(at(30)) == 0.0


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)


def test_a_probe_that_sent_nothing_frees_the_probe_slot():
    breaker = CircuitBreaker(failure_threshold=1, reset_after=10)
    breaker.failed(at(0))
    assert breaker.wait(at(10)) == 0.0
    breaker.started("d-expired")
    breaker.ended("d-other")
    assert breaker.wait(at(10)) is None
    breaker.ended("d-expired")
    assert breaker.wait(at(10)) == 0.0
