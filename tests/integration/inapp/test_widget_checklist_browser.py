"""The widget's onboarding checklist in real headless Chromium: a progress bar, each step's state, the
next step's button rendered from the user's traits, and a live update when a step gets done."""

from __future__ import annotations

import shutil
from typing import Any

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.test_demo_page import ARGS, CHROMIUM, pytestmark  # noqa: F401  (skip without Chromium)
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce
from tests.support.worker import prompts_of

PLAYBOOK = """\
id: admin_onboarding
name: Admin onboarding
audience: {role: admin}
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
    celebrate:
      - {channel: in_app, title: "Connected! 🎉", body: "{{ progress.done }} of {{ progress.total }}"}
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited, after: connect_source}
    cta: {label: "Invite your team", url: "https://app.example.com/{{ user.workspace }}/team"}
    celebrate:
      - {channel: in_app, title: "Team work!", body: "{{ progress.done }} of {{ progress.total }}"}
  - id: first_dashboard
    title: Build a dashboard
    when: {event: Dashboard Created, after: invite_teammate}
"""


async def test_the_checklist_shows_progress_and_the_next_steps_button_and_follows_live(demo_worker: Worker) -> None:
    from playwright.async_api import async_playwright

    worker = demo_worker
    events = worker.settings.events_topic
    await produce(
        worker.bootstrap_servers,
        events,
        [
            (b"lea", identify("lea", {"role": "admin", "workspace": "acme"})),
            (b"lea", track("lea", "Data Source Connected", {})),
        ],
    )
    await eventually(lambda: prompts_of(worker, "lea"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(worker.api_url or "")
            bar = page.get_by_role("progressbar", name="Admin onboarding: 33% done")
            await bar.wait_for(timeout=15_000)
            steps = page.locator(".nf-step")

            async def step_states() -> list[tuple[str | None, str | None]]:
                return [
                    (await s.get_attribute("data-milestone-id"), await s.get_attribute("class"))
                    for s in await steps.all()
                ]

            assert [(m, c.split()[-1] if c else None) for m, c in await step_states()] == [
                ("connect_source", "nf-step-done"),
                ("invite_teammate", "nf-step-next"),
                ("first_dashboard", "nf-step-locked"),
            ]
            button = page.get_by_role("link", name="Invite your team")
            assert await button.get_attribute("href") == "https://app.example.com/acme/team"
            await button.focus()  # keyboard-reachable
            assert await page.evaluate("document.activeElement.textContent") == "Invite your team"

            await produce(worker.bootstrap_servers, events, [(b"lea", track("lea", "Teammate Invited", {}))])
            await page.get_by_role("progressbar", name="Admin onboarding: 67% done").wait_for(timeout=15_000)
            assert await page.get_by_role("link", name="Invite your team").count() == 0
            classes: list[Any] = [c for _, c in await step_states()]
            assert [c.split()[-1] for c in classes] == ["nf-step-done", "nf-step-done", "nf-step-next"]
        finally:
            await browser.close()
