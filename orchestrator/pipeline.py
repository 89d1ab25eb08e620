"""One step of the worker: a user's stored record plus one input (a product event or a due timer)
and the time → the user's new record and everything to publish.

The same object runs in the Faust agent (real topics, the `users` table, the system clock) and in
`nudgeflow simulate` (a virtual clock, records in a dict), so a preview shows exactly what the
worker would do. Pure with respect to I/O: nothing here reads a clock or talks to Kafka.

Per input: per-user de-duplication by messageId, identify traits that set preferences, the rules
engine, deferral of sends whose time has not come (quiet hours, caps), the preference check of
in-app prompts, and the timers the new record arms (its stall timers and deferred sends).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import ValidationError

from nudgeflow.channels.product_events import RECORDED_EVENTS, recorded_outcome
from nudgeflow.orchestrator.decision_outcomes import decision_outcome, delivery_outcome
from nudgeflow.orchestrator.ingest.decode import Rejected
from nudgeflow.rules.accounts import AccountStep, on_signal
from nudgeflow.rules.contracts.accounts import AccountNotice, AccountRecord, AccountSignal
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import AliasEvent, IdentifyEvent, TrackEvent
from nudgeflow.rules.contracts.outcomes import Outcome, OutcomeKind
from nudgeflow.rules.contracts.preferences import Preferences
from nudgeflow.rules.contracts.prompts import Prompt
from nudgeflow.rules.contracts.relay import DoneMilestone, IdentityMerge
from nudgeflow.rules.contracts.timers import TimerCommand
from nudgeflow.rules.contracts.users import SEND_TIMER_PREFIX, UserRecord
from nudgeflow.rules.decisions import Decision, TimerDue
from nudgeflow.rules.engine import Engine

log = logging.getLogger(__name__)
SEND_NOW_TOLERANCE = timedelta(seconds=1)  # a send_at this close to now is sent now
MERGED_FROM_MAX = 20  # ids remembered as merged into a user, to break alias cycles

Event = TrackEvent | IdentifyEvent
Call = Event | AliasEvent
Input = Call | TimerCommand | AccountNotice | IdentityMerge
Status = Literal["processed", "duplicate", "unchanged", "fired", "stale", "forwarded"]


class EngineSource(Protocol):
    """Where the engine in force comes from: the hot-reloading `RulesHolder`, or a fixed one."""

    @property
    def engine(self) -> Engine: ...


@dataclass(frozen=True, slots=True)
class FixedEngine:
    engine: Engine


class PreferenceBook(Protocol):
    """The users' current notification preferences (the worker's follows the preferences topic)."""

    def get(self, user_id: str) -> Preferences: ...


@dataclass(slots=True)
class StepResult:
    """What one step decided. `record` is the user's record after the step; it needs storing only
    when `changed`. Publish `preferences` first, then prompts, deliveries and outcomes, wait for the
    broker's acks, and only then store the record and arm `timers`."""

    status: Status
    record: UserRecord
    decisions: list[Decision] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    deliveries: list[DeliveryRequest] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    preferences: Preferences | None = None
    signals: list[AccountSignal] = field(default_factory=list)
    """To the relay topic, keyed by account: what the user did for their account's milestones."""
    merges: list[IdentityMerge] = field(default_factory=list)
    """To the relay topic, keyed by the new id: what an aliased id knew."""
    forwards: list[Event] = field(default_factory=list)
    """To the events topic, keyed by their (new) user: events of an id an alias merged into another."""
    sent: list[DeliveryRequest] = field(default_factory=list)
    """Requests handed on now, in order: in-app prompts written to the inbox, email/Slack to the outbox."""

    @property
    def changed(self) -> bool:
        return self.status in ("processed", "fired")

    def then(self, later: StepResult) -> None:
        """Take in a later step on the same user (its record and everything it publishes)."""
        if later.changed:
            self.record, self.status = later.record, "processed"
        self.decisions += later.decisions
        self.prompts += later.prompts
        self.deliveries += later.deliveries
        self.outcomes += later.outcomes
        self.preferences = later.preferences or self.preferences
        self.signals += later.signals
        self.merges += later.merges
        self.forwards += later.forwards
        self.sent += later.sent

    @property
    def timers(self) -> dict[str, datetime]:
        """Every timer the new record arms, by timer id: its source of truth is the record."""
        return self.record.due_times()


