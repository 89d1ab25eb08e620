"""Pydantic result models: what every query returns, and what the dashboard, the
report and the digest render. Hours are floats, shares are 0..1, None means "no data"."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class Filter(BaseModel):
    """Which users a query looks at; signup dates are inclusive, in UTC."""

    playbook: str | None = None
    role: str | None = None
    signup_from: date | None = None
    signup_to: date | None = None


class Distribution(BaseModel):
    key: str = "all"
    users: int = Field(description="Users who reached first value.")
    median_hours: float | None
    p90_hours: float | None


class HistogramBin(BaseModel):
    label: str
    count: int


class TtfvResult(BaseModel):
    playbook_id: str
    first_value: str
    entered: int
    reached: int
    overall: Distribution
    by_cohort: list[Distribution]
    by_role: list[Distribution]
    histogram: list[HistogramBin]


class FunnelStep(BaseModel):
    milestone_id: str
    title: str
    reached: int = Field(description="Completed this step and every step before it.")
    completed_any_order: int
    conversion_from_previous: float | None
    conversion_from_start: float | None
    drop_off: int = Field(description="Users of the previous step who did not reach this one.")
    median_hours_from_previous: float | None = Field(description="From signup for the first step.")


class FunnelResult(BaseModel):
    playbook_id: str
    entered: int
    steps: list[FunnelStep]
    experiment: str | None = Field(None, description="With `variant`: the funnel of one experiment variant.")
    variant: str | None = None


class CohortCell(BaseModel):
    milestone_id: str
    days: int
    eligible: int = Field(description="Cohort users whose window has fully elapsed.")
    completed: int
    share: float | None


class CohortRow(BaseModel):
    week: date = Field(description="Monday (UTC) of the signup week.")
    users: int
    cells: list[CohortCell]

    def cell(self, milestone_id: str, days: int) -> CohortCell:
        return next(c for c in self.cells if c.milestone_id == milestone_id and c.days == days)


class CohortResult(BaseModel):
    playbook_id: str
    windows: list[int]
    milestones: list[str]
    rows: list[CohortRow]


class RetentionCell(BaseModel):
    days: int = Field(description="D: active in the 24 hours starting D days after signup.")
    eligible: int = Field(description="Users whose day D is over (signup + D + 1 days ≤ as_of).")
    active: int
    share: float | None


class RetentionRow(BaseModel):
    week: date | None = Field(description="Monday (UTC) of the signup week; None: every selected user.")
    users: int
    cells: list[RetentionCell]

    def cell(self, days: int) -> RetentionCell:
        return next(c for c in self.cells if c.days == days)


class ValueEvents(BaseModel):
    """The track events that show value beyond activation (`NUDGEFLOW_ANALYTICS_EXPANSION_EVENTS`,
    `NUDGEFLOW_ANALYTICS_ADVOCACY_EVENTS`)."""

    expansion: list[str] = Field(default_factory=lambda: ["Seats Added", "Plan Upgraded"])
    advocacy: list[str] = Field(default_factory=lambda: ["Referral Sent", "NPS Promoter"])


class ValueCell(BaseModel):
    days: int = Field(description="D: within D days of signup.")
    eligible: int = Field(description="Users whose D days are over (signup + D days ≤ as_of).")
    expanded: int = Field(description="Of those, sent an expansion event within D days.")
    expansion_share: float | None
    advocates: int = Field(description="Of those, sent an advocacy event within D days.")
    advocacy_share: float | None


class ValueRow(BaseModel):
    week: date | None = Field(description="Monday (UTC) of the signup week; None: every selected user.")
    users: int
    cells: list[ValueCell]

    def cell(self, days: int) -> ValueCell:
        return next(c for c in self.cells if c.days == days)


class AccountStep(BaseModel):
    """How far the accounts of a playbook's members got on one step (accounts come from group calls)."""

    playbook_id: str
    milestone_id: str
    title: str
    accounts: int = Field(description="Accounts with at least one member in the playbook.")
    any_member: int = Field(description="Accounts where at least one member completed the step.")
    all_members: int = Field(description="Accounts where every member in the playbook completed it.")
    two_or_more: int = Field(description="Accounts where at least two members completed it.")


