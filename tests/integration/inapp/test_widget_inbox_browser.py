"""The widget's inbox in real headless Chromium, used with the keyboard: snooze hides a prompt, archive
removes it, "mark all read" clears the badge, and a reload shows the same (the worker kept it all);
the widget follows the system's dark mode."""

from __future__ import annotations

import shutil

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
      - {channel: in_app, title: "Connected 🎉", body: "first step"}
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited}
    celebrate:
      - {channel: in_app, title: "Team work", body: "second step"}
  - id: first_dashboard
    title: Build a dashboard
    when: {event: Dashboard Created}
    celebrate:
      - {channel: in_app, title: "Dashboard built", body: "third step"}
"""


async def test_snooze_archive_and_mark_all_from_the_keyboard_and_they_stay_after_a_reload(demo_worker: Worker) -> None:
    from playwright.async_api import async_playwright

    worker = demo_worker
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [
            (b"max", identify("max", {"role": "admin"})),
            (b"max", track("max", "Data Source Connected", {})),
            (b"max", track("max", "Teammate Invited", {})),
            (b"max", track("max", "Dashboard Created", {})),
        ],
    )
    await eventually(lambda: _count(prompts_of(worker, "max"), 3), timeout=30)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            await page.emulate_media(color_scheme="dark")
            await page.goto(worker.api_url or "")
            card = page.locator("section[data-user='max']")
            items = card.locator(".nf-item")
            badge = card.locator(".nf-badge")
            await eventually(lambda: _count_is(items, 3), timeout=15)
            background = await card.locator(".nf-widget").evaluate("n => getComputedStyle(n).backgroundColor")
            assert background == "rgb(22, 26, 34)", "dark mode follows the system setting"

            await card.get_by_role("button", name="Snooze “Team work” for a day").focus()
            await page.keyboard.press("Enter")
            await eventually(lambda: _count_is(items, 2), timeout=10)
            assert await badge.text_content() == "2", "a snoozed prompt is out of the badge too"

            await card.get_by_role("button", name="Archive “Dashboard built”").focus()
            await page.keyboard.press("Enter")
            await eventually(lambda: _count_is(items, 1), timeout=10)

            await card.get_by_role("button", name="mark all read").focus()
            await page.keyboard.press("Enter")
            await eventually(lambda: _text_is(badge, "0"), timeout=10)

            await page.reload()
            await eventually(lambda: _count_is(items, 1), timeout=15)
            assert await items.first.get_attribute("class") == "nf-item nf-celebration nf-seen"
            assert "Connected 🎉" in (await items.first.text_content() or "")
            assert await badge.text_content() == "0"
        finally:
            await browser.close()


async def _count(listing, n: int) -> bool:  # type: ignore[no-untyped-def]
    return len(await listing) == n


async def _count_is(locator, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await locator.count() == n


async def _text_is(locator, text: str) -> bool:  # type: ignore[no-untyped-def]
    return await locator.text_content() == text
