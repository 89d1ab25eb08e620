"""Retry policy as a small value object: how long to wait before attempt n+1.

Exponential backoff with *full jitter* (delay drawn uniformly from
[0, min(max_delay, base_delay * 2**(n-1))]) spreads a burst of retries after an
outage instead of hammering the provider in lockstep. A provider's
`Retry-After` is a floor: retrying earlier only earns another 429. It is not
capped by `max_delay`, because the provider knows its window better than we do.

`window` bounds the whole schedule in seconds since the delivery was queued, so
retries span a provider incident (minutes to hours) instead of a fixed number of
tries; the last delay is clamped so one final try lands at the window's end.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """`max_attempts` counts every attempt, the first one included (None: no limit but `window`)."""

    max_attempts: int | None = 6
    base_delay: float = 1.0
    max_delay: float = 300.0
    window: float | None = None
    jitter: bool = True
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be >= 0")
        if self.max_delay < self.base_delay:
            raise ValueError("max_delay must be >= base_delay")
        if self.window is not None and self.window < 0:
            raise ValueError("window must be >= 0")

    def backoff_cap(self, attempt: int) -> float:
        """Upper bound of the delay after `attempt` attempts (no jitter, no retry_after)."""
        exponent = min(attempt - 1, 63)  # avoid float overflow for absurd attempt counts
        return min(self.max_delay, self.base_delay * (2.0**exponent))

    def next_delay(self, attempt: int, retry_after: float | None = None, *, elapsed: float = 0.0) -> float | None:
        """Seconds to wait after `attempt` attempts (1-based) have failed, `elapsed` seconds after the
        delivery was queued; None when the attempts or the window are used up."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return None
        cap = self.backoff_cap(attempt)
        delay = self.rand() * cap if self.jitter else cap
        if retry_after is not None and retry_after > delay:
            delay = retry_after
        if self.window is not None:
            left = self.window - elapsed
            if left <= 0:
                return None
            delay = min(delay, left)
        return delay


NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0)
