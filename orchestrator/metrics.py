"""Prometheus metrics for operators, served on the API's /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("nudgeflow_events_total", "Product events by result", ["result"])
DEAD_LETTERS = Counter("nudgeflow_dead_letters_total", "Events sent to the dead-letter topic", ["error_type"])
MILESTONES = Counter("nudgeflow_milestones_completed_total", "Milestones completed", ["playbook"])
DELIVERIES = Counter("nudgeflow_deliveries_total", "Deliveries by channel and state", ["channel", "state"])
ACCOUNT_NOTICES = Counter(
    "nudgeflow_account_notices_total", "Members told their account reached an account-level milestone"
)
TIMERS = Counter("nudgeflow_timers_total", "Timer commands by result (fired, stale)", ["result"])
RULESET_INFO = Gauge("nudgeflow_ruleset_playbooks", "Playbooks in the ruleset in force", ["version"])
CONSUMER_LAG = Gauge(
    "nudgeflow_consumer_lag_records", "Records not yet processed, per owned partition", ["topic", "partition"]
)
PARTITIONS_UNSTUCK = Counter(
    "nudgeflow_partitions_unstuck_total",
    "Partitions found stalled with records waiting and sought again (broker/stall_watch.py)",
    ["topic"],
)
RESTORED_RECORDS = Counter(
    "nudgeflow_restored_records_total",
    "Changelog records written to local state by the bulk restore (broker/bulk_restore.py)",
)
AGENT_BATCH_RECORDS = Histogram(
    "nudgeflow_agent_batch_records",
    "Records per batch the event agent handled (one wait for the broker's acks each)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
AGENT_BATCH_RETRIES = Counter(
    "nudgeflow_agent_batch_retries_total", "Batches handled again after a send to the broker failed"
)
TIMER_BACKLOG = Gauge("nudgeflow_timers_armed", "Timers armed on this worker (stall nudges, deferred sends)")
TIMER_LAG = Gauge("nudgeflow_timer_fire_lag_seconds", "How late the last timer was published after its due time")
OUTBOX_QUEUED = Gauge(
    "nudgeflow_outbox_queued", "Deliveries waiting for their first attempt, per provider", ["provider"]
)
OUTBOX_RETRYING = Gauge(
    "nudgeflow_outbox_retrying", "Deliveries waiting for a further attempt, per provider", ["provider"]
)
OUTBOX_EXPIRED = Counter("nudgeflow_outbox_expired_total", "Deliveries dropped as too old to send", ["provider"])
OUTBOX_DEAD_LETTERS = Counter(
    "nudgeflow_outbox_dead_letters_total", "Deliveries closed as failed or out of retries", ["provider"]
)
OUTBOX_CIRCUIT = Gauge(
    "nudgeflow_outbox_circuit_state", "Circuit breaker per provider: 0 closed, 1 half-open, 2 open", ["provider"]
)
