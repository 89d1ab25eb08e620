"""The in-app API on a running worker and the real broker: auth, live stream, events back to Kafka,
preferences, unsubscribe links and the SendGrid webhook."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote

import httpx

from nudgeflow.channels.inapp.auth import issue_token, issue_unsubscribe_token, unsubscribe_url
from nudgeflow.channels.preferences import PreferencesStore
from nudgeflow.orchestrator.broker.clients import aiokafka_options
from nudgeflow.orchestrator.feeds.preferences import PreferencesMaterializer
from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.inapp.inapp_support import SECRET, bearer, sendgrid_signature
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce, read_topic
from tests.support.worker import prompts_of


def client(worker: Worker) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=worker.api_url or "", timeout=10)


async def celebrate(worker: Worker, user: str) -> dict[str, Any]:
    await produce(
        worker.bootstrap_servers,
        worker.settings.events_topic,
        [(user.encode(), identify(user, {"role": "admin"})), (user.encode(), track(user, "Teammate Invited", {}))],
    )
    [prompt] = await eventually(lambda: prompts_of(worker, user))
    return prompt


async def events_named(worker: Worker, name: str, count: int = 1) -> list[dict[str, Any]]:
    def enough(values: list[dict[str, Any]]) -> bool:
        return len([v for v in values if v.get("event") == name]) >= count

    values = await read_topic(worker.bootstrap_servers, worker.settings.events_topic, until=enough)
    return [v for v in values if v.get("event") == name]


async def test_a_user_reads_only_their_own_prompts(inapp_worker: Worker) -> None:
    prompt = await celebrate(inapp_worker, "amy")
    status_url = f"/v1/users/amy/prompts/{prompt['delivery_id']}/status"
    async with client(inapp_worker) as http:
        assert (await http.get("/v1/users/amy/prompts")).status_code == 401
        assert (await http.get("/v1/users/amy/prompts", headers={"Authorization": "Bearer nope"})).status_code == 401
        expired = issue_token(SECRET, "amy", 5, now=time.time() - 10)
        assert (
            await http.get("/v1/users/amy/prompts", headers={"Authorization": f"Bearer {expired}"})
        ).status_code == 401
        assert (await http.get("/v1/users/amy/prompts", headers=bearer("ben"))).status_code == 403
        assert (await http.post(status_url, json={"status": "dismissed"}, headers=bearer("ben"))).status_code == 403
        assert (
            await http.get("/v1/users/amy/prompts/stream", params={"token": issue_token(SECRET, "ben")})
        ).status_code == 403
        own = await http.get("/v1/users/amy/prompts", headers=bearer("amy"))
        assert own.status_code == 200 and own.json()["prompts"][0]["delivery_id"] == prompt["delivery_id"]
        unread = await http.get("/v1/users/amy/prompts/unread", headers=bearer("amy"))
        assert unread.json() == {"user_id": "amy", "unread": 1}
        schema = (await http.get("/openapi.json")).json()
        assert "userToken" in schema["components"]["securitySchemes"]


async def test_stream_delivers_a_prompt_created_after_it_opened(inapp_worker: Worker) -> None:
    async with client(inapp_worker) as http:
        async with http.stream(
            "GET", "/v1/users/cal/prompts/stream", params={"token": issue_token(SECRET, "cal")}
        ) as response:
            assert response.status_code == 200
            events = sse_events(response)
            first = await asyncio.wait_for(anext(events), 5)
            assert first == ("snapshot", {"user_id": "cal", "unread": 0, "prompts": []})
            await produce(
                inapp_worker.bootstrap_servers,
                inapp_worker.settings.events_topic,
                [
                    (b"cal", identify("cal", {"role": "admin"})),
                    (b"cal", track("cal", "Data Source Connected", {"status": "ok", "source": "Redshift"})),
                ],
            )
            name, data = await asyncio.wait_for(anext(events), 20)
            while name == "progress":  # the checklist changes too (identify, then the completion)
                name, data = await asyncio.wait_for(anext(events), 20)
    assert name == "prompt" and data["change"] == "created" and data["unread"] == 1
    assert data["prompt"]["title"] == "You connected Redshift!" and data["prompt"]["user_id"] == "cal"


async def sse_events(response: httpx.Response):  # type: ignore[no-untyped-def]
    name, data = None, []
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and name:
            yield name, json.loads("\n".join(data))
            name, data = None, []


async def test_a_click_is_published_as_a_track_event(inapp_worker: Worker) -> None:
    prompt = await celebrate(inapp_worker, "dan")
    async with client(inapp_worker) as http:
        response = await http.post(
            f"/v1/users/dan/prompts/{prompt['delivery_id']}/status", json={"status": "clicked"}, headers=bearer("dan")
        )
        assert response.json()["status"] == "clicked"
        again = await http.post(
            f"/v1/users/dan/prompts/{prompt['delivery_id']}/status", json={"status": "seen"}, headers=bearer("dan")
        )
        assert again.json()["status"] == "clicked"
    [clicked] = await events_named(inapp_worker, "Prompt Clicked")
    assert clicked["userId"] == "dan" and clicked["type"] == "track"
    assert {k: clicked["properties"][k] for k in ("delivery_id", "playbook_id", "milestone_id", "kind")} == {
        "delivery_id": prompt["delivery_id"],
        "playbook_id": "admin_onboarding",
        "milestone_id": "invite_teammate",
        "kind": "celebration",
    }
    records = await read_topic(inapp_worker.bootstrap_servers, inapp_worker.settings.events_topic, decode=False)
    [record] = [r for r in records if b"Prompt Clicked" in r.value]
    assert record.key == b"dan"
    assert not [r for r in records if b"Prompt Seen" in r.value], "status did not move: no event"


async def test_preferences_round_trip_and_allows(inapp_worker: Worker) -> None:
    choice = {"unsubscribed": False, "opt_out_channels": ["slack"], "opt_out_playbooks": ["power_users"]}
    async with client(inapp_worker) as http:
        default = await http.get("/v1/users/eli/preferences", headers=bearer("eli"))
        assert default.json()["opt_out_channels"] == [] and default.json()["updated_at"] is None
        assert (await http.put("/v1/users/eli/preferences", json=choice, headers=bearer("fay"))).status_code == 403
        saved = await http.put("/v1/users/eli/preferences", json=choice, headers=bearer("eli"))
        assert saved.status_code == 200 and saved.json()["source"] == "api"
        read = (await http.get("/v1/users/eli/preferences", headers=bearer("eli"))).json()
    assert {k: read[k] for k in choice} == choice
    store = inapp_worker.preferences
    assert not store.allows("eli", "slack", "admin_onboarding")
    assert not store.allows("eli", "email", "power_users")
    assert store.allows("eli", "email", "admin_onboarding") and store.allows("eli", "in_app")

    # Another reader (an outbox, another API replica) rebuilds the same answer from the compacted topic.
    fresh = PreferencesStore()
    follower = PreferencesMaterializer(
        fresh,
        topic=inapp_worker.settings.preferences_topic,
        kafka_options=aiokafka_options(inapp_worker.settings, inapp_worker.bootstrap_servers),
    )
    await follower.start()
    try:
        await asyncio.wait_for(follower.caught_up.wait(), 10)
        assert fresh.get("eli").opt_out_channels == ["slack"] and not fresh.allows("eli", "slack")
    finally:
        await follower.stop()
    [record] = await read_topic(
        inapp_worker.bootstrap_servers,
        inapp_worker.settings.preferences_topic,
        until=lambda values: len(values) >= 1,
        decode=False,
    )
    assert record.key == b"eli"

    identifies = await read_topic(
        inapp_worker.bootstrap_servers,
        inapp_worker.settings.events_topic,
        until=lambda vs: any(v.get("traits", {}).get("nudgeflow_opt_out_channels") for v in vs),
    )
    [traits] = [v["traits"] for v in identifies if v["type"] == "identify" and v["userId"] == "eli"]
    assert traits == {
        "nudgeflow_unsubscribed": False,
        "nudgeflow_opt_out_channels": ["slack"],
        "nudgeflow_opt_out_playbooks": ["power_users"],
    }


async def test_unsubscribe_link_sets_global_unsubscribe(inapp_worker: Worker) -> None:
    url = unsubscribe_url(inapp_worker.api_url or "", SECRET, "gus")
    async with client(inapp_worker) as http:
        page = await http.get(url)
        assert page.status_code == 200 and "unsubscribed" in page.text
        assert page.headers["content-type"].startswith("text/html")
        prefs = (await http.get("/v1/users/gus/preferences", headers=bearer("gus"))).json()
        assert prefs["unsubscribed"] and prefs["source"] == "unsubscribe_link"
        one_click = await http.post(
            "/v1/unsubscribe",
            params={"token": issue_unsubscribe_token(SECRET, "hal")},
            data={"List-Unsubscribe": "One-Click"},
        )
        assert one_click.status_code == 200
        bad = await http.get("/v1/unsubscribe", params={"token": issue_token(SECRET, "ivo")})  # an API token
        assert bad.status_code == 400
    assert not inapp_worker.preferences.allows("gus", "in_app")
    assert not inapp_worker.preferences.allows("hal", "email")
    assert inapp_worker.preferences.allows("ivo", "email")


def sendgrid_batch(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()


async def test_sendgrid_webhook_signed_events_are_published_and_bounces_opt_out(inapp_worker: Worker) -> None:
    body = sendgrid_batch(
        {
            "event": "delivered",
            "timestamp": 1764000000,
            "email": "jo@example.com",
            "sg_event_id": "e-1",
            "sg_message_id": "m-1",
            "user_id": "jo",
            "delivery_id": "d-jo",
            "kind": "celebration",
        },
        {
            "event": "open",
            "timestamp": 1764000060,
            "email": "jo@example.com",
            "sg_event_id": "e-2",
            "user_id": "jo",
            "delivery_id": "d-jo",
        },
        {
            "event": "bounce",
            "type": "bounce",
            "timestamp": 1764000100,
            "email": "kim@example.invalid",
            "sg_event_id": "e-3",
            "user_id": "kim",
            "delivery_id": "d-kim",
            "reason": "550 no such user",
        },
        {"event": "processed", "timestamp": 1764000000, "email": "someone@example.com"},
        {"event": "delivered", "timestamp": 10**20, "user_id": "jo", "sg_event_id": "e-absurd"},  # skipped, no 500
    )
    timestamp = str(int(time.time()))
    days_old = str(int(time.time()) - 3 * 24 * 3600)
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": sendgrid_signature(body, timestamp),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }
    async with client(inapp_worker) as http:
        forged = {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": "1764000201"}
        assert (await http.post("/v1/webhooks/sendgrid", content=body, headers=forged)).status_code == 403
        assert (await http.post("/v1/webhooks/sendgrid", content=body)).status_code == 403
        replayed = {
            **headers,
            "X-Twilio-Email-Event-Webhook-Signature": sendgrid_signature(body, days_old),
            "X-Twilio-Email-Event-Webhook-Timestamp": days_old,
        }
        stale = await http.post("/v1/webhooks/sendgrid", content=body, headers=replayed)
        assert stale.status_code == 403 and "replay window" in stale.json()["detail"], "genuine but days old"
        assert inapp_worker.preferences.allows("kim", "email"), "a refused batch changes nothing"
        response = await http.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 5,
        "published": 3,
        "ignored": 1,
        "rejected": 1,
        "email_opted_out": ["kim"],
    }
    assert not inapp_worker.preferences.allows("kim", "email")
    assert inapp_worker.preferences.allows("kim", "in_app")
    assert inapp_worker.preferences.get("kim").source == "sendgrid:bounce"
    [delivered] = await events_named(inapp_worker, "Email Delivered")
    assert delivered["userId"] == "jo" and delivered["properties"]["delivery_id"] == "d-jo"
    assert delivered["messageId"] == "sendgrid:e-1"
    assert [e["userId"] for e in await events_named(inapp_worker, "Email Opened")] == ["jo"]
    assert [e["properties"]["reason"] for e in await events_named(inapp_worker, "Email Bounced")] == [
        "550 no such user"
    ]


async def test_a_user_id_with_a_slash_and_spaces_reaches_its_inbox(inapp_worker: Worker) -> None:
    """Opaque ids: what the events accept is reachable percent-encoded (it was a 404 with a `/`)."""
    user = "team/42/ana smith"
    prompt = await celebrate(inapp_worker, user)
    async with client(inapp_worker) as http:
        listed = await http.get(f"/v1/users/{quote(user, safe='')}/prompts", headers=bearer(user))
        assert listed.status_code == 200 and listed.json()["prompts"][0]["delivery_id"] == prompt["delivery_id"]
        seen = await http.post(
            f"/v1/users/{quote(user, safe='')}/prompts/{prompt['delivery_id']}/status",
            json={"status": "seen"},
            headers=bearer(user),
        )
        assert seen.status_code == 200 and seen.json()["user_id"] == user


async def test_a_10_mb_preferences_body_is_refused_with_413(inapp_worker: Worker) -> None:
    huge = json.dumps({"opt_out_playbooks": [f"playbook-{i}" for i in range(700_000)]}).encode()
    async with client(inapp_worker) as http:
        response = await http.put("/v1/users/lea/preferences", content=huge, headers=bearer("lea"))
        assert response.status_code == 413
        assert (await http.get("/v1/users/lea/preferences", headers=bearer("lea"))).json()["updated_at"] is None
