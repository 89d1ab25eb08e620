"""Hand-computed expectations on the scripted story in tests/support/analytics.py (late + duplicate records)."""

from __future__ import annotations

import random
from datetime import date

import pytest

from nudgeflow.orchestrator.analytics import Filter, OnboardingAnalytics
from nudgeflow.orchestrator.analytics.results import ValueEvents
from tests.support.analytics import (
    AS_OF,
    EVENTS,
    OUTCOMES,
    PLAYBOOK,
    D,
    at,
    completed,
    exposure,
    identify,
    outcome,
    track,
)


@pytest.fixture
def analytics() -> OnboardingAnalytics:
    built = OnboardingAnalytics([PLAYBOOK])
    built.add_all(EVENTS, OUTCOMES)
    return built


def test_duplicates_are_dropped(analytics: OnboardingAnalytics) -> None:
    assert analytics.duplicates == 2
    # u1 sent "A Done" as u1-a (twice: one copy dropped) and u1-a2: two uses, on two days
    [a_done] = [r for r in analytics.repeat_usage(Filter(role="admin")) if r.event == "A Done"]
    assert analytics.user_count() == 5 and (a_done.users, a_done.repeat_users) == (3, 1)


def test_time_to_first_value_uses_the_late_first_event(analytics: OnboardingAnalytics) -> None:
    [result] = analytics.ttfv()
    # u1: 0h → 2h (the late event moved signup from 1h to 0h); u2: 1h → 11h; u3: 7d → 7d4h; u4 not yet
    assert (result.entered, result.reached) == (4, 3)
    assert result.overall.median_hours == 4.0
    assert result.overall.p90_hours == pytest.approx(8.8)  # [2, 4, 10]: 4 + 0.8 * 6
    assert [(d.key, d.users, d.median_hours, d.p90_hours) for d in result.by_cohort] == [
        ("2026-03-02", 2, 6.0, pytest.approx(9.2)),
        ("2026-03-09", 1, 4.0, 4.0),
    ]
    assert [(d.key, d.users) for d in result.by_role] == [("admin", 3)]
    assert [b.count for b in result.histogram] == [0, 1, 2, 0, 0, 0, 0]


def test_funnel_is_strict_with_conversion_drop_off_and_step_times(analytics: OnboardingAnalytics) -> None:
    [funnel] = analytics.funnels()
    assert funnel.entered == 4
    a, b, c = funnel.steps
    assert (a.reached, a.conversion_from_previous, a.drop_off, a.median_hours_from_previous) == (3, 0.75, 1, 4.0)
    assert (b.reached, b.conversion_from_previous, b.drop_off, b.median_hours_from_previous) == (1, 1 / 3, 2, 24.0)
    assert (c.reached, c.conversion_from_previous, c.drop_off, c.median_hours_from_previous) == (0, 0.0, 1, None)
    assert b.conversion_from_start == 0.25


def test_cohorts_count_only_decided_users(analytics: OnboardingAnalytics) -> None:
    [result] = analytics.cohorts(as_of=AS_OF)
    first, second = result.rows
    assert (first.week, first.users, second.week, second.users) == (date(2026, 3, 2), 2, date(2026, 3, 9), 2)
    share = {(m, d): (first.cell(m, d).completed, first.cell(m, d).eligible) for m in "ab" for d in (1, 7, 30)}
    assert share == {
        ("a", 1): (2, 2),
        ("a", 7): (2, 2),
        ("a", 30): (0, 0),
        ("b", 1): (0, 2),
        ("b", 7): (1, 2),
        ("b", 30): (0, 0),
    }
    # 30-day windows are still open: no share rather than 100% of the early completers
    assert first.cell("b", 30).share is None
    # u4 signed up 12h before as_of: undecided for every window, so it does not dilute week 2
    assert (second.cell("a", 1).completed, second.cell("a", 1).eligible, second.cell("a", 1).share) == (1, 1, 1.0)
    assert second.cell("c", 90).share is None


def test_feature_adoption_after_unlock(analytics: OnboardingAnalytics) -> None:
    rows = {r.milestone_id: r for r in analytics.adoption(days=7, as_of=AS_OF)}
    # b: u1 used it 24h after unlock; u2 used it only before its unlock; u3's window is still open
    assert (rows["b"].unlocked, rows["b"].eligible, rows["b"].adopted, rows["b"].share) == (3, 2, 1, 0.5)
    assert (rows["c"].unlocked, rows["c"].eligible, rows["c"].adopted) == (1, 1, 0)
    assert "a" not in rows


