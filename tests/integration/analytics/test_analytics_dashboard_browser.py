"""The dashboard in real headless Chromium: it loads, the charts hold the right numbers,
the filters re-query. Also writes docs/img/dashboard.png from the sample history."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from nudgeflow.orchestrator.analytics import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.dashboard import create_app
from nudgeflow.orchestrator.analytics.sample import generate
from nudgeflow.rules import load_ruleset
from tests.support.analytics import EVENTS, OUTCOMES, PLAYBOOK

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[3]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not shutil.which("chromium"),
        reason=f"{CHROMIUM} is not installed (apt-get install chromium)",
    ),
]


async def _serve(analytics: OnboardingAnalytics) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    server = uvicorn.Server(uvicorn.Config(create_app(analytics), host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"), args=ARGS
        )
        yield launched
        await launched.close()


async def _ready(page, count: int) -> None:  # type: ignore[no-untyped-def]
    await page.wait_for_function(
        f"document.body.dataset.renderCount >= {count} && document.body.dataset.state === 'ready'", timeout=15000
    )


async def _chart_data(page, selector: str) -> list:  # type: ignore[no-untyped-def]
    """What Chart.js actually drew (the instance's dataset), not just our attribute."""
    return await page.eval_on_selector(selector, "c => Chart.getChart(c).data.datasets[0].data")


async def test_charts_show_the_scripted_numbers_and_filters_requery(browser) -> None:  # type: ignore[no-untyped-def]
    analytics = OnboardingAnalytics([PLAYBOOK])
    analytics.add_all(EVENTS, OUTCOMES)
    server, task, url = await _serve(analytics)
    try:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        await _ready(page, 1)
        funnel = '[data-funnel="trial"] canvas[data-chart="funnel"]'
        assert await _chart_data(page, funnel) == [4, 3, 1, 0]
        assert json.loads(await page.get_attribute(funnel, "data-values")) == [4, 3, 1, 0]
        ttfv = '[data-ttfv="trial"]'
        assert (await page.get_attribute(ttfv, "data-median"), await page.get_attribute(ttfv, "data-p90")) == (
            "4",
            "8.8",
        )
        assert await _chart_data(page, f"{ttfv} canvas") == [0, 1, 2, 0, 0, 0, 0]
        week = '[data-cohorts="trial"] tr[data-week="2026-03-02"]'
        assert await page.get_attribute(f'{week} td[data-days="1"]', "data-share") == "1"
        retained = '[data-retention="weeks"] tr[data-week="2026-03-02"] td[data-days="1"]'
        assert (
            await page.get_attribute(retained, "data-active"),
            await page.get_attribute(retained, "data-eligible"),
        ) == (
            "1",
            "3",
        ), "u1 of the week's three users came back on day 1"
        assert await page.get_attribute('tr[data-step="b"]', "data-reached") == "1"
        assert await page.is_visible("canvas[data-chart='funnel']")
        assert await page.eval_on_selector(funnel, "c => c.width > 0 && c.height > 0")

        await page.fill("#from", "2026-03-09")
        await page.dispatch_event("#from", "change")
        await _ready(page, 2)
        assert await page.get_attribute("body", "data-query") == "from=2026-03-09"
        assert await _chart_data(page, funnel) == [2, 1, 0, 0]
        await page.select_option("#role", "operator")
        await _ready(page, 3)
        assert await _chart_data(page, funnel) == [0, 0, 0, 0]
        assert "role=operator" in (await page.get_attribute("body", "data-query") or "")
        assert errors == []
    finally:
        server.should_exit = True
        await task


async def test_sample_dashboard_matches_the_model_and_is_screenshotted(  # type: ignore[no-untyped-def]
    browser, tmp_path
) -> None:
    playbooks = load_ruleset(REPO / "playbooks").playbooks
    analytics = OnboardingAnalytics(playbooks)
    analytics.add_all(*generate(playbooks))
    server, task, url = await _serve(analytics)
    try:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await page.goto(url)
        await _ready(page, 1)
        await page.select_option("#playbook", "power_user_onboarding")
        await _ready(page, 2)
        [funnel] = analytics.funnels(analytics_filter("power_user_onboarding"))
        drawn = await _chart_data(page, '[data-funnel="power_user_onboarding"] canvas')
        assert drawn == [funnel.entered, *(s.reached for s in funnel.steps)]
        [experiment] = analytics.experiments(analytics_filter("power_user_onboarding"))
        significant = await page.get_attribute(
            '[data-experiment="power-user-copy"] tr[data-variant="social_proof"]', "data-significant"
        )
        assert significant == str(experiment.lifts[0].lift.significant).lower()  # type: ignore[union-attr]
        variant_funnels = analytics.report(analytics_filter("power_user_onboarding")).variant_funnels
        assert len(variant_funnels) >= 2, "a funnel for each variant of the sample's experiment"
        for funnel_of in variant_funnels:
            row = f'[data-experiment="power-user-copy"] tr[data-variant-funnel="{funnel_of.variant}"]'
            assert await page.get_attribute(row, "data-entered") == str(funnel_of.entered)
        srm = await page.get_attribute('[data-experiment="power-user-copy"] [data-srm]', "data-srm")
        assert srm == "false" and not experiment.sample_ratio_mismatch, (
            "the sample splits users by the playbook's weights"
        )
        assert await page.locator("[data-cohorts] td[data-share]").count() > 0
        everyone = analytics.value(analytics_filter("power_user_onboarding"))[-1].cell(30)
        drawn_all = '[data-value="weeks"] tr[data-week="all"]'
        expanded = await page.get_attribute(f'{drawn_all} td[data-days="30"][data-expanded]', "data-expanded")
        advocates = await page.get_attribute(f'{drawn_all} td[data-days="30"][data-advocates]', "data-advocates")
        assert (int(expanded or -1), int(advocates or -1)) == (everyone.expanded, everyone.advocates)
        assert everyone.expanded > 0, "the sample's users grow their accounts"
        [first_step, *_] = analytics.accounts(analytics_filter("power_user_onboarding"))
        drawn_step = f'tr[data-account-step="power_user_onboarding/{first_step.milestone_id}"]'
        assert await page.get_attribute(drawn_step, "data-any") == str(first_step.any_member) != "0"
        steps, comments = analytics.feedback(analytics_filter("power_user_onboarding"))
        shown = page.locator("#feedback tr[data-feedback-step]")
        assert await shown.count() == len(steps) >= 2, "a row per variant of the surveyed step"
        for step in steps:
            which = f'data-feedback-step="power_user_onboarding/{step.milestone_id}"][data-variant="{step.variant}"'
            row = f"#feedback tr[{which}]"
            assert await page.get_attribute(row, "data-answers") == str(step.answers)
            assert await page.get_attribute(row, "data-mean") == f"{step.mean_rating:.2f}"
        assert await page.get_attribute("#feedback ul", "data-comments") == str(len(comments)) != "0"
        await page.select_option("#variant", "social_proof")
        await page.wait_for_function("document.body.dataset.variant === 'social_proof'")
        assert await shown.count() == sum(1 for s in steps if s.variant == "social_proof") == 1
        in_variant = sum(1 for c in comments if c.variant == "social_proof")
        assert await page.locator("#feedback li").count() == in_variant < len(comments)
        await page.select_option("#variant", "")
        claims = page.locator("#summary p[data-claim]")
        assert await claims.count() == len(analytics.report(analytics_filter("power_user_onboarding")).summary) > 0
        for n in range(await claims.count()):  # each claim links to the section with its chart
            target = await claims.nth(n).locator("a").get_attribute("href")
            assert target and await page.locator(target).count() == 1
        # NUDGEFLOW_UPDATE_SCREENSHOT=1 refreshes the one in the docs
        target = REPO / "docs" / "img" if os.environ.get("NUDGEFLOW_UPDATE_SCREENSHOT") else tmp_path
        await page.screenshot(path=str(target / "dashboard.png"), full_page=True)
        assert (target / "dashboard.png").stat().st_size > 10_000
    finally:
        server.should_exit = True
        await task


def analytics_filter(playbook: str):  # type: ignore[no-untyped-def]
    from nudgeflow.orchestrator.analytics import Filter

    return Filter(playbook=playbook)
