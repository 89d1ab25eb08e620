"""Pydantic models of a playbook YAML file: the language CS teams write nudges in.

Every model forbids unknown fields so a typo ('celebrat') is an error with a
line number instead of a silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from nudgeflow.rules.contracts.deliveries import Channel
from nudgeflow.rules.contracts.timezones import IanaTimezone
from nudgeflow.rules.durations import ClockTime, Delay, Duration
from nudgeflow.rules.problems import short_repr
from nudgeflow.rules.templates import url_problem

ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"
SIGNUP = "signup"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_id(value: str) -> str:
    if not re.match(ID_PATTERN, value):
        raise ValueError(
            f"{value!r} is not a valid id: use lowercase letters, digits, '_' or '-', like connect_data_source"
        )
    return value


Id = Annotated[str, BeforeValidator(lambda v: _check_id(v) if isinstance(v, str) else v)]


class Condition(_Model):
    """One property predicate; a plain YAML value is shorthand for `equals`."""

    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None
    exists: bool | None = None
    contains: Any = None

    @field_validator("gt", "gte", "lt", "lte")
    @classmethod
    def _comparable(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float | str)):
            raise ValueError(f"{short_repr(value)} cannot be compared: use a number or a text value")
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError(
                "empty condition: give a value or one of equals, in, not_in, gt, gte, lt, lte, exists, contains"
            )
        return self


def _shorthand(value: Any) -> Any:
    """`plan: pro` means `plan: {equals: pro}`."""
    if isinstance(value, dict):
        return {k: (v if isinstance(v, dict) else {"equals": v}) for k, v in value.items()}
    return value


Where = Annotated[dict[str, Condition], BeforeValidator(_shorthand)]


class When(_Model):
    """Completion condition: `count` events named `event` matching `where`, within `within`."""

    event: str = Field(min_length=1)
    where: Where = Field(default_factory=dict)
    count: int = Field(default=1, ge=1)
    within: Duration | None = None
    after: Id | None = None


MAX_LINKS = 5  # more than a handful of links is a page, not a nudge


def _check_url(value: str) -> str:
    problem = url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


LinkUrl = Annotated[
    str,
    Field(min_length=1, description="Absolute http(s) URL; a Jinja template like the title."),
    AfterValidator(_check_url),
]


class Link(_Model):
    """A labelled link (`cta`, `secondary_cta`, `links`): both fields are templates, like the title."""

    label: str = Field(min_length=1)
    url: LinkUrl


class Image(_Model):
    """An image shown with the message; `alt` is what screen readers and blocked-image mail clients show."""

    url: LinkUrl
    alt: str = Field(min_length=1)


class Survey(_Model):
    """A one-question micro-survey with an in-app message: a rating from 1 to `scale` and, if
    `comment`, an optional comment. Answers go to the events topic and the dashboard."""

    question: str = Field(min_length=1, description="A template, like the title.")
    scale: int = Field(default=5, ge=2, le=10)
    comment: bool = True


class Media(_Model):
    """What a message links to: the step it exists to get the user to, further reading, an image."""

    cta: Link | None = Field(default=None, description="The primary call to action: a button on every channel.")
    secondary_cta: Link | None = Field(default=None, description="A second, less prominent button.")
    links: list[Link] | None = Field(default=None, max_length=MAX_LINKS, description="Plain links (help, video).")
    image: Image | None = None
    survey: Survey | None = Field(default=None, description="A rating question shown with an in-app message.")

    @model_validator(mode="after")
    def _secondary_needs_primary(self) -> Media:
        if self.secondary_cta is not None and self.cta is None:
            raise ValueError("secondary_cta needs a cta: give the primary call to action first")
        return self


LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
SLACK_CHANNEL = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,79}$")
TARGETS = {"in_app": ("user",), "email": ("user", "csm"), "slack": ("user", "csm", "#channel")}


class Message(Media):
    channel: Channel
    title: str
    body: str
    to: str = Field(
        default="user",
        description="Who receives it: `user` (default), `csm` (the account's customer success manager, from the "
        "user's `csm_email` / `csm_slack_user_id` traits; email and Slack) or a Slack channel such as `#cs-wins`.",
    )
    translations: dict[str, MessageOverride] | None = Field(
        default=None,
        description="The message in other languages, by language tag (`de`, `pt-BR`): chosen from the user's "
        "`locale` trait (exact tag, then its language, then this text); a field left out keeps this one.",
    )

    @model_validator(mode="after")
    def _survey_in_app(self) -> Message:
        if self.survey is not None and self.channel != "in_app":
            raise ValueError(
                f"survey: a survey is answered in the product; put it on an in_app message, not {self.channel}"
            )
        return self

    @model_validator(mode="after")
    def _target_fits_the_channel(self) -> Message:
        allowed = TARGETS[self.channel]
        if self.to in allowed or ("#channel" in allowed and SLACK_CHANNEL.match(self.to)):
            return self
        if self.to.startswith("#"):
            if "#channel" in allowed:
                raise ValueError(f"to: '{self.to}' is not a Slack channel name (lowercase, digits, - and _)")
            raise ValueError(f"to: only Slack messages can go to a channel such as '{self.to}'")
        shown = ", ".join("a Slack channel like #cs-wins" if t == "#channel" else t for t in allowed)
        raise ValueError(f"to: '{self.to}' is not a recipient of {self.channel} messages; use {shown}")

    @field_validator("translations")
    @classmethod
    def _language_tags(cls, value: dict[str, MessageOverride] | None) -> dict[str, MessageOverride] | None:
        for tag in value or {}:
            if not LANGUAGE_TAG.match(tag):
                raise ValueError(f"'{tag}' is not a language tag: write it like de, fr-CA or pt-BR")
        return value


class AccountRule(_Model):
    """The milestone belongs to the user's account (Segment `group`): reached when `members` of the
    account's members in this playbook have met `when` on their own (`any`, `all` or a number), or
    when `events` events matching `when` came from any of its members. Every member then completes
    it; messages to the CSM or a Slack channel go out once per account."""

    members: Literal["any", "all"] | int | None = None
    events: int | None = Field(default=None, ge=1)

    @field_validator("members", mode="before")
    @classmethod
    def _any_all_or_a_number(cls, value: Any) -> Any:
        if value is None or value in ("any", "all") or (type(value) is int and value >= 1):
            return value
        raise ValueError(f"{short_repr(value)} is not a member count: write any, all or a number such as 2")

    @model_validator(mode="after")
    def _one_kind(self) -> AccountRule:
        if (self.members is None) == (self.events is None):
            raise ValueError("give either members (any, all or a number) or events (a number), not both")
        return self


class Milestone(_Model):
    id: Id
    title: str
    purpose: str = ""
    expected_actions: list[str] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)
    success_criteria: str = ""
    when: When
    unlocks: list[Id] | None = None
    celebrate: list[Message] = Field(default_factory=list)
    cta: Link | None = Field(
        default=None,
        description="The checklist step's button: where the user does this step. Label and URL are templates "
        "with `user`, `milestone` and `playbook`.",
    )
    due: Duration | None = Field(
        default=None,
        description="Should be done within this of the previous step's completion (`when.after`, else the step "
        "before it in the ladder; the first step: of signup). Past it the checklist shows the step overdue and "
        "the `overdue` messages go out.",
    )
    overdue: list[Nudge] = Field(
        default_factory=list,
        description="Sent when the step is past `due`, in order like a stall's nudges: to the user and/or "
        "(`to: csm`) the account's CSM.",
    )
    account: AccountRule | None = Field(
        default=None,
        description="An account-level milestone: `members: any | all | N` (members who met `when`) or "
        "`events: N` (matching events from any member). Users belong to an account through a group call.",
    )

    @model_validator(mode="after")
    def _overdue_needs_due(self) -> Milestone:
        if self.overdue and self.due is None:
            raise ValueError("overdue messages need a deadline: add due (e.g. due: 3d)")
        return self

    @model_validator(mode="after")
    def _account_events_count_once(self) -> Milestone:
        if self.account is not None and self.account.events is not None and (self.when.count > 1 or self.when.within):
            raise ValueError(
                "account.events counts the account's matching events: leave when.count and when.within out "
                f"(write events: {self.account.events * self.when.count} for the total)"
            )
        return self


class Nudge(Message):
    after: Delay | None = Field(
        default=None,
        description="Wait after the previous nudge; default 0s for the first nudge and `not_within` for the next ones.",
    )


class Stall(_Model):
    """Nudge when `milestone` is not done within `not_within` of `of` (milestone, 'signup' or event)."""

    milestone: Id
    not_within: Duration
    of: str = Field(min_length=1)
    nudges: list[Nudge] = Field(min_length=1)
    max_nudges: int | None = Field(default=None, ge=1)

    @property
    def of_is_event(self) -> bool:
        """Segment event names ('Report Created') don't look like ids ('first_report')."""
        return self.of != SIGNUP and not re.match(ID_PATTERN, self.of)

    @property
    def steps(self) -> int:
        return self.max_nudges or len(self.nudges)

    def nudge(self, step: int) -> Nudge:
        """The message for nudge `step`; the last one repeats up to `max_nudges`."""
        return self.nudges[min(step, len(self.nudges) - 1)]

    def delay(self, step: int) -> timedelta:
        """Wait before nudge `step`: measured from the stall start (step 0) or the previous nudge."""
        after = self.nudge(step).after
        if after is not None:
            return self.not_within + after if step == 0 else after
        return self.not_within

    @property
    def key(self) -> str:
        return f"{self.milestone}<-{self.of}"


