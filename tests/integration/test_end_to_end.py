"""Product event in (plain aiokafka producer) → celebration readable over the in-app HTTP API."""

from __future__ import annotations

import httpx

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.worker import auth, prompts_of


async def test_track_event_becomes_an_in_app_celebration(worker: Worker) -> None:
    topic = worker.settings.events_topic
    await produce(
        worker.bootstrap_servers,
        topic,
        [
            (b"ana", identify("ana", {"role": "admin", "name": "Ana"})),
            (b"ana", track("ana", "Data Source Connected", {"status": "ok", "source": "Postgres"})),
        ],
    )
    prompts = await eventually(lambda: prompts_of(worker, "ana"))
    assert len(prompts) == 1
    assert prompts[0]["title"] == "You connected Postgres!"
    assert prompts[0]["body"] == "1 of 2 done. Next: Invite a teammate"
    assert prompts[0]["status"] == "pending"

    outcomes = await read_topic(
        worker.bootstrap_servers, worker.settings.outcomes_topic, until=lambda values: len(values) >= 3
    )
    kinds = sorted(o["kind"] for o in outcomes)
    assert kinds == ["delivered", "milestone_completed", "milestone_unlocked"]
    assert {o["milestone_id"] for o in outcomes if o["kind"] == "milestone_unlocked"} == {"invite_teammate"}


async def test_property_filter_and_audience_decide_what_is_celebrated(worker: Worker) -> None:
    topic = worker.settings.events_topic
    await produce(
        worker.bootstrap_servers,
        topic,
        [
            (b"bob", identify("bob", {"role": "operator"})),  # not in the admin audience
            (b"bob", track("bob", "Data Source Connected", {"status": "ok", "source": "S3"})),
            (b"cid", identify("cid", {"role": "admin"})),
            (b"cid", track("cid", "Data Source Connected", {"status": "failed", "source": "S3"})),
            (b"cid", track("cid", "Teammate Invited", {})),
        ],
    )
    cid = await eventually(lambda: prompts_of(worker, "cid"))
    assert [p["title"] for p in cid] == ["Team work!"]
    assert await prompts_of(worker, "bob") == []


async def test_seen_and_dismissed_states_are_kept(worker: Worker) -> None:
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"dee", identify("dee", {"role": "admin"})),
            (b"dee", track("dee", "Teammate Invited", {})),
        ],
    )
    [prompt] = await eventually(lambda: prompts_of(worker, "dee"))
    async with httpx.AsyncClient(base_url=worker.api_url or "") as client:
        url = f"/v1/users/dee/prompts/{prompt['delivery_id']}/status"
        dee = auth(worker, "dee")
        assert (await client.post(url, json={"status": "dismissed"}, headers=dee)).json()["status"] == "dismissed"
        # status never moves backwards
        assert (await client.post(url, json={"status": "seen"}, headers=dee)).json()["status"] == "dismissed"
        assert (
            await client.post(
                f"/v1/users/eve/prompts/{prompt['delivery_id']}/status",
                json={"status": "seen"},
                headers=auth(worker, "eve"),
            )
        ).status_code == 404
        listing = (await client.get("/v1/users/dee/prompts", headers=dee)).json()
    assert listing["unread"] == 0
    records = await read_topic(
        worker.bootstrap_servers, worker.settings.prompts_topic, until=lambda values: len(values) >= 2
    )
    assert [r["status"] for r in records] == ["pending", "dismissed"]


async def test_operators_see_throughput_lag_deliveries_and_timers_on_metrics(worker: Worker) -> None:
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"met", identify("met", {"role": "admin"})),
            (b"met", track("met", "Teammate Invited", {})),
        ],
    )
    await eventually(lambda: prompts_of(worker, "met"))

    async def scrape() -> str | None:
        async with httpx.AsyncClient(base_url=worker.api_url or "") as client:
            text = (await client.get("/metrics")).text
        return text if "nudgeflow_consumer_lag_records{" in text else None

    text = await eventually(scrape, timeout=15, interval=0.5)
    assert 'nudgeflow_events_total{result="track"}' in text
    assert 'nudgeflow_deliveries_total{channel="in_app",state="delivered"}' in text
    assert "nudgeflow_timers_armed" in text
