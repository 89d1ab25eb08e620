"""The accounts topic (internal) and the accounts table: milestones an account reaches together.

A user's state lives on the user's partition, an account's on the account's. The two talk over
the internal relay topic (contracts/relay.py, `<app id>.relay`):

- `AccountSignal`, keyed by account id: what one member did for the account's milestones (which
  of them the member has done, or one occurrence of a counted event);
- `AccountNotice`, keyed by user id: 'your account reached this milestone', back to each member.

The accounts table (`<app id>-accounts-changelog`) keeps an `AccountRecord` per account id: its
members per playbook and what counts toward each account-level milestone. Every input is
idempotent (sets of members, occurrences by messageId, a reached milestone stays reached), so a
record processed twice after a crash changes nothing the second time.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1


class AccountSignal(BaseModel):
    """From a member's partition to the account's. `done` lists the playbook's account-level
    milestones the member has met on their own (`members:` rules); `occurrence` is the messageId
    of one matching event (`events:` rules) for `milestone_id`."""

    version: SchemaVersion = VERSION
    type: Literal["account_signal"] = "account_signal"
    account_id: str
    user_id: str
    playbook_id: str
    done: list[str] = Field(default_factory=list, description="Account-level milestones the member met.")
    milestone_id: str | None = Field(default=None, description="With `occurrence`: the milestone it counts for.")
    occurrence: str | None = Field(default=None, description="messageId of one matching event.")
    at: AwareDatetime = Field(description="Event time of what the member did.")


class AccountNotice(BaseModel):
    """From the account's partition to a member's: the account reached `milestone_id`. `announce`
    is true for one member only (whose signal reached it), so messages to the CSM or a Slack channel
    go out once per account while every member gets their own."""

    version: SchemaVersion = VERSION
    type: Literal["account_notice"] = "account_notice"
    account_id: str
    user_id: str
    playbook_id: str
    milestone_id: str
    reached_at: AwareDatetime
    announce: bool = False


class AccountMilestone(BaseModel):
    """What counts toward one account-level milestone so far."""

    members_done: list[str] = Field(default_factory=list, description="Members who met it on their own.")
    occurrences: list[str] = Field(
        default_factory=list, description="messageIds of matching events, at most the rule's count."
    )
    reached_at: AwareDatetime | None = None
    reached_by: str | None = Field(default=None, description="The member whose signal reached it.")


class AccountRecord(BaseModel):
    """The accounts table's value, keyed by account id."""

    version: SchemaVersion = VERSION
    account_id: str
    members: dict[str, list[str]] = Field(
        default_factory=dict, description="playbook id -> its members in this account, in order of arrival."
    )
    milestones: dict[str, AccountMilestone] = Field(
        default_factory=dict, description="'playbook_id/milestone_id' -> what counts toward it."
    )

    @classmethod
    def new(cls, account_id: str) -> AccountRecord:
        return cls(account_id=account_id)
