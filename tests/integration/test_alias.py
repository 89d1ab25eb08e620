"""A Segment `alias` call through the ingest stage and the worker: what the anonymous id did before
signing up counts for the user it becomes, and its later events reach that user's inbox."""

from __future__ import annotations

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import alias, identify, track
from tests.support.kafka import eventually, produce
from tests.support.worker import prompts_of

PLAYBOOK = """
id: admins
name: Admins
audience: {role: admin}
milestones:
  - id: first_report
    title: Create a report
    when: {event: Report Created}
    celebrate:
      - {channel: in_app, title: "First report", body: "Well done"}
  - id: invite
    title: Invite a teammate
    when: {event: Teammate Invited}
    celebrate:
      - {channel: in_app, title: "Team!", body: "Better together"}
"""


async def test_an_anonymous_ids_events_count_for_the_user_it_becomes(worker: Worker) -> None:
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"anon-7", track("anon-7", "Report Created", {})),
            (b"anon-7", alias("anon-7", "ana")),  # keyed by either id: the worker routes it to anon-7's state
            (b"ana", identify("ana", {"role": "admin"})),
        ],
    )
    [prompt] = await eventually(lambda: prompts_of(worker, "ana"))
    assert prompt["title"] == "First report"

    await produce(
        worker.bootstrap_servers, worker.settings.events_topic, [(b"anon-7", track("anon-7", "Teammate Invited", {}))]
    )

    async def two() -> bool:
        return len(await prompts_of(worker, "ana")) == 2

    await eventually(two)
    assert await prompts_of(worker, "anon-7") == []
