"""A/B results from `exposure` outcomes: conversion per variant with a 95% Wilson
interval, and lift vs control with statsmodels' score interval for the difference
(Miettinen–Nurminen) and its matching test, so "significant" and "CI excludes 0" agree.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, test_proportions_2indep

from nudgeflow.orchestrator.analytics.results import ExperimentResult, Filter, Lift, Rate, VariantLift
from nudgeflow.orchestrator.analytics.state import Exposure, UserFacts
from nudgeflow.rules.schema import Playbook


class KnowsPlaybooks(Protocol):
    """What the experiment results need of the analytics model: its playbooks by id."""

    def playbook(self, playbook_id: str) -> Playbook | None: ...


ALPHA = 0.05
CONTROL_NAMES = ("control", "holdout", "a", "A")

__all__ = ["ExperimentResult", "compare", "rate", "results"]


def rate(label: str, users: int, converted: int) -> Rate:
    if users == 0:
        return Rate(label=label, users=0, converted=0, rate=None, ci_low=None, ci_high=None)
    low, high = proportion_confint(converted, users, alpha=ALPHA, method="wilson")
    return Rate(
        label=label, users=users, converted=converted, rate=converted / users, ci_low=float(low), ci_high=float(high)
    )


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _diff(args: tuple[int, int, int, int], method: str) -> tuple[float, float, float]:
    low, high = confint_proportions_2indep(*args, compare="diff", method=method, alpha=ALPHA)
    p_value = test_proportions_2indep(*args, compare="diff", method=method).pvalue
    return float(low), float(high), float(p_value)


def compare(treatment: Rate, control: Rate) -> Lift | None:
    """Lift of `treatment` over `control`; None when either group is empty."""
    if not treatment.users or not control.users:
        return None
    args = (treatment.converted, treatment.users, control.converted, control.users)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            low, high, p_value = _diff(args, "score")
        except ValueError:  # 0/n vs 0/m or n/n vs m/m: the score equation has no root
            low = high = p_value = math.nan
        if not _finite(low, high, p_value):  # fall back to Agresti–Caffo's pseudo-counts
            low, high, p_value = _diff(args, "agresti-caffo")
            p_value = p_value if math.isfinite(p_value) else 1.0
        relative = rel_low = rel_high = None
        if control.converted and treatment.converted:
            r_low, r_high = confint_proportions_2indep(*args, compare="ratio", method="log-adjusted", alpha=ALPHA)
            assert treatment.rate is not None and control.rate is not None
            relative, rel_low, rel_high = treatment.rate / control.rate - 1, float(r_low) - 1, float(r_high) - 1
    absolute = (treatment.rate or 0.0) - (control.rate or 0.0)
    return Lift(
        absolute=absolute,
        absolute_ci_low=max(-1.0, low),
        absolute_ci_high=min(1.0, high),
        relative=relative,
        relative_ci_low=rel_low,
        relative_ci_high=rel_high,
        p_value=p_value,
        significant=bool(low > 0 or high < 0),
    )


def pick_control(variants: Sequence[str], wanted: str | None = None) -> str:
    if wanted is not None and wanted in variants:
        return wanted
    return next((name for name in CONTROL_NAMES if name in variants), sorted(variants)[0])


def _converted(user: UserFacts, exposure: Exposure, key: tuple[str, str] | None, within: int | None) -> bool:
    if key is None:
        return False
    done = user.completed.get(key)
    if done is None or done < exposure.at:
        return False
    return within is None or done <= exposure.at + timedelta(days=within)


def _metric_key(analytics: KnowsPlaybooks, exposure: Exposure, flt: Filter) -> tuple[str, str] | None:
    """The first value of the playbook the exposure belongs to (each user's own playbook)."""
    playbook_id = exposure.playbook_id or flt.playbook
    playbook = analytics.playbook(playbook_id) if playbook_id else None
    return (playbook.id, playbook.first_value) if playbook and playbook.first_value else None


def results(
    analytics: KnowsPlaybooks,
    users: Sequence[UserFacts],
    flt: Filter,
    *,
    within_days: int | None = None,
    control: str | None = None,
) -> list[ExperimentResult]:
    """One result per experiment; the metric is completing the exposure's playbook's first value
    at or after exposure (within `within_days` when given). An experiment running in several
    playbooks reports `metric_milestone="first_value"` and `playbook_id=None` (unless filtered)."""
    names = sorted({name for user in users for name in user.exposures})
    found = []
    for name in names:
        exposed: list[tuple[UserFacts, Exposure]] = []
        conflicts = 0
        for user in users:
            first = user.exposure(name)
            if first is None or (flt.playbook and first.playbook_id not in (None, flt.playbook)):
                continue
            exposed.append((user, first))
            conflicts += len({e.variant for e in user.exposures[name]}) > 1
        if not exposed:
            continue
        keys = {id(user): _metric_key(analytics, exposure, flt) for user, exposure in exposed}
        metrics = {key[1] for key in keys.values() if key}
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for user, exposure in exposed:
            counts[exposure.variant][0] += 1
            counts[exposure.variant][1] += _converted(user, exposure, keys[id(user)], within_days)
        playbook_ids = Counter(e.playbook_id for _, e in exposed if e.playbook_id)
        playbook_id = playbook_ids.most_common(1)[0][0] if len(playbook_ids) == 1 else flt.playbook
        metric = metrics.pop() if len(metrics) == 1 else ("first_value" if metrics else None)
        rates = {variant: rate(variant, n, c) for variant, (n, c) in sorted(counts.items())}
        base = pick_control(list(rates), control)
        lifts = [VariantLift(variant=v, lift=compare(r, rates[base])) for v, r in rates.items() if v != base]
        found.append(
            ExperimentResult(
                experiment=name,
                playbook_id=playbook_id,
                metric_milestone=metric,
                control=base,
                variants=list(rates.values()),
                lifts=lifts,
                conflicting_users=conflicts,
            )
        )
    return found
