"""The inbox lives with each user's partition: three worker processes, each holding some users' inboxes
in RocksDB; any worker answers any user's inbox (the same answer, read where the user lives), a
status change made through the other worker shows in the very next read, a browser connected to
the worker that does not hold its user still gets prompts and checklist changes live and resumes on
the other worker with
its Last-Event-ID, and after one of them is killed -9 the other two serve every inbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.broker.partitioning import partition_for
from tests.support.events import identify, track
from tests.support.inapp import auth_headers
from tests.support.kafka import eventually, produce
from tests.support.processes import WorkerProcess

pytestmark = pytest.mark.timeout(180)
SERVED_BY = "x-nudgeflow-served-by"


async def inbox(api_url: str, user: str, *, retry_later: bool = False) -> tuple[list[dict[str, Any]], str]:
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        response = await client.get(f"/v1/users/{user}/prompts", headers=auth_headers(user))
    if retry_later and response.status_code == 503:
        return [], ""
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()["prompts"], response.headers[SERVED_BY]


def on_every_partition(partitions: int, *, per_partition: int) -> list[str]:
    """User ids that put `per_partition` users on each partition, so every worker holds some."""
    chosen: dict[int, list[str]] = {p: [] for p in range(partitions)}
    n = 0
    while any(len(users) < per_partition for users in chosen.values()):
        user = f"inbox-{n:03d}"
        users = chosen[partition_for(user.encode(), partitions)]
        if len(users) < per_partition:
            users.append(user)
        n += 1
    return [user for users in chosen.values() for user in users]


async def connected(records: list[tuple[bytes, bytes]], users: list[str], bootstrap: str, topic: str) -> None:
    for user in users:
        records += [
            (user.encode(), identify(user, {"role": "admin"})),
            (user.encode(), track(user, "Data Source Connected", {"status": "ok", "source": "Postgres"})),
        ]
    await produce(bootstrap, topic, records)


async def test_each_worker_holds_its_users_inboxes_and_any_worker_serves_any_user(  # type: ignore[no-untyped-def]
    make_settings, rules_path: Path, tmp_path: Path
) -> None:
    base = make_settings(rules_path, topic_partitions=6)  # 2 each: with 4, Faust's sticky assignor may leave one idle
    assert base.kafka_bootstrap_servers
    workers = [
        WorkerProcess(base.model_copy(update={"api_port": free_port()}), tmp_path / f"worker-{n}.log") for n in range(3)
    ]
    users = on_every_partition(base.topic_partitions, per_partition=2)
    try:
        for worker in workers:
            await worker.start(timeout=60)
        await connected([], users, base.kafka_bootstrap_servers, base.events_topic)

        async def everyone_celebrated() -> bool:
            answers = [await inbox(workers[0].api_url, user) for user in users]
            return all(len(prompts) == 1 for prompts, _ in answers)

        await eventually(everyone_celebrated, timeout=60, interval=0.5)
        holder: dict[str, str] = {}
        for user in users:
            answers = [await inbox(w.api_url, user) for w in workers]
            assert len({str(prompts) for prompts, _ in answers}) == 1, "one inbox per user, from any worker"
            assert len({by for _, by in answers}) == 1, "read where it lives"
            holder[user] = answers[0][1]
        assert set(holder.values()) == {w.api_url for w in workers}, f"each worker holds some inboxes: {holder}"

        # A status change through the worker that does not hold the user shows in the next read, anywhere.
        user = users[0]
        other = next(w.api_url for w in workers if w.api_url != holder[user])
        [prompt], _ = await inbox(other, user)
        async with httpx.AsyncClient(base_url=other, timeout=10) as client:
            url = f"/v1/users/{user}/prompts/{prompt['delivery_id']}/status"
            answer = await client.post(url, json={"status": "dismissed"}, headers=auth_headers(user))
            assert answer.status_code == 200 and answer.json()["status"] == "dismissed"
            again = await client.post(url, json={"status": "seen"}, headers=auth_headers(user))
            assert again.json()["status"] == "dismissed", "a status never moves back"
        for worker in workers:
            [read_back], _ = await inbox(worker.api_url, user)
            assert read_back["status"] == "dismissed"

        # Snooze and un-snooze through a worker that does not hold the user, too.
        async with httpx.AsyncClient(base_url=other, timeout=10) as client:
            url = f"/v1/users/{user}/prompts/{prompt['delivery_id']}/snooze"
            later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            assert (await client.post(url, json={"until": later}, headers=auth_headers(user))).status_code == 200
            assert (await inbox(holder[user], user))[0] == [], "snoozed: out of the inbox view"
            back = await client.post(url, json={"until": None}, headers=auth_headers(user))
            assert back.status_code == 200 and back.json()["snoozed_until"] is None
            assert len((await inbox(holder[user], user))[0]) == 1

        # Live: a stream on the worker that does not hold the user hears of the user's new prompt.
        async with httpx.AsyncClient(base_url=other, timeout=30) as client:
            url = f"/v1/users/{user}/prompts/stream"
            async with client.stream("GET", url, headers=auth_headers(user)) as stream:
                lines = stream.aiter_lines()
                async for line in lines:
                    if line.startswith("data:"):
                        assert len(json.loads(line.removeprefix("data:"))["prompts"]) == 1, "the snapshot first"
                        break
                await produce(
                    base.kafka_bootstrap_servers,
                    base.events_topic,
                    [(user.encode(), track(user, "Teammate Invited", {}))],
                )
                last_id, kind, live, checklist = "", "", None, None
                async for line in lines:
                    if line.startswith("id:"):
                        last_id = line.removeprefix("id:").strip()
                    kind = line.removeprefix("event:").strip() if line.startswith("event:") else kind
                    if line.startswith("data:") and kind == "prompt":
                        live = json.loads(line.removeprefix("data:"))
                    if line.startswith("data:") and kind == "progress":
                        checklist = json.loads(line.removeprefix("data:"))
                        steps = {s["milestone_id"]: s["state"] for pb in checklist["playbooks"] for s in pb["steps"]}
                        if steps.get("invite_teammate") != "done":
                            checklist = None  # an earlier change of the user's record
                    if live is not None and checklist is not None:
                        break
                assert live["change"] == "created" and live["prompt"]["title"] == "Team work!"
                assert live["unread"] == 1, "the dismissed one is read; the new one is not"
                assert checklist["user_id"] == user, "the checklist, pushed on the stream as it changes"

        # The browser goes away; a prompt arrives meanwhile; it reconnects to the OTHER worker with the
        # last id it saw: it gets just what it missed, no snapshot (ids are changelog positions).
        [invited] = [p for p in (await inbox(other, user))[0] if p["title"] == "Team work!"]
        async with httpx.AsyncClient(base_url=other, timeout=10) as client:
            url = f"/v1/users/{user}/prompts/{invited['delivery_id']}/status"
            assert (await client.post(url, json={"status": "seen"}, headers=auth_headers(user))).status_code == 200
        async with httpx.AsyncClient(base_url=holder[user], timeout=30) as client:
            headers = {**auth_headers(user), "Last-Event-ID": last_id}
            async with client.stream("GET", f"/v1/users/{user}/prompts/stream", headers=headers) as stream:
                events = []
                async for line in stream.aiter_lines():
                    if line.startswith("event:"):
                        events.append(line.removeprefix("event:").strip())
                    if line.startswith("data:"):
                        missed = json.loads(line.removeprefix("data:"))
                        break
        assert events == ["prompt"], "a resume, not a snapshot"
        assert (missed["change"], missed["prompt"]["status"], missed["unread"]) == ("updated", "seen", 0)

        # One worker is killed: the other two serve every inbox, each from the worker now holding the user.
        doomed = next(w for w in workers if w.api_url == holder[users[1]])
        doomed.kill()
        survivors = [w.api_url for w in workers if w is not doomed]

        async def survivors_serve_all() -> bool:
            answers = [await inbox(url, u, retry_later=True) for url in survivors for u in users]
            return all(len(prompts) >= 1 and by in survivors for prompts, by in answers)

        await eventually(survivors_serve_all, timeout=60, interval=0.5)
    finally:
        for worker in workers:
            worker.stop()
