"""`OnboardingAnalytics`: the pure core. Feed it events and outcomes in any order,
any number of times; ask it for metrics. No Kafka, no clock: `as_of` is the latest
event time seen, so a replay computes exactly what the live run computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from nudgeflow.orchestrator.analytics import experiments, metrics, usage
from nudgeflow.orchestrator.analytics.records import EXPOSURE, OutcomeRecord, coerce_event
from nudgeflow.orchestrator.analytics.results import Filter, Report
from nudgeflow.orchestrator.analytics.state import Exposure, UserFacts, earliest, keep_earliest
from nudgeflow.rules.contracts.events import IdentifyEvent
from nudgeflow.rules.predicates import matches
from nudgeflow.rules.schema import Playbook

NUDGE_DELIVERIES = frozenset({"delivered", "delivery_requested"})
HOLDOUT_VARIANTS = frozenset({"holdout"})


class OnboardingAnalytics:
    """Order-independent aggregator; dedupes events by messageId and outcomes by outcome_id."""

    def __init__(self, playbooks: Sequence[Playbook]) -> None:
        self.playbooks = list(playbooks)
        self.users: dict[str, UserFacts] = {}
        self._message_ids: set[tuple[str, str]] = set()
        self._outcome_ids: set[str] = set()
        self.latest_at: datetime | None = None
        self.duplicates = 0

    def _user(self, user_id: str) -> UserFacts:
        return self.users.setdefault(user_id, UserFacts(user_id))

    def _saw(self, at: datetime) -> None:
        if self.latest_at is None or at > self.latest_at:
            self.latest_at = at

    def add_event(self, event: Any) -> bool:
        """Fold one product event; False when its (userId, messageId) was already seen."""
        event = coerce_event(event)
        key = (event.userId, event.messageId)
        if key in self._message_ids:
            self.duplicates += 1
            return False
        self._message_ids.add(key)
        user, at = self._user(event.userId), event.timestamp
        self._saw(at)
        user.first_event_at = earliest(user.first_event_at, at)
        if isinstance(event, IdentifyEvent):
            for name, value in event.traits.items():
                user.set_trait(name, value, at, event.messageId)
        else:
            user.uses.setdefault(event.event, []).append(at)
        return True

    def add_outcome(self, outcome: Any) -> bool:
        """Fold one outcome; False when its outcome_id was already seen."""
        record = OutcomeRecord.coerce(outcome)
        if record.outcome_id in self._outcome_ids:
            self.duplicates += 1
            return False
        self._outcome_ids.add(record.outcome_id)
        user, at = self._user(record.user_id), record.occurred_at
        self._saw(at)
        user.first_outcome_at = earliest(user.first_outcome_at, at)
        if record.playbook_id:
            user.playbooks.add(record.playbook_id)
        self._fold_outcome(user, record)
        return True

    def _fold_outcome(self, user: UserFacts, record: OutcomeRecord) -> None:
        kind, at, attrs = str(record.kind), record.occurred_at, record.attributes
        if kind == EXPOSURE:
            experiment, variant = attrs.get("experiment"), attrs.get("variant")
            if experiment and variant:
                user.exposures.setdefault(str(experiment), []).append(
                    Exposure(str(variant), at, record.outcome_id, record.playbook_id)
                )
            return
        if not (record.playbook_id and record.milestone_id):
            return
        key = (record.playbook_id, record.milestone_id)
        if kind == "milestone_completed":
            keep_earliest(user.completed, key, at)
        elif kind == "milestone_unlocked":
            keep_earliest(user.unlocked, key, at)
        elif kind in NUDGE_DELIVERIES and attrs.get("kind") == "nudge":
            keep_earliest(user.nudged, key, at)
        elif kind == "delivery_suppressed" and attrs.get("kind") == "nudge" and attrs.get("reason") == "holdout":
            keep_earliest(user.held_out, key, at)
        elif kind == "nudge_scheduled" and isinstance(attrs.get("due_at"), str):
            keep_earliest(user.nudge_due, key, datetime.fromisoformat(attrs["due_at"]))

    def add_all(self, events: Iterable[Any] = (), outcomes: Iterable[Any] = ()) -> None:
        for event in events:
            self.add_event(event)
        for outcome in outcomes:
            self.add_outcome(outcome)

    # -- selection -------------------------------------------------------------------------

    def playbook(self, playbook_id: str) -> Playbook | None:
        return next((p for p in self.playbooks if p.id == playbook_id), None)

    def in_playbook(self, user: UserFacts, playbook: Playbook) -> bool:
        """Had an outcome of the playbook, or matches its audience (entered without outcomes yet)."""
        return playbook.id in user.playbooks or (
            bool(user.traits) and matches(playbook.audience, {**user.trait_values(), "id": user.user_id})
        )

    def select(self, flt: Filter, playbook: Playbook | None = None) -> list[UserFacts]:
        """Users matching the filter (and the playbook's membership), sorted by id."""
        start = datetime.combine(flt.signup_from, time.min, UTC) if flt.signup_from else None
        end = datetime.combine(flt.signup_to, time.min, UTC) + timedelta(days=1) if flt.signup_to else None
        chosen = []
        for user in self.users.values():
            signup = user.signup_at
            if signup is None or (flt.role and user.role != flt.role):
                continue
            if (start and signup < start) or (end and signup >= end):
                continue
            if playbook is not None and not self.in_playbook(user, playbook):
                continue
            chosen.append(user)
        return sorted(chosen, key=lambda u: u.user_id)

    def chosen_playbooks(self, flt: Filter) -> list[Playbook]:
        return [p for p in self.playbooks if flt.playbook in (None, p.id)]

    def roles(self) -> list[str]:
        return sorted({u.role for u in self.users.values()})

    # -- queries ---------------------------------------------------------------------------

    def ttfv(self, flt: Filter | None = None) -> list[metrics.TtfvResult]:
        flt = flt or Filter()
        return [metrics.ttfv(p, self.select(flt, p)) for p in self.chosen_playbooks(flt) if p.first_value]

    def funnels(self, flt: Filter | None = None) -> list[metrics.FunnelResult]:
        flt = flt or Filter()
        return [metrics.funnel(p, self.select(flt, p)) for p in self.chosen_playbooks(flt)]

    def cohorts(
        self, flt: Filter | None = None, windows: Sequence[int] = metrics.WINDOWS, as_of: datetime | None = None
    ) -> list[metrics.CohortResult]:
        flt, as_of = flt or Filter(), as_of or self.latest_at
        return [metrics.cohorts(p, self.select(flt, p), windows, as_of) for p in self.chosen_playbooks(flt)]

    def adoption(
        self, flt: Filter | None = None, days: int = 7, as_of: datetime | None = None
    ) -> list[usage.AdoptionRow]:
        flt, as_of = flt or Filter(), as_of or self.latest_at
        return [row for p in self.chosen_playbooks(flt) for row in usage.adoption(p, self.select(flt, p), days, as_of)]

    def repeat_usage(self, flt: Filter | None = None) -> list[usage.RepeatRow]:
        flt = flt or Filter()
        return usage.repeat_usage(self.chosen_playbooks(flt), self.select(flt))

    def nudges(
        self,
        flt: Filter | None = None,
        hours: int = 48,
        as_of: datetime | None = None,
        holdout_variants: frozenset[str] = HOLDOUT_VARIANTS,
    ) -> list[usage.NudgeEffect]:
        flt, as_of = flt or Filter(), as_of or self.latest_at
        return [
            effect
            for p in self.chosen_playbooks(flt)
            for effect in usage.nudge_effects(p, self.select(flt, p), hours, as_of, holdout_variants)
        ]

    def experiments(
        self, flt: Filter | None = None, within_days: int | None = None, control: str | None = None
    ) -> list[experiments.ExperimentResult]:
        flt = flt or Filter()
        return experiments.results(self, self.select(flt), flt, within_days=within_days, control=control)

    def report(self, flt: Filter | None = None, *, adoption_days: int = 7, nudge_hours: int = 48) -> Report:
        """Everything at once, for the dashboard, `nudgeflow report` and the digest."""
        flt = flt or Filter()
        return Report(
            as_of=self.latest_at,
            filter=flt,
            playbooks=[p.id for p in self.playbooks],
            roles=self.roles(),
            ttfv=self.ttfv(flt),
            funnels=self.funnels(flt),
            cohorts=self.cohorts(flt),
            adoption=self.adoption(flt, adoption_days),
            repeat_usage=self.repeat_usage(flt),
            nudges=self.nudges(flt, nudge_hours),
            experiments=self.experiments(flt),
        )