class Deadline(Stall):
    """A milestone's `due` with its `overdue` messages, run as a stall rule of its own."""

    @property
    def key(self) -> str:
        return f"{self.milestone}<-due"


class Window(_Model):
    start: ClockTime
    end: ClockTime


class SendWindow(Window):
    days: list[Weekday] = Field(default_factory=lambda: list(get_args(Weekday)))


class Caps(_Model):
    per_channel_per_day: int | None = Field(default=None, ge=1)
    overall_per_day: int | None = Field(default=None, ge=1)
    when_exceeded: Literal["defer", "suppress"] = "defer"


class Timing(_Model):
    quiet_hours: Window | None = None
    send_window: SendWindow | None = None
    default_timezone: IanaTimezone = "UTC"
    caps: Caps = Field(default_factory=Caps)
    channels: list[Channel] = Field(
        default_factory=lambda: list[Channel](["email", "slack"]),
        description="Channels quiet hours and the send window apply to. In-app prompts are only seen while "
        "the user is in the product, so by default they are not held back.",
    )


class MessageOverride(Media):
    """New text and links for one message of the playbook; a field left out keeps the playbook's own."""

    @model_validator(mode="after")
    def _secondary_needs_primary(self) -> MessageOverride:
        return self  # the playbook's message may have the primary one

    title: str | None = None
    body: str | None = None


