import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudgeflow.channels.retry import NO_RETRY, RetryPolicy


def test_without_jitter_delays_double_up_to_max_delay():
    policy = RetryPolicy(max_attempts=8, base_delay=1.0, max_delay=10.0, jitter=False)
    assert [policy.next_delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_full_jitter_scales_the_cap_by_the_random_draw():
    policy = RetryPolicy(max_attempts=5, base_delay=2.0, max_delay=100.0, rand=lambda: 0.25)
    assert policy.next_delay(1) == 0.5
    assert policy.next_delay(3) == 2.0


def test_exhausted_after_max_attempts():
    policy = RetryPolicy(max_attempts=3, jitter=False)
    assert policy.next_delay(2) is not None
    assert policy.next_delay(3) is None
    assert policy.next_delay(10, retry_after=1.0) is None
    assert NO_RETRY.next_delay(1) is None


def test_retry_after_is_a_floor():
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=60.0, rand=lambda: 0.0)
    assert policy.next_delay(1, retry_after=7.5) == 7.5
    assert policy.next_delay(1, retry_after=0.0) == 0.0


def test_retry_after_beyond_max_delay_is_honoured():
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=10.0, jitter=False)
    assert policy.next_delay(1, retry_after=120.0) == 120.0


def test_a_larger_backoff_wins_over_a_small_retry_after():
    policy = RetryPolicy(max_attempts=9, base_delay=1.0, max_delay=100.0, jitter=False)
    assert policy.next_delay(5, retry_after=1.0) == 16.0


def test_seeded_random_source_makes_delays_reproducible():
    def delays(seed: int) -> list[float | None]:
        policy = RetryPolicy(max_attempts=6, rand=random.Random(seed).random)
        return [policy.next_delay(n) for n in range(1, 7)]

    assert delays(7) == delays(7)
    assert delays(7) != delays(8)


def test_huge_attempt_numbers_do_not_overflow():
    policy = RetryPolicy(max_attempts=10_000, base_delay=1.0, max_delay=30.0, jitter=False)
    assert policy.next_delay(5_000) == 30.0


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1.0}, {"base_delay": 5.0, "max_delay": 1.0}])
def test_invalid_policies_are_rejected(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_attempt_is_one_based():
    with pytest.raises(ValueError):
        RetryPolicy().next_delay(0)


@given(
    attempt=st.integers(min_value=1, max_value=40),
    draw=st.floats(min_value=0.0, max_value=1.0),
    retry_after=st.none() | st.floats(min_value=0.0, max_value=1e5),
)
def test_delay_stays_within_bounds(attempt, draw, retry_after):
    policy = RetryPolicy(max_attempts=50, base_delay=0.5, max_delay=60.0, rand=lambda: draw)
    delay = policy.next_delay(attempt, retry_after)
    assert delay is not None
    assert 0.0 <= delay
    assert delay <= max(policy.backoff_cap(attempt), retry_after or 0.0)
    if retry_after is not None:
        assert delay >= retry_after


def test_without_an_attempt_limit_the_window_decides_and_the_last_try_lands_at_its_end():
    policy = RetryPolicy(max_attempts=None, base_delay=1.0, max_delay=300.0, window=3600.0, jitter=False)
    assert policy.next_delay(50, elapsed=0.0) == 300.0, "capped per attempt"
    assert policy.next_delay(50, elapsed=3500.0) == 100.0, "clamped to the window's end"
    assert policy.next_delay(50, elapsed=3600.0) is None
    assert policy.next_delay(1, retry_after=7200.0, elapsed=0.0) == 3600.0


def test_a_day_long_window_outlasts_an_hour_long_outage():
    """The old default (6 attempts, 1 s base) gave up after ~15 s; a 24 h window keeps trying."""
    policy = RetryPolicy(max_attempts=None, base_delay=1.0, max_delay=300.0, window=86400.0, rand=lambda: 0.5)
    elapsed, attempt = 0.0, 1
    while elapsed < 3600.0:
        delay = policy.next_delay(attempt, elapsed=elapsed)
        assert delay is not None
        elapsed, attempt = elapsed + delay, attempt + 1
    assert attempt < 40, "with backoff capped at 300 s (jittered), about one try every 150 s"


def test_a_negative_window_is_rejected():
    with pytest.raises(ValueError):
        RetryPolicy(window=-1.0)
