"""The timers topic (internal): 'this user's timer is due now', on the partition that owns the user.

Keyed by user id. The worker that owns a partition publishes a command when a timer stored in
the user's record comes due; the events agent applies it in order with the user's events.
`timer_id` is either a stall timer's id or `send:<delivery_id>` for a deferred send.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1


class TimerCommand(BaseModel):
    """On the timers topic: 'this user's timer is due now'."""

    version: SchemaVersion = VERSION
    user_id: str
    timer_id: str
    due_at: AwareDatetime
