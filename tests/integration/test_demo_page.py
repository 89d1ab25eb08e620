"""The demo's browser page in real headless Chromium: each user's prompts appear live, and a
dismissal in the page changes the prompt's status for everyone."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce
from tests.support.worker import prompts_of

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not shutil.which("chromium"),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium)",
)


@pytest.fixture
async def demo_worker(make_settings, rules_path: Path) -> AsyncIterator[Worker]:  # type: ignore[no-untyped-def]
    async with Worker(make_settings(rules_path), demo_page=True) as running:
        await running.wait_ready(timeout=60)
        yield running


async def test_page_shows_each_users_prompts_live_and_dismiss_works(demo_worker: Worker) -> None:
    from playwright.async_api import async_playwright

    await produce(
        demo_worker.bootstrap_servers,
        demo_worker.settings.events_topic,
        [
            (b"zoe", identify("zoe", {"role": "admin"})),
            (b"zoe", track("zoe", "Data Source Connected", {"status": "ok", "source": "Postgres"})),
        ],
    )
    await eventually(lambda: prompts_of(demo_worker, "zoe"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(demo_worker.api_url or "")
            first = page.get_by_text("You connected Postgres!").first
            await first.wait_for(timeout=15_000)
            # A celebration created while the page is open arrives without a reload (live stream).
            await produce(
                demo_worker.bootstrap_servers,
                demo_worker.settings.events_topic,
                [(b"zoe", track("zoe", "Teammate Invited", {}))],
            )
            await page.get_by_text("Team work!", exact=True).wait_for(timeout=15_000)  # inbox entry
            await page.locator("button", has_text="dismiss").last.click()
            await eventually(lambda: _statuses(demo_worker, "zoe"), timeout=10)
        finally:
            await browser.close()


async def _statuses(worker: Worker, user: str) -> bool:
    return "dismissed" in {p["status"] for p in await prompts_of(worker, user)}