class NudgeOverride(MessageOverride):
    after: Delay | None = Field(default=None, description="Replaces the nudge's `after` delay.")


class MilestoneOverride(_Model):
    """A variant's changes to one milestone: celebration text (by position) and what it unlocks."""

    celebrate: list[MessageOverride] | None = None
    unlocks: list[Id] | None = None


class StallOverride(_Model):
    """A variant's changes to one stall rule, found by `milestone` (and `of` when it has several)."""

    milestone: Id
    of: str | None = Field(default=None, min_length=1)
    not_within: Duration | None = None
    max_nudges: int | None = Field(default=None, ge=1)
    nudges: list[NudgeOverride] | None = None


class Variant(_Model):
    name: Id
    weight: float = Field(default=1, gt=0)
    description: str = ""
    order: list[Id] | None = Field(
        default=None,
        description="The milestones in another ladder order (every id once): changes what each one unlocks by default.",
    )
    milestones: dict[str, MilestoneOverride] = Field(default_factory=dict)
    stalls: list[StallOverride] = Field(default_factory=list)


HOLDOUT = "holdout"


class ExperimentMetric(_Model):
    """What an experiment is judged on, for each exposed user from their exposure: reaching a
    milestone (default: the playbook's `first_value`), optionally `within` a time, or being active
    on day `active_on_day` (retention: a track call in that day's 24 hours)."""

    milestone: Id | None = None
    within: Duration | None = None
    active_on_day: int | None = Field(default=None, ge=1, le=90)

    @model_validator(mode="after")
    def _one_kind(self) -> ExperimentMetric:
        if self.active_on_day is not None and (self.milestone is not None or self.within is not None):
            raise ValueError("a metric is either a milestone (with `within`) or `active_on_day`, not both")
        return self


