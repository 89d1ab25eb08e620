"""The rules engine: pure functions from (progress, event) to (new progress, decisions).

No I/O and no clock reads: the orchestrator and the simulator pass `now`, so
the same inputs always give the same decisions (replays are safe).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nudgeflow.rules import stalls
from nudgeflow.rules.accounts import member_signal, occurrence_signal
from nudgeflow.rules.contracts.accounts import AccountNotice
from nudgeflow.rules.contracts.deliveries import DeliveryKind, DeliveryRequest, delivery_id_for
from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent
from nudgeflow.rules.contracts.relay import DoneMilestone
from nudgeflow.rules.contracts.users import HeldEvent, UserProgress
from nudgeflow.rules.decisions import (
    Decision,
    DeliverySuppressed,
    Exposure,
    MilestoneCompleted,
    MilestoneUnlocked,
    TimerDue,
)
from nudgeflow.rules.deliveries import build_delivery
from nudgeflow.rules.experiments import Assignment, apply_variant, assign
from nudgeflow.rules.ladder import (
    enter,
    ladder_progress,
    milestone_state,
    prerequisite_met,
    record_match,
    unlock_targets,
)
from nudgeflow.rules.predicates import matches
from nudgeflow.rules.ruleset import Ruleset
from nudgeflow.rules.schema import Message, Milestone, Playbook, Stall
from nudgeflow.rules.timing import schedule

_MISSING = object()
HELD_EVENTS_MAX = 50
HELD_EVENTS_WINDOW = timedelta(days=7)


def _hold(p: UserProgress, event: TrackEvent) -> None:
    """Keep an event for playbooks the user may enter later (their role not known yet): the newest
    `HELD_EVENTS_MAX` of the last `HELD_EVENTS_WINDOW`, so a user's record stays small."""
    oldest = event.timestamp - HELD_EVENTS_WINDOW
    kept = [h for h in p.held_events if h.timestamp >= oldest and h.message_id != event.messageId]
    kept.append(
        HeldEvent(event=event.event, properties=event.properties, timestamp=event.timestamp, message_id=event.messageId)
    )
    p.held_events = kept[-HELD_EVENTS_MAX:]


def fork(progress: UserProgress, playbook_ids: set[str]) -> UserProgress:
    """A copy the engine may change, without a deep copy of every playbook the user is in.

    The engine changes only the top-level collections and the progress of playbooks the input
    can reach (by event name, stall or timer): those are copied, the rest are shared. A deep copy
    of a user in 100 playbooks was 90% of the per-event cost (docs/benchmarks.md).
    """
    p = progress.model_copy()
    p.traits = dict(progress.traits)
    p.playbooks = {
        pid: pp.model_copy(deep=True) if pid in playbook_ids else pp for pid, pp in progress.playbooks.items()
    }
    p.timers = dict(progress.timers)
    p.stalls_started = dict(progress.stalls_started)
    p.exposures = dict(progress.exposures)
    p.sent_per_day = {day: dict(counts) for day, counts in progress.sent_per_day.items()}
    p.held_events = list(progress.held_events)
    return p


@dataclass
class EngineResult:
    progress: UserProgress
    decisions: list[Decision] = field(default_factory=list)


