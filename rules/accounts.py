"""Account-level milestones: what members tell their account, and when the account reaches one.

A member's partition knows what the member did; the account's partition (a record per account id,
contracts/accounts.py) counts what its members did. Two pure halves:

- member side (`member_signal`, `occurrence_signal`), called by the engine on the user's progress;
- account side (`on_signal`): an `AccountRecord` plus one signal → the new record and the notices
  that tell members the account reached a milestone.

Everything is idempotent, so a signal or notice handled twice after a crash changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from nudgeflow.rules.contracts.accounts import AccountMilestone, AccountNotice, AccountRecord, AccountSignal
from nudgeflow.rules.contracts.events import ACCOUNT_ID, TrackEvent
from nudgeflow.rules.contracts.users import PlaybookProgress, UserProgress
from nudgeflow.rules.ruleset import Ruleset
from nudgeflow.rules.schema import AccountRule, Milestone, Playbook


def account_of(progress: UserProgress) -> str | None:
    """The user's account id, from their last group call (trait `account_id`)."""
    value = progress.traits.get(ACCOUNT_ID)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None


def member_signal(progress: UserProgress, playbook: Playbook, pp: PlaybookProgress) -> tuple[AccountSignal, str] | None:
    """The member's standing for the account when it changed since last told (new account, a
    milestone newly met), with what to record as told (`pp.account_reported`). None for users in
    no account, or when nothing changed. Reads `pp` only: most events change nothing here."""
    account = account_of(progress)
    if account is None:
        return None
    done = sorted(
        m.id
        for m in playbook.account_milestones
        if (ms := pp.milestones.get(m.id)) is not None and ms.met_at is not None
    )
    reported = f"{account}|{','.join(done)}"
    if pp.account_reported == reported:
        return None
    signal = AccountSignal(
        account_id=account, user_id=progress.user_id, playbook_id=playbook.id, done=done, at=_standing_since(pp)
    )
    return signal, reported


def _standing_since(pp: PlaybookProgress) -> datetime:
    """When the member's standing last changed: entry, or the latest milestone met."""
    return max([pp.entered_at, *(ms.met_at for ms in pp.milestones.values() if ms.met_at is not None)])


def occurrence_signal(
    progress: UserProgress, playbook: Playbook, milestone: Milestone, event: TrackEvent
) -> AccountSignal | None:
    """One matching event of an `events:` milestone, for the account to count (once per messageId)."""
    account = account_of(progress)
    if account is None:
        return None
    return AccountSignal(
        account_id=account,
        user_id=progress.user_id,
        playbook_id=playbook.id,
        milestone_id=milestone.id,
        occurrence=event.messageId,
        at=event.timestamp,
    )


def reached(rule: AccountRule, counted: AccountMilestone, members: list[str]) -> bool:
    if rule.events is not None:
        return len(counted.occurrences) >= rule.events
    done = set(counted.members_done)
    if rule.members == "any":
        return bool(done)
    if rule.members == "all":
        return bool(members) and done.issuperset(members)
    return isinstance(rule.members, int) and len(done) >= rule.members


@dataclass
class AccountStep:
    """What one signal did to an account: its new record, and the notices to send to members."""

    record: AccountRecord
    notices: list[AccountNotice] = field(default_factory=list)
    changed: bool = False


def on_signal(record: AccountRecord, signal: AccountSignal, ruleset: Ruleset) -> AccountStep:
    """Count the member and what they did; reaching a milestone tells every member of the playbook
    (the signalling member with `announce`). A member who joins after it was reached is told too."""
    playbook = ruleset.playbook(signal.playbook_id)
    if playbook is None:  # the playbook was removed since the member signalled
        return AccountStep(record)
    new = record.model_copy(deep=True)
    members = new.members.setdefault(playbook.id, [])
    joined = signal.user_id not in members
    if joined:
        members.append(signal.user_id)
    notices: list[AccountNotice] = []
    for milestone in playbook.account_milestones:
        rule = milestone.account
        assert rule is not None
        counted = new.milestones.setdefault(f"{playbook.id}/{milestone.id}", AccountMilestone())
        if counted.reached_at is not None:
            if joined:
                notices.append(_notice(new, playbook, milestone, counted, signal.user_id, announce=False))
            continue
        if milestone.id in signal.done and signal.user_id not in counted.members_done:
            counted.members_done.append(signal.user_id)
        if signal.milestone_id == milestone.id and signal.occurrence and signal.occurrence not in counted.occurrences:
            counted.occurrences.append(signal.occurrence)
        if reached(rule, counted, members):
            counted.reached_at, counted.reached_by = signal.at, signal.user_id
            notices += [
                _notice(new, playbook, milestone, counted, member, announce=member == signal.user_id)
                for member in members
            ]
    new.milestones = {key: counted for key, counted in new.milestones.items() if counted != AccountMilestone()}
    return AccountStep(new, notices, changed=new != record)


def _notice(
    record: AccountRecord,
    playbook: Playbook,
    milestone: Milestone,
    counted: AccountMilestone,
    user_id: str,
    *,
    announce: bool,
) -> AccountNotice:
    assert counted.reached_at is not None
    return AccountNotice(
        account_id=record.account_id,
        user_id=user_id,
        playbook_id=playbook.id,
        milestone_id=milestone.id,
        reached_at=counted.reached_at,
        announce=announce,
    )
