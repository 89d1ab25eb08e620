"""A deterministic, realistic-looking onboarding history for the example playbooks.

Used for the dashboard screenshot, `nudgeflow report --sample` and tests: it emits the
same records the worker would (events plus completion, unlock, nudge and exposure
outcomes), so everything downstream runs on it unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from nudgeflow.rules.schema import Playbook

END = datetime(2026, 3, 30, tzinfo=UTC)


def _event(user: str, n: int, at: datetime, **fields: Any) -> dict[str, Any]:
    kind = "identify" if "traits" in fields else "track"
    return {"type": kind, "messageId": f"{user}-{n}", "userId": user, "timestamp": at.isoformat(), **fields}


def _outcome(
    record_kind: str, key: str, user: str, at: datetime, playbook: str, milestone: str | None, **attributes: Any
) -> dict[str, Any]:
    return {
        "outcome_id": f"{record_kind}:{key}",
        "kind": record_kind,
        "user_id": user,
        "occurred_at": at.isoformat(),
        "recorded_at": at.isoformat(),
        "playbook_id": playbook,
        "milestone_id": milestone,
        "attributes": attributes,
    }


def generate(
    playbooks: Sequence[Playbook], users: int = 600, weeks: int = 8, seed: int = 42, end: datetime = END
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, outcomes) for `users` users who signed up over the `weeks` before `end`."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    for index in range(users):
        playbook = playbooks[index % len(playbooks)]
        role = str(playbook.audience["role"].equals) if "role" in playbook.audience else "member"
        user = f"{role}-{index:04d}"
        signup = end - timedelta(days=weeks * 7 * rng.random())
        events.append(_event(user, 0, signup, traits={"role": role}))
        variant = "b" if rng.random() < 0.5 else "control"
        outcomes.append(
            _outcome(
                "exposure",
                f"{user}:welcome-copy",
                user,
                signup,
                playbook.id,
                None,
                experiment="welcome-copy",
                variant=variant,
            )
        )
        at, n = signup, 1
        for step, milestone in enumerate(playbook.milestones):
            chance = 0.72 - 0.12 * step + (0.12 if step == 0 and variant == "b" else 0.0)
            delay = timedelta(hours=rng.lognormvariate(2.5 + 0.4 * step, 1.1))
            stalled = delay > timedelta(hours=48)
            if stalled:
                nudge_at = at + timedelta(hours=48)
                if rng.random() < 0.2:
                    outcomes.append(
                        _outcome(
                            "delivery_suppressed",
                            f"{user}:{milestone.id}",
                            user,
                            nudge_at,
                            playbook.id,
                            milestone.id,
                            kind="nudge",
                            reason="holdout",
                        )
                    )
                    delay *= 1.4
                else:
                    outcomes.append(
                        _outcome(
                            "delivered",
                            f"{user}:{milestone.id}",
                            user,
                            nudge_at,
                            playbook.id,
                            milestone.id,
                            kind="nudge",
                            step=0,
                        )
                    )
            if rng.random() > chance or at + delay > end:
                break
            at += delay
            events.append(_event(user, n, at, event=milestone.when.event, properties={}))
            n += 1
            outcomes.append(
                _outcome(
                    "milestone_completed", f"{user}:{playbook.id}:{milestone.id}", user, at, playbook.id, milestone.id
                )
            )
            for target in playbook.unlocked_by(milestone):
                outcomes.append(
                    _outcome(
                        "milestone_unlocked",
                        f"{user}:{playbook.id}:{target}",
                        user,
                        at,
                        playbook.id,
                        target,
                        unlocked_by=milestone.id,
                    )
                )
                used = playbook.milestone(target)
                if used is not None and rng.random() < 0.6:
                    when = at + timedelta(hours=rng.uniform(1, 200))
                    if when < end:
                        events.append(_event(user, n, when, event=used.when.event, properties={"again": True}))
                        n += 1
    return events, outcomes
