"""Messages in the user's language: a message's `translations`, picked by the user's `locale` trait.

The tag is matched as people write it (`de-AT`, `de_AT`, `DE`): the exact tag first, then its
language (`de-AT` → `de`), then the message's own text. A translation replaces only the fields it
gives (title, body, links, image), like a variant's override.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nudgeflow.rules.experiments import OVERRIDABLE
from nudgeflow.rules.schema import Message

LOCALE_TRAIT = "locale"


def normalized(tag: str) -> str:
    """`de_AT` and `DE-at` are `de-at`: tags compare without case and with either separator."""
    return tag.strip().replace("_", "-").lower()


def pick_locale(available: Iterable[str], wanted: Any) -> str | None:
    """The translation to use for a user whose `locale` trait is `wanted` (None: the message's own text)."""
    if not isinstance(wanted, str) or not wanted.strip():
        return None
    by_tag = {normalized(tag): tag for tag in available}
    tag = normalized(wanted)
    if tag in by_tag:
        return by_tag[tag]
    language = tag.split("-", 1)[0]
    return by_tag.get(language)


def localized(message: Message, traits: dict[str, Any]) -> tuple[Message, str | None]:
    """The message as the user should read it, and the translation's tag (None: the default text)."""
    if not message.translations:
        return message, None
    tag = pick_locale(message.translations, traits.get(LOCALE_TRAIT))
    if tag is None:
        return message, None
    override = message.translations[tag]
    update = {k: v for k in OVERRIDABLE if (v := getattr(override, k)) is not None}
    return message.model_copy(update=update), tag
