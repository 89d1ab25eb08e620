"""A deterministic, realistic onboarding history for the example playbooks, at any size.

It emits the records the worker would (Segment events; exposure, completion, unlock, nudge
and delivery outcomes in the shapes of `nudgeflow.rules.contracts`), user by user, so
`write_sample` streams a million users in constant memory. Experiments are the playbooks'
own: variants are assigned with the worker's `assign`, held-out users get a holdout
suppression where the others get the nudge, and variant overrides (a shorter stall) apply.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nudgeflow.rules.experiments import apply_variant, assign
from nudgeflow.rules.schema import HOLDOUT, SIGNUP, Condition, Milestone, Playbook, Stall

END = datetime(2026, 3, 30, tzinfo=UTC)
EVENTS_FILE, OUTCOMES_FILE, PLAYBOOKS_DIR = "events.jsonl", "outcomes.jsonl", "playbooks"
Record = dict[str, Any]


def _value(condition: Condition) -> Any:
    """A property value the milestone's `where` accepts, so the worker would count the event."""
    if condition.equals is not None:
        return condition.equals
    if condition.in_:
        return condition.in_[0]
    for bound, step in ((condition.gte, 0), (condition.gt, 1), (condition.lte, 0), (condition.lt, -1)):
        if isinstance(bound, int | float):
            return bound + step
    if condition.contains is not None:
        return [condition.contains]
    return "ok"


def _properties(milestone: Milestone) -> Record:
    return {name: _value(condition) for name, condition in milestone.when.where.items()}


@dataclass
class _Journey:
    """One user's records, in the order the worker would have written them."""

    user: str
    playbook: Playbook
    events: list[Record] = field(default_factory=list)
    outcomes: list[Record] = field(default_factory=list)

    def event(self, at: datetime, **fields: Any) -> None:
        if "group" in fields:
            fields["groupId"] = fields.pop("group")
            kind = "group"
        else:
            kind = "identify" if "traits" in fields else "track"
        message_id = f"{self.user}-{len(self.events)}"
        self.events.append(
            {"type": kind, "messageId": message_id, "userId": self.user, "timestamp": at.isoformat(), **fields}
        )

    def outcome(
        self, record_kind: str, key: str, at: datetime, milestone: str | None = None, **attributes: Any
    ) -> None:
        record: Record = {
            "outcome_id": f"{record_kind}:{key}",
            "kind": record_kind,
            "user_id": self.user,
            "occurred_at": at.isoformat(),
            "recorded_at": (at + timedelta(milliseconds=40)).isoformat(),
            "playbook_id": self.playbook.id,
            "milestone_id": milestone,
            "attributes": attributes,
        }
        if "channel" in attributes:
            record["channel"] = attributes.pop("channel")
            record["delivery_id"] = key.rsplit(":", 1)[0]
        self.outcomes.append(record)


def _stall_for(playbook: Playbook, milestone: Milestone, previous: Milestone | None) -> Stall | None:
    anchor = previous.id if previous else SIGNUP
    return next((s for s in playbook.stalls if s.milestone == milestone.id and s.of in (anchor, SIGNUP)), None)


ACCOUNT_SIZE = 5


def journey(playbook: Playbook, index: int, rng: random.Random, start: datetime, end: datetime) -> _Journey:
    """Signup somewhere in [start, end), then the ladder with drop-off, stalls and nudges."""
    role = str(playbook.audience["role"].equals) if "role" in playbook.audience else "member"
    person = _Journey(f"{role}-{index:06d}", playbook)
    signup = start + (end - start) * rng.random()
    person.event(signup, traits={"role": role, "plan": rng.choice(("trial", "team", "business"))})
    account = f"acct-{index // ACCOUNT_SIZE:05d}"  # consecutive users share an account (a Segment group call)
    person.event(signup + timedelta(minutes=1), group=account, traits={"name": f"Account {index // ACCOUNT_SIZE}"})
    variant, seen = None, playbook
    if playbook.experiment is not None:
        variant = assign(playbook.experiment, person.user)
        exposure_key = f"{person.user}:{playbook.experiment.id}"
        person.outcome("exposure", exposure_key, signup, experiment=playbook.experiment.id, variant=variant)
        chosen = playbook.experiment.variant(variant)
        seen = apply_variant(playbook, chosen) if chosen is not None else playbook
    at, previous = signup, None
    for step, milestone in enumerate(seen.milestones):
        chance = 0.8 - 0.12 * step + (0.04 if variant not in (None, HOLDOUT, "control") else 0.0)
        delay = timedelta(hours=rng.lognormvariate(2.6 + 0.45 * step, 1.2))
        stall = _stall_for(seen, milestone, previous)
        if stall is not None:
            due = at + stall.not_within
            timer = f"{person.user}:{playbook.id}:{milestone.id}"
            person.outcome("nudge_scheduled", timer, at, milestone.id, timer_id=timer, due_at=due.isoformat(), step=0)
            if at + delay > due and due < end:
                nudge = stall.nudges[0]
                delivery = f"{timer}:nudge:0:{nudge.channel}"
                if variant == HOLDOUT:
                    held = {"reason": "holdout", "channel": nudge.channel}
                    person.outcome("delivery_suppressed", delivery, due, milestone.id, kind="nudge", step=0, **held)
                else:
                    person.outcome(
                        "delivered", delivery, due, milestone.id, kind="nudge", step=0, channel=nudge.channel
                    )
                    chance += 0.08  # the nudge works a little
                    delay = min(delay, due - at + timedelta(hours=rng.lognormvariate(2.0, 1.0)))
        if rng.random() > chance or at + delay >= end:
            break
        at += delay
        for _ in range(milestone.when.count):
            person.event(at, event=milestone.when.event, properties=_properties(milestone))
        key = f"{person.user}:{playbook.id}:{milestone.id}"
        person.outcome("milestone_completed", key, at, milestone.id)
        for position, message in enumerate(milestone.celebrate):
            delivery = f"{key}:celebrate:{position}:{message.channel}"
            sent = {"kind": "celebration", "step": 0, "channel": message.channel}
            person.outcome("delivered", delivery, at, milestone.id, **sent)
            if message.survey is not None:
                _answer(person, index, delivery, message.survey.scale, at, milestone.id, variant)
        for target in seen.unlocked_by(milestone):
            person.outcome(
                "milestone_unlocked", f"{person.user}:{playbook.id}:{target}", at, target, unlocked_by=milestone.id
            )
            used = seen.milestone(target)
            when = at + timedelta(hours=rng.uniform(1, 200))
            if used is not None and rng.random() < 0.6 and when < end:
                person.event(when, event=used.when.event, properties={"again": True})
        previous = milestone
    _value_events(person, index, at, end, reached=previous is not None)
    return person


