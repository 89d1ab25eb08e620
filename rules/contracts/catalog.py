"""Every topic's contract by name: what `nudgeflow schema <name>` prints and tests round-trip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from nudgeflow.rules.contracts import (
    accounts,
    dead_letters,
    deliveries,
    events,
    outcomes,
    preferences,
    prompts,
    relay,
    timers,
    users,
)


@dataclass(frozen=True)
class TopicContract:
    """One topic (or table changelog) and the record types it carries."""

    name: str
    title: str
    adapter: TypeAdapter[Any]
    version: int | float

    def json_schema(self) -> dict[str, Any]:
        schema = self.adapter.json_schema()
        schema["title"] = self.title
        return schema

    def parse(self, raw: bytes | str) -> Any:
        """Validate one message; raises pydantic.ValidationError with a readable reason."""
        return self.adapter.validate_json(raw)


class UnknownContract(KeyError):
    """A name that is no topic's contract; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


CONTRACTS: dict[str, TopicContract] = {
    contract.name: contract
    for contract in (
        TopicContract(
            "events",
            "Nudgeflow product event (Segment track/identify)",
            TypeAdapter(events.ProductEvent),
            events.VERSION,
        ),
        TopicContract("prompts", "Nudgeflow in-app prompt", TypeAdapter(prompts.Prompt), prompts.VERSION),
        TopicContract(
            "deliveries",
            "Nudgeflow delivery record (request, result or resume marker)",
            deliveries.delivery_record_adapter,
            deliveries.VERSION,
        ),
        TopicContract(
            "outbox", "Nudgeflow outbox table entry", TypeAdapter(deliveries.OutboxEntry), deliveries.VERSION
        ),
        TopicContract("outcomes", "Nudgeflow outcome", TypeAdapter(outcomes.Outcome), outcomes.VERSION),
        TopicContract(
            "dead_letters", "Nudgeflow dead letter", TypeAdapter(dead_letters.DeadLetter), dead_letters.VERSION
        ),
        TopicContract("timers", "Nudgeflow timer command", TypeAdapter(timers.TimerCommand), timers.VERSION),
        TopicContract(
            "preferences", "Nudgeflow user preferences", TypeAdapter(preferences.Preferences), preferences.VERSION
        ),
        TopicContract("users", "Nudgeflow users table record", TypeAdapter(users.UserRecord), users.VERSION),
        TopicContract(
            "relay",
            "Nudgeflow relay record (internal): account signal or notice, identity merge",
            relay.relay_record_adapter,
            relay.VERSION,
        ),
        TopicContract(
            "account_table", "Nudgeflow accounts table record", TypeAdapter(accounts.AccountRecord), accounts.VERSION
        ),
    )
}


def contract_for(name: str) -> TopicContract:
    """The contract called `name`; raises UnknownContract naming the valid ones."""
    try:
        return CONTRACTS[name]
    except KeyError:
        raise UnknownContract(f"no contract {name!r}: choose one of {', '.join(CONTRACTS)}") from None
