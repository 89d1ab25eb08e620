"""The widget in real headless Chromium: a prompt's CTA is a keyboard-reachable link with the URL rendered
from the user's traits, and following it with the keyboard records which link was clicked (a
`link_clicked` outcome on the outcomes topic)."""

from __future__ import annotations

import shutil
from typing import Any

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.test_demo_page import ARGS, CHROMIUM, pytestmark  # noqa: F401  (skip without Chromium)
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.worker import prompts_of

URL = "https://app.example.com/sources/new?ws=w-9"
PLAYBOOK = """\
id: admin_onboarding
name: Admin onboarding
audience:
  role: admin
milestones:
  - id: invite_teammate
    title: Invite a teammate
    when:
      event: Teammate Invited
    celebrate:
      - channel: in_app
        title: "Team work!"
        body: "Next: connect a data source"
        cta: {label: "Connect a source", url: "https://app.example.com/sources/new?ws={{ user.workspace_id }}"}
        secondary_cta: {label: "Book a call", url: "https://cal.example.com/cs"}
        links:
          - {label: "How to connect", url: "https://help.example.com/connect"}
        image: {url: "https://cdn.example.com/sources.png", alt: "The sources page"}
"""


async def test_the_cta_is_a_link_and_a_keyboard_click_is_recorded(demo_worker: Worker) -> None:
    from playwright.async_api import async_playwright

    worker = demo_worker
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"kim", identify("kim", {"role": "admin", "workspace_id": "w-9"})),
            (b"kim", track("kim", "Teammate Invited", {})),
        ],
    )
    [prompt] = await eventually(lambda: prompts_of(worker, "kim"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            landed: list[str] = []

            async def fulfil(route: Any) -> None:  # no internet here: the product's page is a stand-in
                landed.append(route.request.url)
                await route.fulfill(status=200, content_type="text/html", body="<h1>Sources</h1>")

            await page.route("https://app.example.com/**", fulfil)
            await page.route("https://cdn.example.com/**", lambda route: route.fulfill(status=404))
            await page.goto(worker.api_url or "")
            cta = page.get_by_role("link", name="Connect a source")
            await cta.wait_for(timeout=15_000)
            assert await cta.get_attribute("href") == URL
            assert (
                await page.get_by_role("link", name="Book a call").get_attribute("href") == "https://cal.example.com/cs"
            )
            assert await page.get_by_role("link", name="How to connect").count() == 1
            assert await page.get_by_alt_text("The sources page").count() == 1
            await cta.focus()
            await page.keyboard.press("Enter")
            await eventually(lambda: landed == [URL], timeout=10)
        finally:
            await browser.close()

    def clicked(values: list[dict[str, Any]]) -> bool:
        return any(v.get("kind") == "link_clicked" for v in values)

    values = await read_topic(worker.bootstrap_servers, worker.settings.outcomes_topic, until=clicked)
    [outcome] = [v for v in values if v.get("kind") == "link_clicked"]
    assert (outcome["delivery_id"], outcome["attributes"]["link"]) == (prompt["delivery_id"], "cta")
    assert outcome["attributes"]["url"] == URL
