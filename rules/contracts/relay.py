"""The relay topic (internal, `<app id>.relay`): records from one key's partition to another's.

State is partitioned by key, and a few things need two keys: an account's milestone (its members'
partitions and the account's, contracts/accounts.py) and an alias (the previous id's partition
hands what it knows to the new id's, `IdentityMerge`). The topic is co-partitioned with the events
and timers topics and read by the same agent, so each record lands on the worker that owns its key.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter

from nudgeflow.rules.contracts.accounts import AccountNotice, AccountSignal
from nudgeflow.rules.contracts.users import HeldEvent
from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1


class DoneMilestone(BaseModel):
    playbook_id: str
    milestone_id: str
    completed_at: AwareDatetime


class IdentityMerge(BaseModel):
    """From the previous id's partition to the new id's, keyed by the new id: what the previous id
    knew. The new id keeps its own traits and adds the others, counts the held events as its own
    (once each, by messageId) and takes the milestones done as done, without celebrating again."""

    version: SchemaVersion = VERSION
    type: Literal["identity_merge"] = "identity_merge"
    message_id: str = Field(description="The alias call's messageId: a merge is applied once.")
    from_id: str
    into_id: str
    merged_from: list[str] = Field(
        default_factory=list, description="Ids merged earlier into `from_id`: an alias cycle is broken with them."
    )
    traits: dict[str, Any] = Field(default_factory=dict)
    held_events: list[HeldEvent] = Field(default_factory=list)
    done: list[DoneMilestone] = Field(default_factory=list)
    at: AwareDatetime = Field(description="When the alias call happened.")


RelayRecord = Annotated[AccountSignal | AccountNotice | IdentityMerge, Field(discriminator="type")]
relay_record_adapter: TypeAdapter[AccountSignal | AccountNotice | IdentityMerge] = TypeAdapter(RelayRecord)