def decode_timer(raw: bytes | None) -> TimerCommand | Rejected:
    """A record of the timers topic (events: `decode_event`); never raises for bad input."""
    try:
        return TimerCommand.model_validate_json(raw or b"")
    except ValidationError as exc:
        return Rejected(reason=f"not a timer command: {exc.errors(include_url=False)[0]['msg']}", error_type="schema")


class PipelineStep:
    """Applies one input to one user's record. Holds no per-user state of its own."""

    def __init__(self, rules: EngineSource, *, dedupe_window: int, preferences: PreferenceBook | None = None) -> None:
        self.rules = rules
        self.dedupe_window = dedupe_window
        self.preferences = preferences

    def __call__(self, record: UserRecord, item: Input, now: datetime) -> StepResult:
        if isinstance(item, TimerCommand):
            return self.on_timer(record, item, now)
        if isinstance(item, AccountNotice):
            return self.on_notice(record, item, now)
        if isinstance(item, IdentityMerge):
            return self.on_merge(record, item, now)
        return self.on_event(record, item, now)

    def on_account_signal(self, account: AccountRecord, signal: AccountSignal) -> AccountStep:
        """A member's signal on the account's partition: the account's new record and the notices to
        send each member (keyed by user, back to the users' partitions)."""
        return on_signal(account, signal, self.rules.engine.ruleset)

    def on_notice(self, record: UserRecord, notice: AccountNotice, now: datetime) -> StepResult:
        """The user's account reached a milestone: completed and celebrated like the user's own.
        A notice seen again changes nothing (the milestone is already complete)."""
        result = self.rules.engine.on_account_notice(record.progress, notice, now)
        if not result.decisions:
            return StepResult("unchanged", record)
        step = StepResult(
            "processed", record.model_copy(update={"progress": result.progress}), decisions=list(result.decisions)
        )
        self._apply(step, now, cause=f"account:{notice.account_id}")
        return step

    def reads(self, event: Call) -> bool:
        """The ingest pre-filter: events no loaded rule reads, and that record no click, are dropped
        before they reach the user's state (most of a product's stream). Follows hot reloads."""
        return not isinstance(event, TrackEvent) or self.reads_track(event.event)

    def reads_track(self, name: str) -> bool:
        """`reads` for a track call known only by its event name (the ingest stage asks before validating)."""
        return self.rules.engine.reads_track(name) or name in RECORDED_EVENTS

    def on_event(self, record: UserRecord, event: Call, now: datetime) -> StepResult:
        """A messageId this user already sent changes nothing (per-user de-duplication window).
        A click on a message's link is also recorded as a `link_clicked` outcome, a survey answer as
        `survey_answered` (their ids are deterministic, so a replay produces the same one). An id an
        alias merged into another forwards its events there."""
        if isinstance(event, AliasEvent):
            return self.on_alias(record, event)
        if record.merged_into is not None:
            return StepResult("forwarded", record, forwards=[event.model_copy(update={"userId": record.merged_into})])
        step = self._on_event(record, event, now)
        if step.status != "duplicate" and (recorded := recorded_outcome(event, now)) is not None:
            step.outcomes.append(recorded)
        return step

    def _on_event(self, record: UserRecord, event: Event, now: datetime) -> StepResult:
        preferences = self._preferences_from(event)
        if record.has_seen(event.messageId):
            return StepResult("duplicate", record, preferences=preferences)
        result = self.rules.engine.on_event(record.progress, event, now)
        if not result.decisions and result.progress == record.progress:
            # Nothing to remember: replaying this event later changes nothing either, so it needs
            # no de-duplication entry, and the worker skips the state write (most product events).
            return StepResult("unchanged", record, preferences=preferences)
        updated = record.model_copy(
            update={
                "progress": result.progress,
                "recent_message_ids": record.remembering(event.messageId, self.dedupe_window),
            }
        )
        step = StepResult("processed", updated, decisions=list(result.decisions), preferences=preferences)
        self._apply(step, now, cause=event.messageId)
        return step

    def on_alias(self, record: UserRecord, alias: AliasEvent) -> StepResult:
        """On the previous id's partition: hand what it knows to the new id and forward its later
        events there. Its armed timers and deferred sends are dropped: the new id's own rules decide
        what this person still needs."""
        if record.has_seen(alias.messageId):
            return StepResult("duplicate", record)
        if alias.previousId == alias.userId:
            return StepResult("unchanged", record)
        progress = record.progress
        merge = IdentityMerge(
            message_id=alias.messageId,
            from_id=alias.previousId,
            into_id=alias.userId,
            merged_from=record.merged_from,
            traits=progress.traits,
            held_events=progress.held_events,
            done=[
                DoneMilestone(playbook_id=pid, milestone_id=mid, completed_at=ms.completed_at)
                for pid, pp in progress.playbooks.items()
                for mid, ms in pp.milestones.items()
                if ms.completed_at is not None
            ],
            at=alias.timestamp,
        )
        updated = record.model_copy(
            update={
                "merged_into": alias.userId,
                "deferred": {},
                "progress": progress.model_copy(update={"timers": {}}),
                "recent_message_ids": record.remembering(alias.messageId, self.dedupe_window),
            }
        )
        return StepResult("processed", updated, merges=[merge])

    def on_merge(self, record: UserRecord, merge: IdentityMerge, now: datetime) -> StepResult:
        """On the new id's partition: traits it lacks, the previous id's held events (each once, by
        messageId) and its milestones done (not celebrated again). Applied once per alias call."""
        if record.has_seen(merge.message_id):
            return StepResult("duplicate", record)
        user_id = record.progress.user_id
        ids = [*record.merged_from, merge.from_id, *merge.merged_from]
        merged_from = [i for i in dict.fromkeys(ids) if i != user_id][-MERGED_FROM_MAX:]
        cycle = record.merged_into in (merge.from_id, *merge.merged_from)  # this id was merged into one of them
        if record.merged_into is not None and not cycle:  # this id is someone else's now: pass it on
            return StepResult("forwarded", record, merges=[merge.model_copy(update={"into_id": record.merged_into})])
        result = StepResult(
            "processed",
            record.model_copy(
                update={
                    "merged_from": merged_from,
                    "merged_into": None if cycle else record.merged_into,
                    "recent_message_ids": record.remembering(merge.message_id, self.dedupe_window),
                }
            ),
        )
        traits = {k: v for k, v in merge.traits.items() if k not in record.progress.traits}
        inputs: list[Event] = []
        if traits:
            inputs.append(
                IdentifyEvent(
                    type="identify",
                    traits=traits,
                    messageId=f"{merge.message_id}:traits",
                    userId=user_id,
                    timestamp=merge.at,
                )
            )
        inputs += [
            TrackEvent(
                type="track",
                event=held.event,
                properties=held.properties,
                messageId=held.message_id,
                userId=user_id,
                timestamp=held.timestamp,
            )
            for held in merge.held_events
        ]
        for event in inputs:
            result.then(self._on_event(result.record, event, now))
        adopted = self.rules.engine.adopt(result.record.progress, merge.done, now)
        if adopted.decisions:
            step = StepResult(
                "processed",
                result.record.model_copy(update={"progress": adopted.progress}),
                decisions=list(adopted.decisions),
            )
            self._apply(step, now, cause=merge.message_id)
            result.then(step)
        return result

    def on_timer(self, record: UserRecord, command: TimerCommand, now: datetime) -> StepResult:
        """A timer fired. Stale (nothing to do) when the record no longer arms it at that time:
        cancelled, moved, or already fired, so a command published twice fires once."""
        timer_id = command.timer_id
        if timer_id.startswith(SEND_TIMER_PREFIX):
            request = record.deferred.get(timer_id.removeprefix(SEND_TIMER_PREFIX))
            if request is None or request.send_at > command.due_at:
                return StepResult("stale", record)
            remaining = {k: v for k, v in record.deferred.items() if k != request.delivery_id}
            step = StepResult("fired", record.model_copy(update={"deferred": remaining}))
            self._send(step, request, now)
            return step
        pending = record.progress.timers.get(timer_id)
        if pending is None or pending.due_at > command.due_at:
            return StepResult("stale", record)
        due = TimerDue(
            timer_id=timer_id,
            user_id=record.progress.user_id,
            due_at=pending.due_at,
            playbook_id=pending.playbook_id,
            milestone_id=pending.milestone_id,
            nudge_step=pending.step,
            stall_key=pending.stall_key,
        )
        result = self.rules.engine.on_timer(record.progress, due, now)
        step = StepResult(
            "fired", record.model_copy(update={"progress": result.progress}), decisions=list(result.decisions)
        )
        self._apply(step, now, cause=timer_id)
        return step

    def _preferences_from(self, event: Event) -> Preferences | None:
        """Identify traits `nudgeflow_unsubscribed` / `_opt_out_channels` / `_opt_out_playbooks` set the
        user's preferences, exactly as the API does; malformed values are logged and ignored, never a
        reason to drop the event."""
        if self.preferences is None or not isinstance(event, IdentifyEvent):
            return None
        current = self.preferences.get(event.userId)
        try:
            update = current.update_from_traits(event.traits)
        except ValidationError as exc:
            log.warning("ignoring malformed preference traits of %s: %s", event.messageId, exc)
            return None
        if update is None:
            return None
        return current.changed(update, source="identify", at=event.timestamp)

    def _allows(self, step: StepResult, request: DeliveryRequest) -> bool:
        if self.preferences is None:
            return True
        preferences = step.preferences or self.preferences.get(request.user_id)
        return preferences.allows(request.channel, request.playbook_id)

    def _apply(self, step: StepResult, now: datetime, *, cause: str) -> None:
        user_id = step.record.progress.user_id
        for decision in step.decisions:
            if isinstance(decision, DeliveryRequest):
                if decision.send_at - now > SEND_NOW_TOLERANCE:
                    step.record = step.record.model_copy(
                        update={"deferred": {**step.record.deferred, decision.delivery_id: decision}}
                    )
                    extra = {"send_at": decision.send_at.isoformat()}
                    step.outcomes.append(delivery_outcome(OutcomeKind.DELIVERY_DEFERRED, decision, now, extra))
                else:
                    self._send(step, decision, now)
            elif isinstance(decision, AccountSignal):
                step.signals.append(decision)
            elif (outcome := decision_outcome(decision, user_id, now, cause=cause)) is not None:
                step.outcomes.append(outcome)

    def _send(self, step: StepResult, request: DeliveryRequest, now: datetime) -> None:
        """In-app prompts are written straight to the inbox (idempotent by delivery id), if the user's
        preferences allow; email and Slack go to the deliveries topic, and their outbox checks the
        preferences when it sends."""
        if request.channel != "in_app":
            step.deliveries.append(request)
            step.sent.append(request)
            step.outcomes.append(delivery_outcome(OutcomeKind.DELIVERY_REQUESTED, request, now))
        elif not self._allows(step, request):
            step.outcomes.append(
                delivery_outcome(OutcomeKind.DELIVERY_SUPPRESSED, request, now, {"reason": "preferences"})
            )
        else:
            step.prompts.append(Prompt.from_delivery(request, now=now))
            step.sent.append(request)
            step.outcomes.append(delivery_outcome(OutcomeKind.DELIVERED, request, now))
