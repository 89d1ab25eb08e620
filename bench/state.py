"""(g) What a tracked user costs: memory per user in the worker, and restart time to ready.

Memory: the example playbooks' engine runs over identify + milestone events for N users, and the
records are kept as the memory store keeps them (JSON-ready dicts); a parsed record's size is measured apart.
Restart (bench/restart.py): N user records are written to the table's changelog, then a worker
restores them on RocksDB and restarts on its local state.
"""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.restart import RestartCosts, restart_costs
from bench.workload import ROLE_EVENTS, ROLES
from nudgeflow.rules import Engine, load_ruleset
from nudgeflow.rules.contracts.events import parse_product_event
from nudgeflow.rules.contracts.users import UserRecord

PARTITIONS = 8


@dataclass
class StateCosts:
    users: int
    table_bytes_per_user: float
    cache_bytes_per_user: float
    record_json_bytes: float


def _records(users: int, rules_path: Path) -> list[tuple[str, UserRecord]]:
    """Each user identified, then two milestone events of their role (a typical onboarding-in-progress)."""
    engine = Engine(load_ruleset(rules_path))
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    out = []
    for n in range(users):
        user, role = f"user-{n}", ROLES[n % len(ROLES)]
        record = UserRecord.new(user)
        calls: list[dict[str, Any]] = [{"type": "identify", "traits": {"role": role, "first_name": "Ana"}}]
        calls += [{"type": "track", "event": name, "properties": props} for name, props in ROLE_EVENTS[role][:2]]
        for i, call in enumerate(calls):
            event = parse_product_event(
                json.dumps(
                    {
                        **call,
                        "messageId": f"{user}-{i}",
                        "userId": user,
                        "timestamp": (at + timedelta(minutes=i)).isoformat(),
                    }
                )
            )
            result = engine.on_event(record.progress, event, at)
            record = record.model_copy(
                update={
                    "progress": result.progress,
                    "recent_message_ids": record.remembering(event.messageId, 1000),
                    "partition": n % PARTITIONS,
                }
            )
        out.append((user, record))
    return out


def _memory(records: list[tuple[str, UserRecord]]) -> tuple[float, float, float]:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    table = {user: record.model_dump(mode="json") for user, record in records}
    after_table = tracemalloc.get_traced_memory()[0]
    parsed = {user: record.model_copy(deep=True) for user, record in records}
    after_cache = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del parsed  # measured while alive
    size = sum(len(json.dumps(v)) for v in table.values()) / len(records)
    return (after_table - base) / len(records), (after_cache - after_table) / len(records), size


def _changelog(records: list[tuple[str, UserRecord]], count: int) -> list[tuple[bytes, bytes, int]]:
    """`count` changelog records (key, value, partition) shaped like the real ones: the real records
    repeated with new user ids, so a million users don't need a million engine runs."""
    templates = [(user, record.model_dump_json(), record.partition or 0) for user, record in records]
    out = []
    for n in range(count):
        user, text, _ = templates[n % len(templates)]
        fresh = f"restart-{n}"
        out.append((json.dumps(fresh).encode(), text.replace(f'"{user}', f'"{fresh}').encode(), n % PARTITIONS))
    return out


def state_costs(
    bootstrap: str, users: int, restart_users: int, rules_path: Path, scratch: Path, *, profile: bool = False
) -> tuple[StateCosts, RestartCosts]:
    """Memory of `users` records as the memory store keeps them; then restore and restart with
    `restart_users` records on RocksDB (bench/restart.py)."""
    records = _records(users, rules_path)
    table, cache, size = _memory(records)
    changelog = _changelog(records, restart_users)
    del records
    restart = restart_costs(bootstrap, changelog, scratch, profile=profile)
    memory = StateCosts(users=users, table_bytes_per_user=table, cache_bytes_per_user=cache, record_json_bytes=size)
    return memory, restart


if __name__ == "__main__":
    import sys
    import tempfile

    from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker

    users = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    restart_users = int(sys.argv[2]) if len(sys.argv) > 2 else users
    with EmbeddedBroker() as tansu, tempfile.TemporaryDirectory() as tmp:
        print(state_costs(tansu.bootstrap_servers, users, restart_users, Path("playbooks"), Path(tmp)))
