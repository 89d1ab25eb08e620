"""Synthetic but realistic inputs: Segment events for the example playbooks, generated rulesets."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

# Milestone events of the example playbooks (playbooks/*.yaml), per audience role, with properties
# that satisfy their `where` clauses.
ROLE_EVENTS: dict[str, list[tuple[str, dict[str, object]]]] = {
    "admin": [
        ("Data Source Connected", {"status": "ok", "source_name": "Postgres"}),
        ("Teammate Invited", {"invitee_email": "teammate@example.com"}),
        ("SSO Configured", {"test_login": True, "provider": "Okta"}),
        ("Permission Group Created", {"name": "analysts"}),
    ],
    "power_user": [
        ("Report Created", {"report_name": "Weekly signups", "charts": 2}),
        ("Automation Created", {"trigger": "schedule", "enabled": True}),
        ("Report Shared", {"recipients": 3}),
    ],
    "operator": [
        ("Dashboard Viewed", {"dashboard": "Ops", "has_data": True}),
        ("Alert Configured", {"metric": "latency", "destination": "slack"}),
        ("Incident Resolved", {"severity": "sev2", "minutes_to_resolve": 42}),
    ],
    "viewer": [],  # in no playbook's audience
}
NOISE_EVENTS: list[tuple[str, dict[str, object]]] = [
    ("Page Viewed", {"path": "/home"}),
    ("Button Clicked", {"button": "save"}),
    ("Search Performed", {"query": "revenue"}),
    ("Session Started", {}),
]
ROLES = list(ROLE_EVENTS)


def identify(user: str, role: str, at: datetime) -> dict[str, object]:
    return {
        "type": "identify",
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "timestamp": at.isoformat(),
        "traits": {"role": role, "first_name": user.title(), "company": "Acme"},
        "context": {"timezone": "UTC"},
    }


def track(user: str, event: str, properties: dict[str, object], at: datetime) -> dict[str, object]:
    return {
        "type": "track",
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "timestamp": at.isoformat(),
        "event": event,
        "properties": properties,
    }


def segment_events(
    count: int, *, users: int | None = None, relevant: float = 0.4, seed: int = 7
) -> list[tuple[bytes, bytes]]:
    """`count` (key, value) records: each user is identified first, then tracks events of which
    about `relevant` are milestone events of their role and the rest product noise."""
    rng = random.Random(seed)
    users = users or max(1, count // 10)
    start = datetime.now(UTC) - timedelta(hours=1)
    roles = {f"user-{i:06d}": ROLES[i % len(ROLES)] for i in range(users)}
    identified: set[str] = set()
    records: list[tuple[bytes, bytes]] = []
    names = list(roles)
    for i in range(count):
        user = names[rng.randrange(users)] if len(identified) == users else names[len(identified)]
        at = start + timedelta(milliseconds=i)
        if user not in identified:
            identified.add(user)
            document = identify(user, roles[user], at)
        else:
            choices = ROLE_EVENTS[roles[user]]
            name, properties = rng.choice(choices) if choices and rng.random() < relevant else rng.choice(NOISE_EVENTS)
            document = track(user, name, properties, at)
        records.append((user.encode(), json.dumps(document).encode()))
    return records


def probe_pair(user: str, at: datetime) -> tuple[bytes, bytes]:
    """identify + the event that completes an operator's first milestone (an in-app celebration)."""
    return (
        json.dumps(identify(user, "operator", at)).encode(),
        json.dumps(track(user, "Dashboard Viewed", {"dashboard": "Ops", "has_data": True}, at)).encode(),
    )


def generated_playbooks(milestones: int, per_playbook: int = 100) -> list[dict[str, object]]:
    """Playbooks with `milestones` milestones in total, each on its own event name, all with
    an in-app celebration and an audience every `role: admin` user matches."""
    books: list[dict[str, object]] = []
    for p in range(max(1, -(-milestones // per_playbook))):
        size = min(per_playbook, milestones - p * per_playbook)
        books.append(
            {
                "id": f"gen_{p:04d}",
                "name": f"Generated {p}",
                "audience": {"role": "admin"},
                "milestones": [
                    {
                        "id": f"m_{p:04d}_{m:03d}",
                        "title": f"Milestone {m}",
                        "when": {"event": f"Event {p:04d}-{m:03d}"},
                        "celebrate": [
                            {
                                "channel": "in_app",
                                "title": "Done {{ milestone.title }}",
                                "body": "{{ progress.done }} of {{ progress.total }}",
                            }
                        ],
                    }
                    for m in range(size)
                ],
            }
        )
    return books


def write_playbooks(folder: Path, books: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for book in books:
        (folder / f"{book['id']}.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    return folder


def engine_events(
    books: list[dict[str, object]], count: int, *, relevant: float = 0.5, seed: int = 11
) -> Iterator[tuple[str, dict[str, object]]]:
    """(event name, properties) drawn from the generated milestones' events plus noise."""
    rng = random.Random(seed)
    names = [m["when"]["event"] for b in books for m in b["milestones"]]  # type: ignore[attr-defined]
    for _ in range(count):
        if rng.random() < relevant:
            yield rng.choice(names), {}
        else:
            yield rng.choice(NOISE_EVENTS)


def live_events(users: int, *, relevant: float = 0.4, seed: int = 5) -> Iterator[tuple[bytes, bytes]]:
    """An endless stream over a fixed population of `users` (identified on first sight), for soaks:
    state stops growing once every user is known, so memory growth after warm-up is not new users."""
    rng = random.Random(seed)
    identified: set[int] = set()
    n = 0
    while True:
        index = n % users if len(identified) < users else rng.randrange(users)
        n += 1
        user, role = f"soak-{index:07d}", ROLES[index % len(ROLES)]
        at = datetime.now(UTC)
        if index not in identified:
            identified.add(index)
            document = identify(user, role, at)
        else:
            choices = ROLE_EVENTS[role]
            pick: tuple[str, dict[str, object]] = (
                rng.choice(choices) if choices and rng.random() < relevant else rng.choice(NOISE_EVENTS)
            )
            document = track(user, *pick, at)
        yield user.encode(), json.dumps(document).encode()


def read_share(records: list[tuple[bytes, bytes]]) -> float:
    """Share of records some rule reads: identifies, and milestone events of the example playbooks."""
    milestones = {name for events in ROLE_EVENTS.values() for name, _ in events}
    read = 0
    for _, value in records:
        document = json.loads(value)
        read += document["type"] == "identify" or document.get("event") in milestones
    return read / len(records) if records else 0.0


def noisy_events(count: int, *, read: float = 0.1, seed: int = 13) -> list[tuple[bytes, bytes]]:
    """`count` records of which about `read` are read by a rule (identifies + milestone events) and the
    rest product noise no rule reads. Users send ~100 events each, so identifies are ~1%."""
    users = max(1, count // 100)
    identify_share = users / count
    listening_roles = sum(1 for events in ROLE_EVENTS.values() if events) / len(ROLE_EVENTS)
    relevant = max(0.0, (read - identify_share) / ((1 - identify_share) * listening_roles))
    return segment_events(count, users=users, relevant=relevant, seed=seed)
