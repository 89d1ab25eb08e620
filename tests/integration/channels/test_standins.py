"""The stand-ins speak the providers' wire formats to any HTTP client, not only ours."""

import asyncio
import json

import aiohttp

from nudgeflow.channels.standins import SendGridStandIn, SlackStandIn


async def test_slack_accepts_form_bodies_and_token_params(slack_server):
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{slack_server.url}/api/chat.postMessage",
            data={"token": "xoxb-form", "channel": "C1", "text": "hi", "blocks": json.dumps([{"type": "divider"}])},
        ) as response:
            body = await response.json()
    assert body["ok"] is True and body["channel"] == "C1"
    assert slack_server.messages[0]["text"] == "hi"


async def test_slack_error_shapes(slack_server):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{slack_server.url}/api/chat.postMessage", json={"channel": "C1"}) as response:
            assert await response.json() == {"ok": False, "error": "not_authed"}
        headers = {"Authorization": "Bearer xoxb-ok"}
        async with http.post(
            f"{slack_server.url}/api/chat.postMessage", json={"channel": "C1"}, headers=headers
        ) as response:
            assert (await response.json())["error"] == "no_text"
        slack_server.rate_limit_next(retry_after=2)
        async with http.post(f"{slack_server.url}/api/auth.test", headers=headers) as response:
            assert response.status == 429 and response.headers["Retry-After"] == "2"
            assert await response.json() == {"ok": False, "error": "ratelimited"}
    assert [r.status for r in slack_server.requests] == [200, 200, 429]


async def test_sendgrid_validation_errors_name_the_field(sendgrid_server):
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{sendgrid_server.url}/v3/mail/send",
            json={"personalizations": []},
            headers={"Authorization": "Bearer SG.ok"},
        ) as response:
            body = await response.json()
    assert response.status == 400
    assert {e["field"] for e in body["errors"]} == {"personalizations", "from", "subject", "content"}
    assert all(set(e) == {"message", "field", "help"} for e in body["errors"])
    assert sendgrid_server.messages == []


async def test_outage_window_runs_on_the_injected_clock():
    now = [100.0]
    async with SendGridStandIn(clock=lambda: now[0]) as server:
        server.fail_for(seconds=10, status=503)
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer SG.invalid"}) as http:
            statuses = []
            for advance in (0, 5, 6):
                now[0] += advance
                async with http.post(f"{server.url}/v3/mail/send", json={}) as response:
                    statuses.append(response.status)
    assert statuses == [503, 503, 401]


async def test_fail_next_is_consumed_in_order_and_heal_clears_everything(slack_server):
    slack_server.fail_next(status=500, count=2)
    slack_server.delay(seconds=30)
    slack_server.heal()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{slack_server.url}/api/auth.test", data={"token": "xoxb-x"}) as response:
            assert response.status == 200


async def test_stop_does_not_wait_for_a_delayed_response():
    server = await SlackStandIn().start()
    server.delay(seconds=30)
    async with aiohttp.ClientSession() as http:
        request = asyncio.create_task(http.post(f"{server.url}/api/auth.test"))
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.stop()
        assert loop.time() - started < 2.0
        request.cancel()


async def test_module_runner_serves_both_until_stopped(capsys):
    from nudgeflow.channels.standins.__main__ import serve

    stop = asyncio.Event()
    task = asyncio.create_task(serve(stop=stop))
    await asyncio.sleep(0.2)
    out = capsys.readouterr().out
    slack_url = out.split("Slack stand-in:")[1].split()[0]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{slack_url}auth.test", data={"token": "xoxb-x"}) as response:
            assert (await response.json())["ok"] is True
    stop.set()
    await asyncio.wait_for(task, timeout=5)