COMMENTS = (
    "The connector list had what we use.",
    "Took a while to find the API key.",
    "Our IT had to allow-list the IP first.",
    "Smooth, done in two minutes.",
    "The docs link helped.",
)


def _answer(
    person: _Journey, index: int, delivery: str, scale: int, at: datetime, milestone: str, variant: str | None
) -> None:
    """About a third of the users answer a celebration's micro-survey (the in-app API publishes the
    event, the worker records the outcome), a few with a comment. Their own generator, so the
    journeys stay as they were."""
    rng = random.Random(f"survey:{index}:{delivery}")
    if rng.random() > 0.35:
        return
    lift = 0.3 if variant not in (None, HOLDOUT, "control") else 0.0
    rating = max(1, min(scale, round(rng.gauss(0.75 * scale + lift, 0.9))))
    comment = rng.choice(COMMENTS) if rng.random() < 0.3 else None
    answered = at + timedelta(minutes=2)
    props = {"delivery_id": delivery, "playbook_id": person.playbook.id, "milestone_id": milestone}
    person.event(answered, event="Survey Answered", properties={**props, "rating": rating, "scale": scale})
    person.outcome(
        "survey_answered",
        f"{delivery}:survey",
        answered,
        milestone,
        kind="celebration",
        rating=rating,
        scale=scale,
        comment=comment,
        channel="in_app",
    )


def _value_events(person: _Journey, index: int, last: datetime, end: datetime, *, reached: bool) -> None:
    """Some users who got somewhere grow their account or recommend the product later (the value
    metrics' default events). Their own generator, so the journeys above stay as they were."""
    rng = random.Random(index)
    for event, chance in (
        ("Seats Added", 0.25),
        ("Plan Upgraded", 0.08),
        ("Referral Sent", 0.06),
        ("NPS Promoter", 0.1),
    ):
        when = last + timedelta(days=rng.uniform(1, 60))
        if reached and rng.random() < chance and when < end:
            person.event(when, event=event, properties={})


def journeys(
    playbooks: Sequence[Playbook], users: int, weeks: int = 8, seed: int = 42, end: datetime = END
) -> Iterator[_Journey]:
    """`users` journeys, spread over the playbooks in turn, who signed up in the `weeks` before `end`."""
    rng = random.Random(seed)
    start = end - timedelta(weeks=weeks)
    for index in range(users):
        yield journey(playbooks[index % len(playbooks)], index, rng, start, end)


def generate(
    playbooks: Sequence[Playbook], users: int = 600, weeks: int = 8, seed: int = 42, end: datetime = END
) -> tuple[list[Record], list[Record]]:
    """(events, outcomes) in memory: for small samples (the demo dashboard, tests)."""
    events: list[Record] = []
    outcomes: list[Record] = []
    for person in journeys(playbooks, users, weeks, seed, end):
        events.extend(person.events)
        outcomes.extend(person.outcomes)
    return events, outcomes


def write_sample(
    playbooks: Sequence[Playbook],
    out: Path,
    users: int,
    *,
    weeks: int = 8,
    seed: int = 42,
    end: datetime = END,
    sources: Sequence[str] = (),
) -> tuple[int, int]:
    """Stream `events.jsonl` and `outcomes.jsonl` into `out` (one user at a time, constant memory),
    plus a copy of the playbook files so `nudgeflow report --from out` needs nothing else."""
    out.mkdir(parents=True, exist_ok=True)
    if sources:
        rules = out / PLAYBOOKS_DIR
        rules.mkdir(exist_ok=True)
        for source in sources:
            shutil.copyfile(source, rules / Path(source).name)
    counts = [0, 0]
    with (out / EVENTS_FILE).open("w") as events, (out / OUTCOMES_FILE).open("w") as outcomes:
        for person in journeys(playbooks, users, weeks, seed, end):
            for target, records, slot in ((events, person.events, 0), (outcomes, person.outcomes, 1)):
                target.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
                counts[slot] += len(records)
    return counts[0], counts[1]
