"""Durable timers: stall nudges and deferred sends that survive restarts and rebalances.

Timers are stored in the user's record (the partitioned, changelog-backed `users`
table): that is their source of truth, so a worker that gains a partition gains its
timers. Each worker keeps an in-memory schedule of the timers of the partitions it
owns and, when one is due, publishes a `TimerFired` command to the timers topic, on
the partition the user's record lives in. The event agent handles it in order with
the user's events; a timer no longer in the record (cancelled or already fired) is
ignored, so a command published twice fires once.
"""