class Experiment(_Model):
    """Split entering users between variants of this playbook; `holdout` of them get no nudges."""

    id: Id
    variants: list[Variant] = Field(min_length=1)
    holdout: float = Field(default=0, ge=0, le=0.5)
    metric: ExperimentMetric = Field(
        default_factory=ExperimentMetric,
        description="What the experiment is judged on (default: reaching the playbook's first_value).",
    )

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


class Playbook(_Model):
    id: Id
    name: str
    description: str = ""
    audience: Where = Field(default_factory=dict)
    first_value: Id | None = None
    milestones: list[Milestone] = Field(min_length=1)
    on_enter: list[Message] = Field(
        default_factory=list,
        description="Welcome messages sent once when a user enters the playbook (their traits first match its "
        "audience); templates see the first milestone as `milestone`.",
    )
    stalls: list[Stall] = Field(default_factory=list)
    timing: Timing = Field(default_factory=Timing)
    experiment: Experiment | None = None

    def changed(self, **update: Any) -> Playbook:
        """A copy with `update` applied. Not `model_copy` alone: it would carry over the values cached
        from this playbook's ladder (`_positions`, `all_stalls`, `account_milestones`) to a copy whose
        ladder differs."""
        copy = self.model_copy(update=update)
        for cached in ("_positions", "all_stalls", "account_milestones"):
            copy.__dict__.pop(cached, None)
        return copy

    @cached_property
    def account_milestones(self) -> tuple[Milestone, ...]:
        """The milestones an account reaches (`account`), found once: the engine asks on every event."""
        return tuple(m for m in self.milestones if m.account is not None)

    @cached_property
    def all_stalls(self) -> tuple[Stall, ...]:
        """The written stall rules, then each milestone's deadline that has `overdue` messages."""
        return (*self.stalls, *(d for index in range(len(self.milestones)) if (d := self.deadline(index))))

    def due_from(self, index: int) -> str:
        """What a milestone's `due` counts from: `when.after`, else the step before it, else signup."""
        milestone = self.milestones[index]
        return milestone.when.after or (self.milestones[index - 1].id if index else SIGNUP)

    def deadline(self, index: int) -> Deadline | None:
        milestone = self.milestones[index]
        if milestone.due is None or not milestone.overdue:
            return None
        return Deadline(
            milestone=milestone.id, of=self.due_from(index), not_within=milestone.due, nudges=milestone.overdue
        )

    @cached_property
    def _positions(self) -> dict[str, int]:
        """Ladder position of each milestone id: lookups stay O(1) on a ladder of 10,000 rungs."""
        return {m.id: index for index, m in enumerate(self.milestones)}

    def milestone(self, milestone_id: str) -> Milestone | None:
        index = self._positions.get(milestone_id)
        return None if index is None else self.milestones[index]

    def unlocked_by(self, milestone: Milestone) -> list[str]:
        """Explicit `unlocks`, else the next milestone of the ladder."""
        if milestone.unlocks is not None:
            return list(milestone.unlocks)
        index = self._positions[milestone.id]
        return [m.id for m in self.milestones[index + 1 : index + 2]]
