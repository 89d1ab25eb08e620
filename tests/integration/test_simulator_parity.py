"""The simulator and the live worker run the same engine: one scenario, the same deliveries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.simulate import simulate
from nudgeflow.rules import load_ruleset
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import parse_product_event
from tests.support.events import identify, track
from tests.support.kafka import produce, read_topic
from tests.support.playbooks import stall_rules


async def test_live_worker_delivers_what_the_simulator_predicts(make_settings, tmp_path: Path) -> None:
    rules = stall_rules(tmp_path, "5s")  # above the worst backlog of a loaded CI machine (architecture.md, timers)
    now = datetime.now(UTC)
    raw = [
        (b"amy", identify("amy", {"role": "admin"})),
        (b"amy", track("amy", "Data Source Connected", {})),
        (b"amy", track("amy", "Teammate Invited", {}, message_id="amy-invite")),
        (b"amy", track("amy", "Teammate Invited", {}, message_id="amy-invite")),  # duplicate
        (b"bo", track("bo", "Data Source Connected", {})),  # stalls: two nudges
        (b"cy", track("cy", "Page Viewed", {"path": "/"})),  # nothing to do
    ]
    events = [parse_product_event(value) for _, value in raw]
    report = simulate(load_ruleset(rules), events, until=now + timedelta(minutes=5))
    predicted = {
        d.delivery_id: (d.user_id, d.kind, d.title) for _, d in report.decisions if isinstance(d, DeliveryRequest)
    }
    assert len(predicted) == 3  # amy's celebration, bo's two nudges

    async with Worker(make_settings(rules)) as worker:
        await worker.wait_ready()
        await produce(worker.bootstrap_servers, worker.settings.events_topic, raw)

        def all_delivered(values: list[dict[str, object]]) -> bool:
            return len({v["delivery_id"] for v in values if v["kind"] == "delivered"}) >= len(predicted)

        outcomes = await read_topic(
            worker.bootstrap_servers, worker.settings.outcomes_topic, until=all_delivered, timeout=30
        )
        await asyncio.sleep(3)  # anything beyond the prediction would show up by now
        outcomes = await read_topic(worker.bootstrap_servers, worker.settings.outcomes_topic)
        prompts = await read_topic(worker.bootstrap_servers, worker.settings.prompts_topic)
    delivered = {o["delivery_id"] for o in outcomes if o["kind"] == "delivered"}
    assert delivered == set(predicted)
    assert {p["delivery_id"]: (p["user_id"], p["kind"], p["title"]) for p in prompts} == predicted