def _valid_zone(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


class Engine:
    """Evaluates one Ruleset; build a new Engine when the rules are reloaded."""

    def __init__(self, ruleset: Ruleset):
        self.ruleset = ruleset
        self.version = ruleset.version
        index: dict[str, list[tuple[Playbook, Milestone]]] = defaultdict(list)
        for playbook in ruleset.playbooks:
            for milestone in playbook.milestones:
                index[milestone.when.event].append((playbook, milestone))
        self.by_event: dict[str, tuple[tuple[Playbook, Milestone], ...]] = {
            name: tuple(pairs) for name, pairs in index.items()
        }
        stall_index: dict[str, list[tuple[Playbook, Stall]]] = defaultdict(list)
        for playbook in ruleset.playbooks:
            for stall in playbook.all_stalls:
                if stall.of_is_event:
                    stall_index[stall.of].append((playbook, stall))
        self.stalls_by_event = {name: tuple(pairs) for name, pairs in stall_index.items()}
        self.account_playbooks = tuple(p for p in ruleset.playbooks if p.account_milestones)
        self.variants: dict[tuple[str, str], Playbook] = {
            (playbook.id, variant.name): apply_variant(playbook, variant)
            for playbook in ruleset.playbooks
            if playbook.experiment
            for variant in playbook.experiment.variants
        }

    def reads(self, event: TrackEvent | IdentifyEvent) -> bool:
        """Whether any loaded rule can react to `event`: identify calls always (traits enter users into
        playbooks), track calls when a milestone or stall names them. What no rule reads is noise."""
        return isinstance(event, IdentifyEvent) or self.reads_track(event.event)

    def reads_track(self, name: str) -> bool:
        """Whether a milestone or stall names the track event `name` (the pre-filter asks before validating)."""
        return name in self.by_event or name in self.stalls_by_event

    def assignment(self, p: UserProgress, playbook: Playbook) -> Assignment | None:
        """The user's variant of the playbook's current experiment, fixed when they entered it.
        None for users who entered before the experiment started (or under another experiment):
        they keep the playbook as written."""
        pp = p.playbooks.get(playbook.id)
        experiment = playbook.experiment
        if pp is None or experiment is None or pp.experiment != experiment.id or pp.variant is None:
            return None
        return Assignment(experiment.id, pp.variant)

    def playbook_for(self, p: UserProgress, playbook: Playbook) -> Playbook:
        """The playbook as this user sees it: their variant's overrides applied. Held-out users
        (and users of a variant that was since removed) see the playbook as written."""
        chosen = self.assignment(p, playbook)
        if chosen is None or chosen.held_out:
            return playbook
        return self.variants.get((playbook.id, chosen.variant), playbook)

    def on_event(self, progress: UserProgress, event: TrackEvent | IdentifyEvent, now: datetime) -> EngineResult:
        """Apply one product event; never mutates `progress`."""
        if self._changes_nothing(progress, event):
            return EngineResult(progress=progress)
        touched: set[str] = set()
        if isinstance(event, TrackEvent):
            touched.update(playbook.id for playbook, _ in self.by_event.get(event.event, ()))
            touched.update(playbook.id for playbook, _ in self.stalls_by_event.get(event.event, ()))
        p = fork(progress, touched)
        decisions: list[Decision] = []
        at = event.timestamp
        if p.first_seen_at is None or at < p.first_seen_at:
            p.first_seen_at = at
        if isinstance(event, IdentifyEvent) and any(p.traits.get(k, _MISSING) != v for k, v in event.traits.items()):
            p.traits.update(event.traits)
            p.audiences_checked = None  # new traits: audiences may match now
        p.timezone = _valid_zone(event.context.timezone) or _valid_zone(p.traits.get("timezone")) or p.timezone
        if p.audiences_checked != self.version:
            self._enter_playbooks(p, at, now, decisions)
        if isinstance(event, TrackEvent):
            listening = self.by_event.get(event.event, ())
            for playbook, milestone in listening:
                if playbook.id in p.playbooks:
                    self._match(p, playbook, milestone, event, now, decisions)
            if any(playbook.id not in p.playbooks for playbook, _ in listening):
                _hold(p, event)
            for playbook, stall in self.stalls_by_event.get(event.event, ()):
                if playbook.id in p.playbooks:
                    seen = self.playbook_for(p, playbook)
                    stalls.start(p, seen, stalls.find(seen, stall.key) or stall, at, self.version, decisions)
        self._signal_accounts(p, decisions)
        return EngineResult(progress=p, decisions=decisions)

    def on_account_notice(self, progress: UserProgress, notice: AccountNotice, now: datetime) -> EngineResult:
        """The user's account reached an account-level milestone: the user completes it too (once).
        Messages to the CSM or a channel go out only with the notice that `announce`s it."""
        written = self.ruleset.playbook(notice.playbook_id)
        if written is None or notice.playbook_id not in progress.playbooks:
            return EngineResult(progress=progress)
        if progress.completed(notice.playbook_id, notice.milestone_id):
            return EngineResult(progress=progress)
        playbook = self.playbook_for(progress, written)
        milestone = playbook.milestone(notice.milestone_id)
        if milestone is None or milestone.account is None:
            return EngineResult(progress=progress)
        p = fork(progress, {playbook.id})
        decisions: list[Decision] = []
        self._complete(p, playbook, milestone, None, notice.reached_at, now, decisions, announce=notice.announce)
        return EngineResult(progress=p, decisions=decisions)

    def adopt(self, progress: UserProgress, done: list[DoneMilestone], now: datetime) -> EngineResult:
        """Milestones another id of this person completed (an alias): done here too, at the time they
        were done there, and not celebrated again (that person was celebrated then)."""
        adopted = [
            d
            for d in done
            if d.playbook_id in progress.playbooks and not progress.completed(d.playbook_id, d.milestone_id)
        ]
        p = fork(progress, {d.playbook_id for d in adopted})
        decisions: list[Decision] = []
        for d in sorted(adopted, key=lambda d: d.completed_at):
            written = self.ruleset.playbook(d.playbook_id)
            playbook = self.playbook_for(p, written) if written else None
            milestone = playbook.milestone(d.milestone_id) if playbook else None
            if playbook is not None and milestone is not None:
                self._complete(p, playbook, milestone, None, d.completed_at, now, decisions, celebrate=False)
        return EngineResult(progress=p if decisions else progress, decisions=decisions)

    def _signal_accounts(self, p: UserProgress, decisions: list[Decision]) -> None:
        """Tell the user's account what changed in their standing on its milestones (joined the
        account or the playbook, met a milestone): once per change."""
        for playbook in self.account_playbooks:
            pp = p.playbooks.get(playbook.id)
            if pp is None:
                continue
            told = member_signal(p, playbook, pp)
            if told is not None:
                signal, reported = told
                # a copy: `pp` may be shared with the stored progress (see `fork`)
                p.playbooks[playbook.id] = pp.model_copy(update={"account_reported": reported})
                decisions.append(signal)

    def on_timer(self, progress: UserProgress, timer: TimerDue, now: datetime) -> EngineResult:
        """A stall timer fired: nudge if the milestone is still not done, then arm the next step."""
        armed = progress.timers.get(timer.timer_id)
        p = fork(progress, {armed.playbook_id} if armed else set())
        decisions: list[Decision] = []
        pending = p.timers.pop(timer.timer_id, None)
        if pending is not None and timer.due_at < pending.due_at:  # an older firing of a re-armed id
            return EngineResult(progress=fork(progress, set()), decisions=decisions)
        written = self.ruleset.playbook(pending.playbook_id) if pending else None
        playbook = self.playbook_for(p, written) if written else None
        stall = stalls.find(playbook, pending.stall_key) if pending else None
        if pending is None or playbook is None or stall is None or playbook.id not in p.playbooks:
            return EngineResult(progress=p, decisions=decisions)  # cancelled, duplicate, or rule removed
        milestone = playbook.milestone(stall.milestone)
        if milestone is None or p.completed(playbook.id, milestone.id) or pending.step >= stall.steps:
            return EngineResult(progress=p, decisions=decisions)
        chosen = self.assignment(p, playbook)
        sent: Decision
        if chosen is not None and chosen.held_out:
            sent = self._held_out(
                p, playbook, milestone, stall.nudge(pending.step), pending.step, now, chosen.experiment
            )
        else:
            since = p.stalls_started.get(f"{playbook.id}/{stall.key}")
            sent = self._deliver(
                p, playbook, milestone, stall.nudge(pending.step), "nudge", pending.step, now, None, stalled_since=since
            )
        decisions.append(sent)
        if pending.step + 1 < stall.steps:
            base = sent.send_at if isinstance(sent, DeliveryRequest) else max(now, pending.due_at)
            decisions.append(
                stalls.arm(p, playbook, stall, pending.step + 1, base + stall.delay(pending.step + 1), self.version)
            )
        return EngineResult(progress=p, decisions=decisions)

    def _deliver(
        self,
        p: UserProgress,
        playbook: Playbook,
        milestone: Milestone,
        message: Message,
        kind: DeliveryKind,
        step: int,
        now: datetime,
        event: TrackEvent | None,
        stalled_since: datetime | None = None,
    ) -> Decision:
        built = build_delivery(
            progress=p,
            playbook=playbook,
            version=self.version,
            milestone=milestone,
            message=message,
            kind=kind,
            step=step,
            now=now,
            event=event,
            stalled_since=stalled_since,
        )
        if isinstance(built, DeliveryRequest):
            return schedule(p, playbook.timing, built, now)
        return built

    def _held_out(
        self,
        p: UserProgress,
        playbook: Playbook,
        milestone: Milestone,
        message: Message,
        step: int,
        now: datetime,
        experiment: str,
    ) -> DeliverySuppressed:
        """The nudge a held-out user would have got, recorded (same delivery id) but not sent."""
        delivery_id = delivery_id_for(
            user_id=p.user_id,
            playbook_id=playbook.id,
            playbook_version=self.version,
            milestone_id=milestone.id,
            kind="nudge",
            step=step,
            channel=message.channel,
        )
        return DeliverySuppressed(
            delivery_id=delivery_id,
            kind="nudge",
            channel=message.channel,
            step=step,
            user_id=p.user_id,
            playbook_id=playbook.id,
            playbook_version=self.version,
            milestone_id=milestone.id,
            reason="holdout",
            detail=f"held out of experiment '{experiment}'",
            at=now,
        )

    def _changes_nothing(self, progress: UserProgress, event: TrackEvent | IdentifyEvent) -> bool:
        """A track event no milestone or stall listens to, from a user we know, that enters no playbook:
        most of a product's events. Answering without the deep copy of the progress is the engine's
        largest saving (see docs/benchmarks.md)."""
        if not isinstance(event, TrackEvent) or event.event in self.by_event or event.event in self.stalls_by_event:
            return False
        if progress.first_seen_at is None or event.timestamp < progress.first_seen_at:
            return False
        zone = _valid_zone(event.context.timezone) or _valid_zone(progress.traits.get("timezone")) or progress.timezone
        if zone != progress.timezone:
            return False
        return progress.audiences_checked == self.version

    def _enter_playbooks(self, p: UserProgress, at: datetime, now: datetime, decisions: list[Decision]) -> None:
        """Audiences are checked once per ruleset version and traits, not on every event."""
        p.audiences_checked = self.version
        for playbook in self.ruleset.playbooks:
            if playbook.id not in p.playbooks and matches(playbook.audience, {**p.traits, "id": p.user_id}):
                self._enroll(p, playbook, at, decisions)
                seen = self.playbook_for(p, playbook)
                self._entered(p, seen, at, now, decisions)
                self._replay_held(p, playbook, now, decisions)

    def _replay_held(self, p: UserProgress, playbook: Playbook, now: datetime, decisions: list[Decision]) -> None:
        """Events the user sent before entering `playbook` count for it now, in the order they happened."""
        for held in sorted(p.held_events, key=lambda h: h.timestamp):
            for listener, milestone in self.by_event.get(held.event, ()):
                if listener.id == playbook.id:
                    event = TrackEvent(
                        type="track",
                        event=held.event,
                        properties=held.properties,
                        messageId=held.message_id,
                        userId=p.user_id,
                        timestamp=held.timestamp,
                    )
                    self._match(p, playbook, milestone, event, now, decisions)

    def _enroll(self, p: UserProgress, playbook: Playbook, at: datetime, decisions: list[Decision]) -> None:
        """Enter the playbook; with an experiment, fix the user's variant and expose them once."""
        experiment = playbook.experiment
        variant = assign(experiment, p.user_id) if experiment else None
        seen = self.variants.get((playbook.id, variant), playbook) if variant else playbook
        pp = enter(p, seen, self.version, at)
        if experiment is None or variant is None:
            return
        pp.experiment, pp.variant = experiment.id, variant
        if experiment.id not in p.exposures:
            p.exposures[experiment.id] = variant
            decisions.append(
                Exposure(
                    user_id=p.user_id,
                    playbook_id=playbook.id,
                    playbook_version=self.version,
                    experiment=experiment.id,
                    variant=variant,
                    at=at,
                )
            )

    def _entered(
        self, p: UserProgress, playbook: Playbook, at: datetime, now: datetime, decisions: list[Decision]
    ) -> None:
        first = playbook.milestones[0]
        for message in playbook.on_enter:
            decisions.append(self._deliver(p, playbook, first, message, "welcome", 0, now, None))
        stalls.on_entry(p, playbook, self.version, decisions)

    def _match(
        self,
        p: UserProgress,
        playbook: Playbook,
        milestone: Milestone,
        event: TrackEvent,
        now: datetime,
        decisions: list[Decision],
    ) -> None:
        pp = p.playbooks[playbook.id]
        ms = milestone_state(pp, milestone.id)
        at = event.timestamp
        if ms.completed_at is not None or ms.met_at is not None or not matches(milestone.when.where, event.properties):
            return
        if not prerequisite_met(pp, milestone, at):
            return
        account = milestone.account
        if account is not None and account.events is not None:
            if (signal := occurrence_signal(p, playbook, milestone, event)) is not None:
                decisions.append(signal)  # the account counts it; its notice completes the milestone
            return
        if record_match(ms, milestone, at):
            if account is not None:
                ms.met_at = at  # the member's part: `_signal_accounts` tells the account
                return
            seen = self.playbook_for(p, playbook)
            self._complete(p, seen, seen.milestone(milestone.id) or milestone, event, at, now, decisions)

    def _complete(
        self,
        p: UserProgress,
        playbook: Playbook,
        milestone: Milestone,
        event: TrackEvent | None,
        at: datetime,
        now: datetime,
        decisions: list[Decision],
        *,
        announce: bool = True,
        celebrate: bool = True,
    ) -> None:
        """`announce`: send the messages addressed to others than the user (the CSM, a channel);
        an account-level milestone announces once per account. `celebrate`: False for a milestone
        another id of the user was celebrated for."""
        pp = p.playbooks[playbook.id]
        ms = milestone_state(pp, milestone.id)
        ms.completed_at = at
        ms.matching_times = []
        ids = dict(user_id=p.user_id, playbook_id=playbook.id, playbook_version=self.version)
        counts = ladder_progress(playbook, pp)
        decisions.append(
            MilestoneCompleted(
                **ids,
                milestone_id=milestone.id,
                completed_at=at,
                done=counts["done"],
                total=counts["total"],
                first_value=milestone.id == playbook.first_value,
                since_entry_seconds=max(0.0, (at - pp.entered_at).total_seconds()),
            )
        )
        for target in unlock_targets(playbook, pp, milestone, at):
            decisions.append(MilestoneUnlocked(**ids, milestone_id=target, unlocked_at=at, unlocked_by=milestone.id))
        if not ms.celebrated:
            ms.celebrated = True
            for message in milestone.celebrate if celebrate else ():
                if message.to != "user" and not announce:
                    continue
                decisions.append(self._deliver(p, playbook, milestone, message, "celebration", 0, now, event))
        stalls.on_completion(p, playbook, milestone.id, at, self.version, decisions)
