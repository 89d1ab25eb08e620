"""The events topic (inbound): Segment `track`, `identify`, `page`, `screen`, `group`, `alias` calls, keyed by user.

Platform teams publish these with any Kafka client; the JSON Schema printed by
`nudgeflow schema events` is generated from these models, so the two never drift.
The two kinds are told apart by `type`.

Compatibility: this contract is the Segment Spec, so `version` is Segment's own common
field (the Tracking API version, 2 today, set by Segment); any number is accepted. Changes
on our side are additive only (Nudgeflow reads a further field); unknown fields are kept
and ignored; a breaking change would need a new topic or a dual-read period
(docs/contracts.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from nudgeflow.rules.contracts.timezones import IanaTimezone

VERSION = 2


class EventContext(BaseModel):
    """Segment's `context` object; only the fields Nudgeflow reads are typed."""

    model_config = ConfigDict(extra="allow")

    timezone: IanaTimezone | None = Field(default=None, description="IANA time zone of the user, e.g. 'Europe/Paris'.")


class _SegmentCall(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    messageId: str = Field(min_length=1, max_length=256, description="Unique id; duplicates are processed once.")
    userId: str = Field(min_length=1, max_length=256, description="The user this event is about; also the Kafka key.")
    timestamp: AwareDatetime = Field(description="When it happened (ISO 8601 with offset).")
    context: EventContext = Field(default_factory=EventContext)
    version: int | float = Field(
        default=VERSION, description="Segment Tracking API version (Segment's common field); any number is accepted."
    )

    @property
    def user_id(self) -> str:
        return self.userId

    @property
    def owner(self) -> str:
        """Whose partition the call is processed on: the user's (an alias: the previous id's)."""
        return self.userId

    @property
    def message_id(self) -> str:
        return self.messageId


class TrackEvent(_SegmentCall):
    """A user did something: `event` names the action, `properties` describe it."""

    type: Literal["track"]
    event: str = Field(min_length=1, max_length=256)
    properties: dict[str, Any] = Field(default_factory=dict)


class IdentifyEvent(_SegmentCall):
    """Who the user is: `traits` such as role, plan, email, timezone, slack_user_id."""

    type: Literal["identify"]
    traits: dict[str, Any] = Field(default_factory=dict)


PAGE_VIEWED, SCREEN_VIEWED = "Page Viewed", "Screen Viewed"


class PageEvent(_SegmentCall):
    """A page (web) or screen (mobile) view. Read as the track event `Page Viewed` / `Screen Viewed`
    with the page's `name` as the property `page` (and `category`), so a milestone can wait for one:
    `when: {event: Page Viewed, where: {page: Billing}}`."""

    type: Literal["page", "screen"]
    name: str | None = Field(default=None, max_length=256)
    category: str | None = Field(default=None, max_length=256)
    properties: dict[str, Any] = Field(default_factory=dict)

    def as_track(self) -> TrackEvent:
        named = {k: v for k, v in (("page", self.name), ("category", self.category)) if v is not None}
        extra = self.model_extra or {}
        return TrackEvent(
            type="track",
            event=PAGE_VIEWED if self.type == "page" else SCREEN_VIEWED,
            properties={**self.properties, **named},
            messageId=self.messageId,
            userId=self.userId,
            timestamp=self.timestamp,
            context=self.context,
            version=self.version,
            **extra,
        )


ACCOUNT_ID, ACCOUNT = "account_id", "account"


class GroupEvent(_SegmentCall):
    """The user belongs to an account (Segment's group: a company, workspace or team). Read as an
    identify of two traits: `account_id` (the `groupId`) and `account` (the group's traits plus `id`),
    so audiences can match `account_id`, templates read `{{ user.account.name }}`, and a message
    `to: csm` finds the account's `csm_email` / `csm_slack_user_id` when the user has none. A later
    group call replaces both."""

    type: Literal["group"]
    groupId: str = Field(min_length=1, max_length=256, description="The account's id.")
    traits: dict[str, Any] = Field(default_factory=dict, description="The account's traits: name, plan, csm_email…")

    def as_identify(self) -> IdentifyEvent:
        extra = self.model_extra or {}
        return IdentifyEvent(
            type="identify",
            traits={ACCOUNT_ID: self.groupId, ACCOUNT: {**self.traits, "id": self.groupId}},
            messageId=self.messageId,
            userId=self.userId,
            timestamp=self.timestamp,
            context=self.context,
            version=self.version,
            **extra,
        )


class AliasEvent(_SegmentCall):
    """Two ids are one person (Segment's alias): `previousId` (an old or anonymous id) becomes
    `userId`. Processed on the previous id's partition, which hands what it knows to the new id
    (traits the new id lacks, held events, milestones done) and forwards its later events there."""

    type: Literal["alias"]
    previousId: str = Field(min_length=1, max_length=256, description="The id that becomes `userId`.")

    @property
    def owner(self) -> str:
        return self.previousId


ProductEvent = Annotated[TrackEvent | IdentifyEvent | PageEvent | GroupEvent | AliasEvent, Field(discriminator="type")]
_product_event_adapter: TypeAdapter[TrackEvent | IdentifyEvent | PageEvent | GroupEvent | AliasEvent] = TypeAdapter(
    ProductEvent
)
SEGMENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")


def parse_product_event(raw: bytes | str) -> TrackEvent | IdentifyEvent | AliasEvent:
    """Validate one JSON message; raises pydantic.ValidationError with a readable reason. Page and
    screen calls come back as the track events they are read as, group calls as the identify."""
    event = _product_event_adapter.validate_json(raw)
    if isinstance(event, PageEvent):
        return event.as_track()
    return event.as_identify() if isinstance(event, GroupEvent) else event


def product_event_json_schema() -> dict[str, Any]:
    """JSON Schema of the inbound contract, for `nudgeflow schema events`."""
    schema = _product_event_adapter.json_schema()
    schema["title"] = "Nudgeflow product event (Segment track/identify/page/screen/group)"
    return schema


def event_time(event: TrackEvent | IdentifyEvent) -> datetime:
    return event.timestamp
