"""Segment calls as the product's backend produces them: raw JSON bytes for the events topic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime


def track(user: str, event: str, properties: dict[str, object], message_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "type": "track",
            "messageId": message_id or str(uuid.uuid4()),
            "userId": user,
            "event": event,
            "properties": properties,
            "timestamp": datetime.now(UTC).isoformat(),
        }
    ).encode()


def identify(user: str, traits: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "type": "identify",
            "messageId": str(uuid.uuid4()),
            "userId": user,
            "traits": traits,
            "timestamp": datetime.now(UTC).isoformat(),
            "context": {"timezone": "Europe/Paris"},
        }
    ).encode()


def page(user: str, name: str, kind: str = "page", **fields: object) -> bytes:
    """A Segment `page` (or, with kind="screen", `screen`) call."""
    document = {
        "type": kind,
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "name": name,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return json.dumps(document | fields).encode()


def group(user: str, group_id: str, traits: dict[str, object]) -> bytes:
    """A Segment group call: the user belongs to the account `group_id`."""
    return json.dumps(
        {
            "type": "group",
            "messageId": str(uuid.uuid4()),
            "userId": user,
            "groupId": group_id,
            "traits": traits,
            "timestamp": datetime.now(UTC).isoformat(),
        }
    ).encode()


def alias(previous: str, user: str) -> bytes:
    """A Segment alias call: `previous` (an old or anonymous id) is `user` from now on."""
    return json.dumps(
        {
            "type": "alias",
            "messageId": str(uuid.uuid4()),
            "previousId": previous,
            "userId": user,
            "timestamp": datetime.now(UTC).isoformat(),
        }
    ).encode()
