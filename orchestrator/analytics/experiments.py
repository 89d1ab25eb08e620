"""Conversion rates and lifts from SQL counts, with the standard library only.

Per variant: the 95% Wilson score interval. Lift (treatment minus control): Newcombe's hybrid
score interval for a difference of proportions (method 10 of Newcombe 1998, built from the two
Wilson intervals; it stays inside [-1, 1] and behaves at 0/n and n/n). `significant` means that
interval excludes 0; `p_value` is the pooled two-proportion z-test (1.0 when both groups are all
0 or all 1). Relative lift: the ratio's log interval with 0.5 added to every count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

from nudgeflow.orchestrator.analytics.results import ExperimentResult, Lift, Rate, VariantLift

ALPHA = 0.05
Z = NormalDist().inv_cdf(1 - ALPHA / 2)
CONTROL_NAMES = ("control", "holdout", "a", "A")

__all__ = ["ExperimentResult", "compare", "experiment_result", "rate", "wilson"]


def wilson(converted: int, users: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of converted / users (users > 0)."""
    p = converted / users
    centre = (p + z * z / (2 * users)) / (1 + z * z / users)
    half = z * math.sqrt(p * (1 - p) / users + z * z / (4 * users * users)) / (1 + z * z / users)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(label: str, users: int, converted: int) -> Rate:
    if users == 0:
        return Rate(label=label, users=0, converted=0, rate=None, ci_low=None, ci_high=None)
    low, high = wilson(converted, users)
    return Rate(label=label, users=users, converted=converted, rate=converted / users, ci_low=low, ci_high=high)


def _p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return 2 * (1 - NormalDist().cdf(abs(x1 / n1 - x2 / n2) / se))


def _relative(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    ratio = ((x1 + 0.5) / (n1 + 0.5)) / ((x2 + 0.5) / (n2 + 0.5))
    spread = Z * math.sqrt(1 / (x1 + 0.5) - 1 / (n1 + 0.5) + 1 / (x2 + 0.5) - 1 / (n2 + 0.5))
    return ratio * math.exp(-spread) - 1, ratio * math.exp(spread) - 1


def compare(treatment: Rate, control: Rate) -> Lift | None:
    """Lift of `treatment` over `control`; None when either group is empty."""
    if not treatment.users or not control.users:
        return None
    x1, n1, x2, n2 = treatment.converted, treatment.users, control.converted, control.users
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    relative = rel_low = rel_high = None
    if x1 and x2:
        relative = p1 / p2 - 1
        rel_low, rel_high = _relative(x1, n1, x2, n2)
    return Lift(
        absolute=difference,
        absolute_ci_low=max(-1.0, low),
        absolute_ci_high=min(1.0, high),
        relative=relative,
        relative_ci_low=rel_low,
        relative_ci_high=rel_high,
        p_value=_p_value(x1, n1, x2, n2),
        significant=bool(low > 0 or high < 0),
    )


SRM_ALPHA = 0.001  # the usual threshold: a real mismatch is rarely subtle, and checks run every day


def _upper_gamma_regularized(s: float, x: float) -> float:
    """Q(s, x) = Γ(s, x) / Γ(s): a series below s + 1, Lentz's continued fraction above (Numerical Recipes)."""
    if x <= 0:
        return 1.0
    log_front = s * math.log(x) - x - math.lgamma(s)
    if x < s + 1:
        term = total = 1.0 / s
        a = s
        for _ in range(500):
            a += 1
            term *= x / a
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b, c, d = x + 1 - s, 1 / tiny, 1 / (x + 1 - s)
    h = d
    for i in range(1, 500):
        an = -i * (i - s)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def sample_ratio_p_value(observed: dict[str, int], expected_shares: dict[str, float]) -> float | None:
    """Pearson's chi-square test of the users per variant against the shares the playbook assigns
    them: a tiny p-value means the split itself is broken (a sample ratio mismatch), so no lift
    from it can be trusted. None when there is nothing to test (one variant, or no users)."""
    names = [n for n in expected_shares if expected_shares[n] > 0]
    total = sum(observed.get(n, 0) for n in names)
    if len(names) < 2 or total == 0:
        return None
    shares = sum(expected_shares[n] for n in names)
    chi2 = sum(
        (observed.get(n, 0) - total * expected_shares[n] / shares) ** 2 / (total * expected_shares[n] / shares)
        for n in names
    )
    return _upper_gamma_regularized((len(names) - 1) / 2, chi2 / 2)


def pick_control(variants: Sequence[str], wanted: str | None = None) -> str:
    if wanted is not None and wanted in variants:
        return wanted
    return next((name for name in CONTROL_NAMES if name in variants), sorted(variants)[0])


def experiment_result(
    name: str,
    counts: dict[str, tuple[int, int]],
    *,
    conflicts: int,
    playbook_ids: set[str],
    metrics: set[str],
    filtered_playbook: str | None,
    control: str | None = None,
    expected_shares: dict[str, float] | None = None,
    metric: str | None = None,
) -> ExperimentResult:
    """Assemble one experiment from its per-variant (users, converted) counts. An experiment running
    in several playbooks reports `metric_milestone="first_value"` and `playbook_id=None` (unless filtered)."""
    rates = {variant: rate(variant, n, c) for variant, (n, c) in sorted(counts.items())}
    base = pick_control(list(rates), control)
    srm = sample_ratio_p_value({v: n for v, (n, _) in counts.items()}, expected_shares) if expected_shares else None
    return ExperimentResult(
        experiment=name,
        playbook_id=next(iter(playbook_ids)) if len(playbook_ids) == 1 else filtered_playbook,
        metric_milestone=next(iter(metrics)) if len(metrics) == 1 else ("first_value" if metrics else None),
        control=base,
        variants=list(rates.values()),
        lifts=[VariantLift(variant=v, lift=compare(r, rates[base])) for v, r in rates.items() if v != base],
        conflicting_users=conflicts,
        metric=metric,
        sample_ratio_p_value=srm,
        sample_ratio_mismatch=srm is not None and srm < SRM_ALPHA,
    )
