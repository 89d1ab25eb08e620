"""Experiments: which variant of a playbook a user gets, and what that variant looks like.

Assignment is a pure function of (experiment id, user id): sha256 gives a bucket in
[0, 1); the first `holdout` share of buckets is held out, the rest is split by
weight. The live worker and the simulator both call it through the Engine, so they
always agree, across processes and restarts, with no stored randomness.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nudgeflow.rules.schema import (
    HOLDOUT,
    Experiment,
    Message,
    MessageOverride,
    Milestone,
    Nudge,
    Playbook,
    Stall,
    StallOverride,
    Variant,
)


def bucket(experiment_id: str, user_id: str) -> float:
    """A stable, uniform number in [0, 1) for one user in one experiment."""
    digest = hashlib.sha256(f"{experiment_id}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(experiment: Experiment, user_id: str) -> str:
    """The variant name for `user_id`, or 'holdout'."""
    point = bucket(experiment.id, user_id)
    if point < experiment.holdout:
        return HOLDOUT
    point = (point - experiment.holdout) / (1 - experiment.holdout)  # rescale the rest to [0, 1)
    total = sum(v.weight for v in experiment.variants)
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.weight / total
        if point < edge:
            return variant.name
    return experiment.variants[-1].name  # float rounding at the very top


@dataclass(frozen=True)
class Assignment:
    experiment: str
    variant: str

    @property
    def held_out(self) -> bool:
        return self.variant == HOLDOUT


def find_stall(playbook: Playbook, override: StallOverride) -> list[int]:
    """Indexes of the playbook's stall rules an override refers to (exactly one when valid)."""
    return [
        i for i, s in enumerate(playbook.stalls) if s.milestone == override.milestone and override.of in (None, s.of)
    ]


OVERRIDABLE = ("title", "body", "cta", "secondary_cta", "links", "image")


def _message(message: Message, override: MessageOverride) -> Message:
    update = {k: v for k in OVERRIDABLE if (v := getattr(override, k)) is not None}
    return message.model_copy(update=update) if update else message


def _milestone(milestone: Milestone, variant: Variant) -> Milestone:
    override = variant.milestones.get(milestone.id)
    if override is None:
        return milestone
    update: dict[str, object] = {}
    if override.celebrate is not None:
        texts = override.celebrate
        update["celebrate"] = [
            _message(m, texts[i]) if i < len(texts) else m for i, m in enumerate(milestone.celebrate)
        ]
    if override.unlocks is not None:
        update["unlocks"] = list(override.unlocks)
    return milestone.model_copy(update=update)


def _stall(stall: Stall, override: StallOverride) -> Stall:
    update: dict[str, object] = {}
    if override.not_within is not None:
        update["not_within"] = override.not_within
    if override.max_nudges is not None:
        update["max_nudges"] = override.max_nudges
    if override.nudges is not None:
        nudges: list[Nudge] = []
        for i, nudge in enumerate(stall.nudges):
            o = override.nudges[i] if i < len(override.nudges) else None
            if o is not None:
                nudge = _message(nudge, o)  # type: ignore[assignment]
                if o.after is not None:
                    nudge = nudge.model_copy(update={"after": o.after})
            nudges.append(nudge)
        update["nudges"] = nudges
    return stall.model_copy(update=update)


def apply_variant(playbook: Playbook, variant: Variant) -> Playbook:
    """The playbook as users of `variant` see it. Ids (milestones, stall keys) never change, so
    progress and timers stay valid; overrides that match nothing are ignored (the loader
    reports them)."""
    milestones = [_milestone(m, variant) for m in playbook.milestones]
    if variant.order is not None and sorted(variant.order) == sorted(m.id for m in milestones):
        by_id = {m.id: m for m in milestones}
        milestones = [by_id[i] for i in variant.order]
    stalls = list(playbook.stalls)
    for override in variant.stalls:
        found = find_stall(playbook, override)
        if len(found) == 1:
            stalls[found[0]] = _stall(stalls[found[0]], override)
    return playbook.changed(milestones=milestones, stalls=stalls)