class FeedbackStep(BaseModel):
    """Micro-survey answers to one step's messages of one kind, per experiment variant."""

    playbook_id: str
    milestone_id: str
    title: str
    kind: str = Field(description="The message kind the survey came with: celebration, nudge, welcome, overdue.")
    variant: str = Field(description="The variant of the playbook's experiment the users saw; '' without one.")
    scale: int
    answers: int
    mean_rating: float
    satisfied: float = Field(description="Share of answers rated at least 80% of the scale (4 or 5 of 5).")
    comments: int


class FeedbackComment(BaseModel):
    at: datetime
    role: str
    playbook_id: str
    milestone_id: str
    kind: str
    variant: str
    rating: int
    scale: int
    comment: str


class AdoptionRow(BaseModel):
    playbook_id: str
    milestone_id: str
    event: str
    days: int
    unlocked: int
    eligible: int
    adopted: int
    share: float | None


class RepeatRow(BaseModel):
    event: str
    users: int
    repeat_users: int = Field(description="Used it on at least two different days (UTC).")
    share: float | None
    median_uses: float | None


class Rate(BaseModel):
    label: str
    users: int
    converted: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


class Lift(BaseModel):
    """Treatment minus control; `significant` when the 95% CI of the difference excludes 0."""

    absolute: float
    absolute_ci_low: float
    absolute_ci_high: float
    relative: float | None
    relative_ci_low: float | None
    relative_ci_high: float | None
    p_value: float
    significant: bool


class NudgeEffect(BaseModel):
    playbook_id: str
    milestone_id: str
    hours: int
    nudged: Rate
    holdout: Rate
    lift: Lift | None


class VariantLift(BaseModel):
    variant: str
    lift: Lift | None


class ExperimentResult(BaseModel):
    experiment: str
    playbook_id: str | None
    metric_milestone: str | None
    control: str
    variants: list[Rate]
    lifts: list[VariantLift]
    conflicting_users: int = Field(0, description="Users exposed to more than one variant (first one kept).")
    metric: str | None = Field(None, description="What the playbook judges it on, in words.")
    sample_ratio_p_value: float | None = Field(
        None, description="Chi-square test of users per variant against the playbook's weights and holdout."
    )
    sample_ratio_mismatch: bool = Field(
        False, description="p < 0.001: the split itself is broken, so its lifts can't be trusted."
    )


class Claim(BaseModel):
    """One sentence of the executive summary and the dashboard section that shows its numbers."""

    text: str
    section: str = Field(description="Id of the dashboard section with the chart behind the claim.")


class TtfvTrend(BaseModel):
    playbook_id: str
    recent_from: datetime = Field(description="Start of the recent 30-day signup window (as_of − 60 days).")
    recent_users: int
    recent_reached: int
    recent_median_hours: float | None
    before_users: int
    before_reached: int
    before_median_hours: float | None


class Report(BaseModel):
    as_of: datetime | None
    filter: Filter
    playbooks: list[str]
    roles: list[str]
    ttfv: list[TtfvResult]
    funnels: list[FunnelResult]
    variant_funnels: list[FunnelResult] = Field(
        default_factory=list, description="Per experiment variant, the ladder in the playbook's written order."
    )
    cohorts: list[CohortResult]
    retention: list[RetentionRow] = Field(default_factory=list, description="Per signup week, then all users.")
    value: list[ValueRow] = Field(
        default_factory=list, description="Expansion and advocacy, per signup week, then all."
    )
    summary: list[Claim] = Field(default_factory=list, description="The executive summary, generated from the rest.")
    accounts: list[AccountStep] = Field(default_factory=list, description="Account-level progress per step.")
    feedback: list[FeedbackStep] = Field(default_factory=list, description="Micro-survey ratings per step.")
    comments: list[FeedbackComment] = Field(default_factory=list, description="The newest survey comments.")
    adoption: list[AdoptionRow]
    repeat_usage: list[RepeatRow]
    nudges: list[NudgeEffect]
    experiments: list[ExperimentResult]
