"""A circuit breaker per provider, so an outage doesn't burn every queued delivery's attempts.

Closed: sends go out. After `failure_threshold` consecutive retryable failures it opens:
nothing is sent for `reset_after` seconds. Then half-open: exactly one send (the probe)
goes out; its success closes the breaker, its failure opens it again. A 429's Retry-After
holds the whole provider back until then (a rate limit is per account, not per message).
Hand-written rather than pybreaker/aiobreaker: those read the wall clock themselves and
wrap the call, while here the lane's scheduler asks *when* it may send, on an injected clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import IntEnum


class BreakerState(IntEnum):
    """Values as exported in the `nudgeflow_outbox_circuit_state` gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int = 5, reset_after: float = 30.0) -> None:
        if failure_threshold < 1 or reset_after < 0:
            raise ValueError("failure_threshold must be >= 1 and reset_after >= 0")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self.state = BreakerState.CLOSED
        self._failures = 0
        self._open_until: datetime | None = None
        self._held_until: datetime | None = None  # a 429's Retry-After, whatever the state
        self._probe: str | None = None  # the delivery sent as the half-open probe

    def wait(self, now: datetime) -> float | None:
        """Seconds until a send may start (0: now); None while the half-open probe is out."""
        held = (self._held_until - now).total_seconds() if self._held_until is not None else 0.0
        if self.state is BreakerState.OPEN:
            assert self._open_until is not None
            remaining = (self._open_until - now).total_seconds()
            if remaining > 0:
                return max(remaining, held)
            self.state, self._probe = BreakerState.HALF_OPEN, None
        if self.state is BreakerState.HALF_OPEN and self._probe is not None:
            return None
        return max(held, 0.0)

    def started(self, delivery_id: str) -> None:
        """A send starts: in half-open state it is the one probe."""
        if self.state is BreakerState.HALF_OPEN and self._probe is None:
            self._probe = delivery_id

    def ended(self, delivery_id: str) -> None:
        """A send ended, whatever its outcome (it may have sent nothing: expired, cancelled):
        if it was the probe and reported nothing, the next send may probe instead."""
        if self._probe == delivery_id:
            self._probe = None

    def succeeded(self) -> None:
        """The provider answered (sent, or a permanent per-message error such as a bad address)."""
        self.state, self._failures, self._probe = BreakerState.CLOSED, 0, None

    def failed(self, now: datetime, *, retry_after: float | None = None) -> None:
        """A retryable failure (5xx, timeout, 429): counts towards opening."""
        if retry_after:
            until = now + timedelta(seconds=retry_after)
            self._held_until = max(until, self._held_until) if self._held_until else until
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self.state, self._probe = BreakerState.OPEN, None
            self._open_until = now + timedelta(seconds=self.reset_after)
