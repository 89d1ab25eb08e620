"""The executive summary: a few sentences a CS leader can paste into a QBR, generated from the
report's own numbers, each pointing at the dashboard section that shows them.

Only claims the data supports are made: a time to first value needs a settled cohort (its trend
needs the cohort before it too), a nudge or an experiment variant only when the 95% interval of
its lift excludes zero. No claim at all: an empty summary, which the dashboard says in words.
"""

from __future__ import annotations

from nudgeflow.orchestrator.analytics.results import Claim, Lift, Report, TtfvTrend
from nudgeflow.rules.schema import Playbook


def duration(hours: float) -> str:
    """'45 minutes', '5.3 hours', '2.1 days'."""
    if hours < 1:
        return f"{round(hours * 60)} minutes"
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def _points(lift: Lift) -> str:
    low, high = lift.absolute_ci_low * 100, lift.absolute_ci_high * 100
    return f"{abs(lift.absolute) * 100:.0f} points (95% CI {low:.0f} to {high:.0f})"


def _ttfv_claim(playbook: Playbook, trend: TtfvTrend) -> Claim | None:
    now, before = trend.recent_median_hours, trend.before_median_hours
    if now is None or playbook.first_value is None:
        return None
    step = playbook.milestone(playbook.first_value)
    title = step.title if step is not None else playbook.first_value
    text = (
        f"{playbook.name}: users who signed up in the 30 days from {trend.recent_from:%d %b} reached first value "
        f"(“{title}”) in a median {duration(now)} ({trend.recent_reached:,} of {trend.recent_users:,} within 30 days)"
    )
    if before:
        change = (now - before) / before
        direction = "faster" if change < 0 else "slower"
        text += (
            f", {abs(change):.0%} {direction} than the 30 days before ({duration(before)})"
            if abs(change) >= 0.005
            else f", as fast as the 30 days before ({duration(before)})"
        )
    return Claim(text=text + ".", section="ttfv")


def _account_claims(report: Report, by_id: dict[str, Playbook]) -> list[Claim]:
    claims = []
    for step in report.accounts:
        playbook = by_id.get(step.playbook_id)
        if playbook is None or step.milestone_id != playbook.first_value or not step.accounts:
            continue
        text = (
            f"{playbook.name}: {step.any_member / step.accounts:.0%} of accounts ({step.any_member:,} of "
            f"{step.accounts:,}) have a member who reached “{step.title}”; in {step.all_members:,} every member did."
        )
        claims.append(Claim(text=text, section="accounts"))
    return claims


def _value_claims(report: Report) -> list[Claim]:
    everyone = next((row for row in report.value if row.week is None), None)
    cell = next((c for c in everyone.cells if c.days == 30), None) if everyone else None
    if cell is None or cell.expansion_share is None or cell.advocacy_share is None:
        return []
    text = (
        f"Within 30 days of signup {cell.expansion_share:.0%} of users grew their account and "
        f"{cell.advocacy_share:.0%} recommended the product (of {cell.eligible:,} signed up 30+ days ago)."
    )
    return [Claim(text=text, section="value")]


FEEDBACK_CLAIM_MIN_ANSWERS = 30  # fewer answers say little about a step


def _feedback_claims(report: Report, by_id: dict[str, Playbook]) -> list[Claim]:
    """A step's micro-survey rating over every variant, when enough users answered."""
    steps: dict[tuple[str, str, int], list[tuple[int, float, float]]] = {}
    titles: dict[tuple[str, str, int], str] = {}
    for row in report.feedback:
        key = (row.playbook_id, row.milestone_id, row.scale)
        steps.setdefault(key, []).append((row.answers, row.mean_rating, row.satisfied))
        titles[key] = row.title
    claims = []
    for key, rows in steps.items():
        answers = sum(n for n, _, _ in rows)
        playbook = by_id.get(key[0])
        if answers < FEEDBACK_CLAIM_MIN_ANSWERS or playbook is None:
            continue
        mean = sum(n * m for n, m, _ in rows) / answers
        satisfied = sum(n * share for n, _, share in rows) / answers
        text = (
            f"{playbook.name}: users rate “{titles[key]}” {mean:.1f} of {key[2]} ({satisfied:.0%} satisfied, "
            f"{answers:,} answers)."
        )
        claims.append(Claim(text=text, section="feedback"))
    return claims


def _nudge_claims(report: Report, by_id: dict[str, Playbook]) -> list[Claim]:
    claims = []
    for effect in report.nudges:
        lift, playbook = effect.lift, by_id.get(effect.playbook_id)
        if lift is None or not lift.significant or playbook is None:
            continue
        step = playbook.milestone(effect.milestone_id)
        verb = "lifts" if lift.absolute > 0 else "lowers"
        title = step.title if step else effect.milestone_id
        text = f"The stall nudge on “{title}” {verb} completion within {effect.hours} hours by {_points(lift)}"
        claims.append(Claim(text=f"{text} against the holdout.", section="nudges"))
    return claims


def _experiment_claims(report: Report) -> list[Claim]:
    claims = []
    for experiment in report.experiments:
        name = experiment.experiment
        if experiment.sample_ratio_mismatch:
            text = (
                f"Experiment {name}: its users are not split as the playbook says (sample ratio mismatch, "
                f"p = {experiment.sample_ratio_p_value:.1g}); its results can't be trusted until the assignment "
                "is fixed."
            )
            claims.append(Claim(text=text, section="experiments"))
            continue
        for variant in experiment.lifts:
            lift = variant.lift
            if lift is not None and lift.significant:
                verb = "beats" if lift.absolute > 0 else "trails"
                text = f"Experiment {name}: {variant.variant} {verb} {experiment.control} by {_points(lift)}."
                claims.append(Claim(text=text, section="experiments"))
    return claims


def executive_summary(report: Report, playbooks: list[Playbook], trends: list[TtfvTrend]) -> list[Claim]:
    """Time to first value per playbook, accounts at first value, expansion and advocacy, survey
    ratings, then significant nudge lifts and experiments."""
    by_id = {p.id: p for p in playbooks}
    claims = []
    for trend in trends:
        playbook = by_id.get(trend.playbook_id)
        claim = _ttfv_claim(playbook, trend) if playbook is not None else None
        if claim is not None:
            claims.append(claim)
    return (
        claims
        + _account_claims(report, by_id)
        + _value_claims(report)
        + _feedback_claims(report, by_id)
        + _nudge_claims(report, by_id)
        + _experiment_claims(report)
    )
