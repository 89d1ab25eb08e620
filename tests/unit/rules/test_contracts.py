"""Topic contracts: every topic has its record types, a schema that accepts what they accept, and a version."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import BaseModel, ValidationError

from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.topics import topic_specs
from nudgeflow.rules.contracts.catalog import CONTRACTS, UnknownContract, contract_for
from nudgeflow.rules.contracts.deliveries import (
    DeliveryRequest,
    DeliveryResult,
    ReplayRequest,
    ResumeMarker,
    RetryScheduled,
    parse_delivery_record,
)

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "rules" / "contracts"
AT = "2026-03-02T09:30:00+00:00"
REQUEST = {
    "type": "delivery",
    "delivery_id": "d-1",
    "kind": "celebration",
    "channel": "email",
    "user_id": "ana",
    "playbook_id": "activation",
    "playbook_version": "3",
    "milestone_id": "first_report",
    "step": 0,
    "title": "Your first report!",
    "body": "Nice work, Ana.",
    "send_at": AT,
    "data": {"cta_url": "https://app.example/reports"},
}
PROGRESS = {
    "user_id": "ana",
    "first_seen_at": AT,
    "traits": {"role": "admin"},
    "timezone": "Europe/Paris",
    "playbooks": {
        "activation": {
            "playbook_version": "3",
            "entered_at": AT,
            "milestones": {"first_report": {"completed_at": AT, "matching_events": 1, "celebrated": True}},
        }
    },
    "timers": {
        "t-1": {"playbook_id": "activation", "milestone_id": "invite", "stall_key": "s", "step": 1, "due_at": AT}
    },
}
# One example per kind each topic carries, as a producer would publish it.
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "events": [
        {
            "type": "track",
            "event": "Report Created",
            "userId": "ana",
            "messageId": "m-1",
            "timestamp": AT,
            "properties": {"rows": 3},
            "context": {"timezone": "Europe/Paris"},
            "version": 2,
        },
        {"type": "identify", "userId": "ana", "messageId": "m-2", "timestamp": AT, "traits": {"plan": "pro"}},
        {"type": "alias", "previousId": "anon-7", "userId": "ana", "messageId": "m-3", "timestamp": AT},
    ],
    "prompts": [
        {
            "delivery_id": "d-1",
            "user_id": "ana",
            "kind": "nudge",
            "title": "Invite a teammate",
            "body": "Reports are better together.",
            "playbook_id": "activation",
            "playbook_version": "3",
            "milestone_id": "invite",
            "created_at": AT,
            "status": "seen",
            "status_changed_at": AT,
        }
    ],
    "deliveries": [
        REQUEST,
        {
            "type": "delivery_retry",
            "delivery_id": "d-1",
            "user_id": "ana",
            "attempts": 1,
            "next_attempt_at": AT,
            "reason": "SendGrid answered 503",
        },
        {"type": "delivery_result", "delivery_id": "d-1", "user_id": "ana", "status": "sent", "attempts": 2},
        {"type": "delivery_replay", "delivery_id": "d-1", "user_id": "ana"},
        {"type": "resume_marker", "token": "8f2c"},
    ],
    "outbox": [{"status": "in_flight", "partition": 3, "request": REQUEST}, {"status": "exhausted", "partition": 3}],
    "outcomes": [
        {
            "outcome_id": "delivered:d-1:email",
            "kind": "delivered",
            "user_id": "ana",
            "occurred_at": AT,
            "recorded_at": AT,
            "playbook_id": "activation",
            "delivery_id": "d-1",
            "channel": "email",
            "attributes": {"attempts": 2},
        }
    ],
    "dead_letters": [
        {
            "reason": "not JSON",
            "error_type": "not_json",
            "source_topic": "nudgeflow.events",
            "source_partition": 1,
            "source_offset": 42,
            "key_base64": "YW5h",
            "value_base64": "e30x",
            "value_preview": "{}1",
            "rejected_at": AT,
        }
    ],
    "timers": [{"user_id": "ana", "timer_id": "send:d-1", "due_at": AT}],
    "preferences": [
        {
            "user_id": "ana",
            "unsubscribed": False,
            "opt_out_channels": ["slack"],
            "opt_out_playbooks": [],
            "updated_at": AT,
            "source": "api",
        }
    ],
    "users": [
        {
            "progress": PROGRESS,
            "recent_message_ids": ["m-1", "m-2"],
            "deferred": {"d-1": REQUEST},
            "partition": 5,
        }
    ],
    "relay": [
        {
            "type": "identity_merge",
            "message_id": "a-1",
            "from_id": "anon-7",
            "into_id": "ana",
            "traits": {"plan": "pro"},
            "held_events": [{"event": "Report Created", "timestamp": AT, "message_id": "m-1"}],
            "done": [{"playbook_id": "team", "milestone_id": "invite", "completed_at": AT}],
            "at": AT,
        },
        {
            "type": "account_signal",
            "account_id": "acme",
            "user_id": "ana",
            "playbook_id": "team",
            "done": ["invite"],
            "at": AT,
        },
        {
            "type": "account_signal",
            "account_id": "acme",
            "user_id": "ana",
            "playbook_id": "team",
            "milestone_id": "three_sources",
            "occurrence": "m-1",
            "at": AT,
        },
        {
            "type": "account_notice",
            "account_id": "acme",
            "user_id": "bo",
            "playbook_id": "team",
            "milestone_id": "invite",
            "reached_at": AT,
            "announce": False,
        },
    ],
    "account_table": [
        {
            "account_id": "acme",
            "members": {"team": ["ana", "bo"]},
            "milestones": {"team/invite": {"members_done": ["ana"], "reached_at": AT, "reached_by": "ana"}},
        }
    ],
}


def records(name: str) -> list[BaseModel]:
    return [CONTRACTS[name].parse(json.dumps(example)) for example in EXAMPLES[name]]


def test_every_topic_in_settings_and_topics_has_a_contract() -> None:
    settings = Settings()
    specs = topic_specs(settings)
    named = {getattr(settings, name) for name in Settings.model_fields if name.endswith("_topic")}
    derived = {settings.user_events_topic, settings.relay_topic}  # names derived from others
    topics_in_settings = (named - {None}) | derived
    assert topics_in_settings == {spec.name for spec in specs}
    for spec in specs:
        assert spec.contract in CONTRACTS, f"{spec.name} names no contract"
    assert {spec.contract for spec in specs} | {"users", "outbox", "account_table"} == set(CONTRACTS)
    assert set(EXAMPLES) == set(CONTRACTS)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_example_records_round_trip(name: str) -> None:
    for record in records(name):
        again = CONTRACTS[name].parse(record.model_dump_json())
        assert again == record
        assert type(again) is type(record)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_every_record_has_a_version_defaulting_to_the_current_one(name: str) -> None:
    contract = CONTRACTS[name]
    for record in records(name):
        assert "version" in type(record).model_fields
        assert record.model_dump()["version"] == contract.version
    schema = contract.json_schema()
    refs = [ref["$ref"].rsplit("/", 1)[-1] for ref in schema.get("oneOf", [])]
    kinds = [schema["$defs"][ref] for ref in refs] if refs else [schema]
    for kind in kinds:
        assert "version" in kind["properties"], kind["title"]


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_printed_schema_accepts_the_examples_and_rejects_a_record_missing_a_required_field(name: str) -> None:
    schema = CONTRACTS[name].json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for example in EXAMPLES[name]:
        validator.validate(example)
        required = next(field for field in _required(schema, example) if field not in ("type",))
        broken = {key: value for key, value in example.items() if key != required}
        assert not validator.is_valid(broken)
        with pytest.raises(ValidationError):
            CONTRACTS[name].parse(json.dumps(broken))


def _required(schema: dict[str, Any], example: dict[str, Any]) -> list[str]:
    if "required" in schema:
        return list(schema["required"])
    kind = schema["discriminator"]["mapping"][example["type"]].rsplit("/", 1)[-1]
    return list(schema["$defs"][kind]["required"])


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_consumers_ignore_fields_added_by_a_newer_producer(name: str) -> None:
    for example, record in zip(EXAMPLES[name], records(name), strict=True):
        newer = CONTRACTS[name].parse(json.dumps({**example, "added_in_a_later_release": [1, 2]}))
        assert newer.model_dump(exclude={"added_in_a_later_release"}) == record.model_dump()


def test_deliveries_topic_parses_each_kind_by_its_type() -> None:
    kinds = [type(parse_delivery_record(json.dumps(example))) for example in EXAMPLES["deliveries"]]
    assert kinds == [DeliveryRequest, RetryScheduled, DeliveryResult, ReplayRequest, ResumeMarker]
    with pytest.raises(ValidationError, match="delivery_result"):
        parse_delivery_record(json.dumps({"type": "delivery_cancel", "delivery_id": "d-1"}))


def test_unknown_contract_names_the_valid_ones() -> None:
    with pytest.raises(UnknownContract) as raised:
        contract_for("deliverys")
    assert "deliverys" in str(raised.value)
    assert all(name in str(raised.value) for name in CONTRACTS)


def test_contracts_import_nothing_else_of_nudgeflow() -> None:
    for path in CONTRACTS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nudgeflow"):
                assert node.module.startswith("nudgeflow.rules.contracts"), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(alias.name.startswith("nudgeflow") for alias in node.names), path.name