def test_repeat_usage_of_key_workflows(analytics: OnboardingAnalytics) -> None:
    rows = {r.event: r for r in analytics.repeat_usage()}
    assert (rows["A Done"].users, rows["A Done"].repeat_users, rows["A Done"].median_uses) == (3, 1, 1.0)
    assert rows["A Done"].share == pytest.approx(1 / 3)
    assert (rows["B Done"].users, rows["B Done"].repeat_users) == (2, 0)
    assert (rows["C Done"].users, rows["C Done"].share) == (0, None)


def test_nudge_effectiveness_against_holdout(analytics: OnboardingAnalytics) -> None:
    effects = {e.milestone_id: e for e in analytics.nudges(hours=24, as_of=AS_OF)}
    # b: u2 nudged at 3d, never completed (window over) → 0/1; u1 held out at 3h, completed at 26h → 1/1
    assert (effects["b"].nudged.users, effects["b"].nudged.converted) == (1, 0)
    assert (effects["b"].holdout.users, effects["b"].holdout.converted) == (1, 1)
    # a: u4's nudge window is still open; u3 (holdout variant) would have been nudged at 7d2h, did it at 7d4h
    assert (effects["a"].nudged.users, effects["a"].holdout.users, effects["a"].holdout.converted) == (0, 1, 1)
    assert effects["a"].lift is None


def test_filters_by_role_and_signup_date(analytics: OnboardingAnalytics) -> None:
    [second_week] = analytics.funnels(Filter(signup_from=date(2026, 3, 9), signup_to=date(2026, 3, 15)))
    assert (second_week.entered, second_week.steps[0].reached) == (2, 1)
    [operators] = analytics.funnels(Filter(role="operator"))
    assert operators.entered == 0
    assert analytics.ttfv(Filter(playbook="other")) == []
    assert analytics.roles() == ["admin", "operator"]


@pytest.mark.parametrize("seed", range(5))
def test_any_order_and_replaying_twice_give_the_same_report(analytics: OnboardingAnalytics, seed: int) -> None:
    records = [("e", r) for r in EVENTS] + [("o", r) for r in OUTCOMES]
    random.Random(seed).shuffle(records)
    shuffled = OnboardingAnalytics([PLAYBOOK])
    for _ in range(2):  # a backfill replay over an already-fed aggregator changes nothing
        for kind, record in records:
            (shuffled.add_event if kind == "e" else shuffled.add_outcome)(record)
    assert shuffled.report().model_dump() == analytics.report().model_dump()


def test_retention_counts_users_active_on_day_d_among_those_whose_day_is_over(
    analytics: OnboardingAnalytics,
) -> None:
    first, second, everyone = analytics.retention(as_of=AS_OF)
    assert (first.week, first.users, second.week, second.users) == (date(2026, 3, 2), 3, date(2026, 3, 9), 2)
    # u1 (signup 0 h) sent tracks at 26 h and 30 h: active on day 1; u2 (1 h) only before; u5 only identified
    assert (first.cell(1).eligible, first.cell(1).active, first.cell(1).share) == (3, 1, 1 / 3)
    assert (first.cell(7).eligible, first.cell(7).active, first.cell(7).share) == (3, 0, 0.0)
    assert first.cell(30).share is None, "nobody's day 30 is over"
    # u3 and u4 signed up 7 and 8 days in: day 1 of neither is over by as_of (8 d 12 h)
    assert (second.cell(1).eligible, second.cell(1).share) == (0, None)
    assert everyone.week is None and everyone.users == 5 and everyone.cell(1).active == 1
    [operators] = analytics.retention(Filter(role="operator"), as_of=AS_OF)[-1:]
    assert (operators.users, operators.cell(1).eligible, operators.cell(1).active) == (1, 1, 0)


