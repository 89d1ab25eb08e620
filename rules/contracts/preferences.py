"""The preferences topic: each user's notification preferences, the latest record per user.

Compacted, keyed by user id; the value is the user's whole `Preferences` (a tombstone resets
them to defaults). Written by the API, unsubscribe links, the SendGrid webhook and identify
calls with `nudgeflow_*` traits; read by every API replica and delivery outbox.

Compatibility: additive changes only within a `version`; consumers ignore unknown fields;
a breaking change bumps `version` and needs a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from nudgeflow.rules.contracts.deliveries import Channel
from nudgeflow.rules.contracts.versioning import SchemaVersion

VERSION = 1
CHANNELS: tuple[Channel, ...] = ("in_app", "email", "slack")
TRAITS = {
    "nudgeflow_unsubscribed": "unsubscribed",
    "nudgeflow_opt_out_channels": "opt_out_channels",
    "nudgeflow_opt_out_playbooks": "opt_out_playbooks",
}
"""Identify traits that set preferences, as the product's backend may send them (and the API publishes)."""
MAX_OPT_OUT_PLAYBOOKS = 1000
PlaybookId = Annotated[str, Field(min_length=1, max_length=256)]


class PreferencesUpdate(BaseModel):
    """What a user chose (the body of `PUT /v1/users/{id}/preferences`): replaces the previous choice."""

    unsubscribed: bool = Field(default=False, description="Global unsubscribe: no nudge or celebration on any channel.")
    opt_out_channels: list[Channel] = Field(
        default_factory=list, max_length=3 * len(CHANNELS), description="Channels the user turned off."
    )
    opt_out_playbooks: list[PlaybookId] = Field(
        default_factory=list, max_length=MAX_OPT_OUT_PLAYBOOKS, description="Playbook ids the user turned off."
    )

    @field_validator("opt_out_channels", "opt_out_playbooks")
    @classmethod
    def _sorted_unique(cls, values: list[Any]) -> list[Any]:
        return sorted(set(values))


class Preferences(PreferencesUpdate):
    """The stored record: the choice plus who changed it last and when."""

    version: SchemaVersion = VERSION
    user_id: str
    updated_at: AwareDatetime | None = Field(default=None, description="Unset: defaults, never changed.")
    source: str = Field(
        default="default", description="What made the last change: api, unsubscribe_link, sendgrid:bounce, ..."
    )

    @classmethod
    def default(cls, user_id: str) -> Preferences:
        return cls(user_id=user_id)

    def allows(self, channel: str, playbook_id: str | None = None) -> bool:
        """True when a message of `playbook_id` may be delivered to this user on `channel`."""
        if self.unsubscribed or channel in self.opt_out_channels:
            return False
        return playbook_id is None or playbook_id not in self.opt_out_playbooks

    def changed(self, update: PreferencesUpdate, *, source: str, at: datetime) -> Preferences:
        return Preferences(
            user_id=self.user_id,
            unsubscribed=update.unsubscribed,
            opt_out_channels=list(update.opt_out_channels),
            opt_out_playbooks=list(update.opt_out_playbooks),
            updated_at=at,
            source=source,
        )

    def choice(self) -> PreferencesUpdate:
        return PreferencesUpdate(
            unsubscribed=self.unsubscribed,
            opt_out_channels=list(self.opt_out_channels),
            opt_out_playbooks=list(self.opt_out_playbooks),
        )

    def update_from_traits(self, traits: dict[str, Any]) -> PreferencesUpdate | None:
        """The new choice an identify call's `nudgeflow_*` traits make, or None when they change nothing
        (absent, or equal to the current choice). Raises ValidationError for malformed values."""
        given = {field: traits[trait] for trait, field in TRAITS.items() if trait in traits}
        if not given:
            return None
        update = PreferencesUpdate.model_validate({**self.choice().model_dump(), **given})
        return None if update == self.choice() else update

    def traits(self) -> dict[str, Any]:
        """Identify traits published on every change, so playbook audiences and predicates can use them."""
        choice = self.choice().model_dump()
        return {trait: choice[field] for trait, field in TRAITS.items()}
