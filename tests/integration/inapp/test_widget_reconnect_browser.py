"""A browser connected through a load balancer to a worker that is killed -9: the widget's stream
reconnects to the other worker with its Last-Event-ID, gets just what it missed (a celebration made
while it was away shows once, as a toast), and shows nothing twice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.orchestrator.broker.embedded import free_port
from tests.integration.test_demo_page import ARGS, CHROMIUM, pytestmark  # noqa: F401  (skip without Chromium)
from tests.support.events import identify, track
from tests.support.inapp import TEST_SIGNING_SECRET, auth_headers
from tests.support.kafka import eventually, produce
from tests.support.processes import WorkerProcess
from tests.support.switching_proxy import SwitchingProxy

PLAYBOOK = """\
id: admin_onboarding
name: Admin onboarding
audience: {role: admin}
milestones:
  - id: connect_source
    title: Connect a data source
    when: {event: Data Source Connected}
    celebrate:
      - {channel: in_app, title: "Connected", body: "first step"}
  - id: invite_teammate
    title: Invite a teammate
    when: {event: Teammate Invited}
    celebrate:
      - {channel: in_app, title: "Team work", body: "second step"}
"""

PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="/v1/widget.js"></script></head>
<body><div id="nudges"></div><script>
window.toasts = [];  // the title of every toast ever shown
new MutationObserver(records => records.forEach(r => r.addedNodes.forEach(n => {
  if (n.classList && n.classList.contains("nf-toast")) window.toasts.push(n.querySelector("strong").textContent);
}))).observe(document.body, {childList: true, subtree: true});
window.widget = Nudgeflow.mount({apiUrl: location.origin, userId: USER, token: TOKEN,
  element: document.getElementById("nudges"), toastSeconds: 600});
</script></body></html>"""


async def served_by(api_url: str, user: str) -> str:
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        response = await client.get(f"/v1/users/{user}/prompts", headers=auth_headers(user))
        return response.headers["x-nudgeflow-served-by"]


async def test_a_killed_workers_browsers_resume_on_another_and_see_nothing_twice(  # type: ignore[no-untyped-def]
    make_settings, rules_path: Path, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    base = make_settings(rules_path)
    assert base.kafka_bootstrap_servers
    doomed, survivor = (
        WorkerProcess(base.model_copy(update={"api_port": free_port()}), tmp_path / f"worker-{n}.log") for n in range(2)
    )
    proxy = SwitchingProxy(doomed.settings.api_port)
    proxy_url = f"http://127.0.0.1:{free_port()}"
    try:
        await doomed.start(timeout=60)
        await survivor.start(timeout=60)
        # A user the survivor holds: the prompts go on while the browser's own worker is dead.
        candidates = [f"rio-{n}" for n in range(12)]
        await produce(
            base.kafka_bootstrap_servers,
            base.events_topic,
            [(u.encode(), identify(u, {"role": "admin"})) for u in candidates],
        )
        user = ""
        for candidate in candidates:
            if await served_by(doomed.api_url, candidate) == survivor.api_url:
                user = candidate
                break
        assert user, "the survivor holds one of the candidates"
        page_html = PAGE.replace("USER", json.dumps(user)).replace(
            "TOKEN", json.dumps(issue_token(TEST_SIGNING_SECRET, user))
        )
        await proxy.start(int(proxy_url.rsplit(":", 1)[1]))
        await produce(
            base.kafka_bootstrap_servers, base.events_topic, [(user.encode(), track(user, "Data Source Connected", {}))]
        )
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page()
                # The embedding product's page, on the load balancer's origin (served by the browser itself).
                await page.route(f"{proxy_url}/", lambda route: route.fulfill(body=page_html, content_type="text/html"))
                await page.goto(f"{proxy_url}/")
                items = page.locator(".nf-item")
                await eventually(lambda: _count_is(items, 1), timeout=20)
                await page.locator(".nf-state", has_text="live").wait_for(timeout=10_000)

                proxy.backend_port = survivor.settings.api_port  # the load balancer notices the dead worker...
                doomed.kill()  # ...whose stream the browser was on
                await produce(
                    base.kafka_bootstrap_servers,
                    base.events_topic,
                    [(user.encode(), track(user, "Teammate Invited", {}))],
                )
                await eventually(lambda: _count_is(items, 2), timeout=30)
                titles = await items.locator(".nf-title").all_text_contents()
                assert sorted(titles) == ["Connected", "Team work"], "each prompt once"
                resumed = [s for s in proxy.streams if s.backend == survivor.settings.api_port]
                assert resumed and resumed[0].last_event_id, "the reconnect carried the last id it saw"
                assert not resumed[0].began_with_snapshot, "resumed on the other worker, not started over"
                toasts = await page.evaluate("window.toasts")
                assert toasts == ["🎉 Team work"], "the celebration made while away shows as a toast, once"
            finally:
                await browser.close()
    finally:
        await proxy.stop()
        doomed.stop()
        survivor.stop()


async def _count_is(locator, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await locator.count() == n