def test_expansion_and_advocacy_within_30_and_90_days_of_signup() -> None:
    analytics = OnboardingAnalytics(
        [PLAYBOOK], value_events=ValueEvents(expansion=["Seats Added"], advocacy=["Referral Sent"])
    )
    for user in ("v1", "v2", "v3"):
        analytics.add_event(identify(user, f"{user}-id", 0, role="admin"))
    analytics.add_event(track("v1", "v1-seats", 10 * D, "Seats Added"))  # within 30 days
    analytics.add_event(track("v2", "v2-seats", 45 * D, "Seats Added"))  # within 90, not 30
    analytics.add_event(track("v2", "v2-ref", 20 * D, "Referral Sent"))
    analytics.add_event(track("v3", "v3-other", 5 * D, "Plan Upgraded"))  # not in this product's list
    [week, everyone] = analytics.value(as_of=at(95 * D))
    thirty, ninety = week.cell(30), week.cell(90)
    assert (thirty.eligible, thirty.expanded, thirty.advocates) == (3, 1, 1)
    assert (ninety.eligible, ninety.expanded, ninety.advocates, ninety.expansion_share) == (3, 2, 1, 2 / 3)
    assert everyone.week is None and everyone.users == 3
    [week] = analytics.value(as_of=at(60 * D))[:1]
    assert (week.cell(90).eligible, week.cell(90).expansion_share) == (0, None), "90 days not over for anyone"


def test_accounts_from_group_calls_reach_a_step_through_any_all_or_two_of_their_members() -> None:
    analytics = OnboardingAnalytics([PLAYBOOK])
    members = {"acme": ["a1", "a2", "a3"], "globex": ["g1", "g2"], "initech": ["i1"]}
    for account, users in members.items():
        for user in users:
            analytics.add_event(identify(user, f"{user}-id", 0, role="admin"))
            group = {"type": "group", "messageId": f"{user}-g", "userId": user, "groupId": account}
            analytics.add_event(group | {"timestamp": at(1).isoformat(), "traits": {"name": account.title()}})
    for user in ("a1", "a2", "g1", "g2"):
        analytics.add_outcome(completed(user, 5, "a"))
    analytics.add_event(identify("solo", "solo-id", 0, role="admin"))  # in no account: not counted
    analytics.add_outcome(completed("solo", 5, "a"))
    steps = {s.milestone_id: s for s in analytics.accounts()}
    a = steps["a"]
    assert (a.accounts, a.any_member, a.all_members, a.two_or_more) == (3, 2, 1, 2)  # globex: all; acme: 2 of 3
    assert (steps["b"].accounts, steps["b"].any_member) == (3, 0)
    report = analytics.report()
    assert analytics.user_count() == 7 and report.roles == ["admin"], "the group calls kept the role"
    [claim] = [c.text for c in report.summary if c.section == "accounts"]
    assert claim == "Trial: 67% of accounts (2 of 3) have a member who reached “Do A”; in 1 every member did."


def _answer(user: str, hours: float, rating: int, comment: str | None = None, scale: int = 5) -> dict[str, object]:
    return outcome(
        "survey_answered",
        user,
        hours,
        "a",
        oid=f"survey:{user}",
        kind="celebration",
        rating=rating,
        scale=scale,
        comment=comment,
    )


def test_feedback_per_step_and_variant_with_comments_filtered_by_role() -> None:
    analytics = OnboardingAnalytics([PLAYBOOK])
    for user, role, variant in (
        ("f1", "admin", "control"),
        ("f2", "admin", "bold"),
        ("f3", "admin", "bold"),
        ("f4", "analyst", "bold"),
    ):
        analytics.add_event(identify(user, f"{user}-id", 0, role=role))
        analytics.add_outcome(exposure(user, 0, "copy", variant))
    analytics.add_outcome(_answer("f1", 2, 3))
    analytics.add_outcome(_answer("f2", 2, 5, "Clear steps"))
    analytics.add_outcome(_answer("f3", 3, 4))
    analytics.add_outcome(_answer("f3", 3, 4))  # the same answer again: counted once
    analytics.add_outcome(_answer("f4", 4, 1, "Lost my way"))
    analytics.add_outcome(_answer("f1", 5, 7) | {"outcome_id": "bad"})  # off its scale: not an answer
    steps, comments = analytics.feedback()
    by_variant = {s.variant: s for s in steps}
    assert (by_variant["control"].answers, by_variant["control"].mean_rating, by_variant["control"].satisfied) == (
        1,
        3,
        0,
    )
    bold = by_variant["bold"]
    assert (bold.answers, bold.mean_rating, bold.satisfied, bold.comments) == (3, 10 / 3, 2 / 3, 2)
    assert [c.comment for c in comments] == ["Lost my way", "Clear steps"], "newest first"
    steps, comments = analytics.feedback(Filter(role="admin"))
    assert {s.variant: s.answers for s in steps} == {"control": 1, "bold": 2}
    assert [(c.comment, c.role, c.variant) for c in comments] == [("Clear steps", "admin", "bold")]
