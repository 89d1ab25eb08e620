"""A Segment `page` call through the ingest stage and the worker completes the milestone that waits
for that page, and its celebration reaches the user's inbox."""

from __future__ import annotations

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import identify, page
from tests.support.kafka import eventually, produce
from tests.support.worker import prompts_of

PLAYBOOK = """
id: billing
name: Billing
milestones:
  - id: saw_pricing
    title: See the pricing page
    when: {event: Page Viewed, where: {page: Pricing}}
    celebrate:
      - {channel: in_app, title: "Plans compared", body: "Pick the one that fits from {{ event.path }}"}
"""


async def test_a_page_view_completes_its_milestone_through_the_worker(worker: Worker) -> None:
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"ana", identify("ana", {"role": "admin"})),
            (b"ana", page("ana", "Home", properties={"path": "/"})),
            (b"ana", page("ana", "Pricing", properties={"path": "/pricing"})),
        ],
    )
    [prompt] = await eventually(lambda: prompts_of(worker, "ana"))
    assert (prompt["title"], prompt["body"]) == ("Plans compared", "Pick the one that fits from /pricing")
