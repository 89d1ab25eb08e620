"""The widget in real headless Chromium: a celebration's micro-survey is a labelled rating group and an
optional comment; the answer is kept on the prompt, and the worker records it as a
`survey_answered` outcome on the outcomes topic (what the dashboard's Feedback section reads)."""

from __future__ import annotations

import shutil
from typing import Any

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.test_demo_page import ARGS, CHROMIUM, pytestmark  # noqa: F401  (skip without Chromium)
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.worker import prompts_of

PLAYBOOK = """\
id: admin_onboarding
name: Admin onboarding
audience:
  role: admin
milestones:
  - id: connect_source
    title: Connect a data source
    when:
      event: Data Source Connected
    celebrate:
      - channel: in_app
        title: "Your data is flowing"
        body: "Next: invite a teammate"
        survey: {question: "How easy was that, {{ user.first_name }}?", scale: 5}
"""


async def test_the_user_rates_and_comments_and_the_worker_records_the_answer(demo_worker: Worker) -> None:
    from playwright.async_api import async_playwright

    worker = demo_worker
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"kim", identify("kim", {"role": "admin", "first_name": "Kim"})),
            (b"kim", track("kim", "Data Source Connected", {})),
        ],
    )
    [prompt] = await eventually(lambda: prompts_of(worker, "kim"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(worker.api_url or "")
            rating = page.get_by_role("radiogroup", name="How easy was that, Kim?")
            await rating.wait_for(timeout=15_000)
            await rating.get_by_role("radio", name="4 of 5").click()
            await page.get_by_label("Comment (optional)").fill("The docs link helped.")
            await page.get_by_role("button", name="Send").click()
            await page.get_by_text("Thanks for your feedback (4 of 5).").wait_for(timeout=10_000)
        finally:
            await browser.close()

    [stored] = await prompts_of(worker, "kim")
    assert stored["answer"]["rating"] == 4 and stored["answer"]["comment"] == "The docs link helped."

    def answered(values: list[dict[str, Any]]) -> bool:
        return any(v.get("kind") == "survey_answered" for v in values)

    values = await read_topic(worker.bootstrap_servers, worker.settings.outcomes_topic, until=answered)
    [outcome] = [v for v in values if v.get("kind") == "survey_answered"]
    assert (outcome["delivery_id"], outcome["milestone_id"]) == (prompt["delivery_id"], "connect_source")
    assert (outcome["attributes"]["rating"], outcome["attributes"]["scale"]) == (4, 5)
    assert outcome["attributes"]["comment"] == "The docs link helped."
