"""The ingest pre-filter: events no loaded rule reads are dropped before they reach Faust, and the
ones that matter still celebrate (a product stream where 90% of events are noise)."""

from __future__ import annotations

import json
from pathlib import Path

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce
from tests.support.worker import prompts_of

NOISE = ["Page Viewed", "Button Clicked", "Search Performed"]


async def test_noise_is_dropped_at_ingest_and_milestones_still_celebrate(worker: Worker) -> None:
    users = [f"u{i}" for i in range(10)]
    records: list[tuple[bytes, bytes]] = []
    for user in users:
        records.append((user.encode(), identify(user, {"role": "admin"})))
        records += [(user.encode(), track(user, NOISE[n % 3], {"n": n})) for n in range(18)]
        records.append((user.encode(), track(user, "Data Source Connected", {"status": "ok", "source": "S3"})))
    # Noise is judged by its type, user and name only: a broken timestamp on it costs no validation.
    broken_noise = json.loads(track("u0", "Page Viewed", {}))
    records.append((b"u0", json.dumps({**broken_noise, "timestamp": "yesterday"}).encode()))
    await produce(worker.bootstrap_servers, worker.settings.events_topic, records)

    async def everyone_celebrated() -> bool:
        return all([len(await prompts_of(worker, user)) == 1 for user in users])

    await eventually(everyone_celebrated, timeout=60)
    assert worker.ingest is not None
    await eventually(lambda: worker.ingest is not None and worker.ingest.counts.filtered == 181)
    assert worker.ingest.counts.forwarded == 20  # 10 identify + 10 milestone events: 90% of tracks dropped
    assert worker.ingest.counts.dead_lettered == 0


async def test_a_hot_reload_that_reads_a_new_event_lets_it_through(worker: Worker, rules_path: Path) -> None:
    assert worker.nudgeflow is not None and worker.ingest is not None
    assert "Report Exported" not in worker.nudgeflow.rules.engine.by_event  # no rule reads it yet
    (rules_path / "reports.yaml").write_text(
        "id: reports\nname: Reports\naudience: {role: admin}\nmilestones:\n"
        "  - id: exported\n    title: Export a report\n    when: {event: Report Exported}\n"
        "    celebrate:\n      - {channel: in_app, title: Exported!, body: Well done}\n"
    )
    worker.nudgeflow.rules.reload()
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [(b"rae", identify("rae", {"role": "admin"})), (b"rae", track("rae", "Report Exported", {}))],
    )
    prompts = await eventually(lambda: prompts_of(worker, "rae"), timeout=60)
    assert [p["title"] for p in prompts] == ["Exported!"]
