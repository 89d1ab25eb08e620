"""The inbox API under concurrent use by one user: marks, mark-all, archives, snoozes and new prompts
race each other; after every round the unread count the API gives equals the pending prompts it
lists, and every route (list, pages, unread, status, snooze, mark-all, Idempotency-Key) answers as
documented."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.channels.inapp.idempotency import Answer, IdempotencyKeys
from nudgeflow.rules.contracts.prompts import Prompt
from tests.support.inbox import InboxStore, inbox_api

SECRET = "inbox-counts-secret-of-32-bytes-at-least"
USER = "ana"
HEADERS = {"Authorization": f"Bearer {issue_token(SECRET, USER)}"}


def new_prompt(n: int) -> Prompt:
    at = datetime.now(UTC)
    return Prompt(
        delivery_id=f"d{n:03d}",
        user_id=USER,
        kind="nudge",
        title=f"step {n}",
        body="b",
        playbook_id="p",
        playbook_version="v1",
        milestone_id="m",
        created_at=at,
        status_changed_at=at,
    )


@pytest.fixture
async def api() -> AsyncIterator[tuple[InboxStore, httpx.AsyncClient]]:
    store = InboxStore()
    transport = httpx.ASGITransport(app=inbox_api(store, ready=lambda: True, signing_secret=SECRET))
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox", headers=HEADERS) as client:
        yield store, client


async def listed(client: httpx.AsyncClient) -> tuple[int, list[dict[str, object]]]:
    prompts: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(f"/v1/users/{USER}/prompts", params=params)).json()
        prompts += body["prompts"]
        cursor = body["next_cursor"]
        if cursor is None:
            unread = (await client.get(f"/v1/users/{USER}/prompts/unread")).json()["unread"]
            assert unread == body["unread"]
            return unread, prompts


action = st.one_of(
    st.tuples(st.just("status"), st.integers(0, 30), st.sampled_from(["seen", "clicked", "dismissed", "archived"])),
    st.tuples(st.just("snooze"), st.integers(0, 30), st.sampled_from([None, -5, 60])),
    st.tuples(st.just("mark-all"), st.just(0), st.sampled_from(["seen", "dismissed", "archived"])),
    st.tuples(st.just("new"), st.integers(0, 30), st.none()),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(st.lists(action, min_size=1, max_size=8), min_size=1, max_size=5))
async def test_concurrent_changes_never_make_the_count_drift_from_the_list(api, rounds) -> None:  # type: ignore[no-untyped-def]
    store, client = api
    store.rows.clear()
    for n in range(5):
        store.apply(new_prompt(n))

    async def run(kind: str, n: int, value: object) -> None:
        url = f"/v1/users/{USER}/prompts/d{n:03d}"
        if kind == "new":
            store.apply(new_prompt(100 + n))
        elif kind == "mark-all":
            assert (await client.post(f"/v1/users/{USER}/prompts/mark-all", json={"status": value})).status_code == 200
        elif kind == "snooze":
            until = None if value is None else (datetime.now(UTC) + timedelta(minutes=int(str(value)))).isoformat()
            assert (await client.post(f"{url}/snooze", json={"until": until})).status_code in (200, 404)
        else:
            assert (await client.post(f"{url}/status", json={"status": value})).status_code in (200, 404)

    for actions in rounds:
        await asyncio.gather(*(run(*a) for a in actions))
        unread, prompts = await listed(client)
        assert unread == sum(1 for p in prompts if p["status"] == "pending")
        assert all(p["status"] != "archived" for p in prompts), "archived prompts leave the inbox"
        assert len({p["delivery_id"] for p in prompts}) == len(prompts), "no prompt on two pages"


async def test_snooze_hides_a_prompt_until_then_and_mark_all_leaves_newer_ones_alone(api) -> None:  # type: ignore[no-untyped-def]
    store, client = api
    for n in range(3):
        store.apply(new_prompt(n))
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    snoozed = await client.post(f"/v1/users/{USER}/prompts/d001/snooze", json={"until": later})
    assert snoozed.json()["snoozed_until"] is not None
    unread, prompts = await listed(client)
    assert (unread, [p["delivery_id"] for p in prompts]) == (2, ["d002", "d000"])
    everything = (await client.get(f"/v1/users/{USER}/prompts", params={"view": "all"})).json()["prompts"]
    assert len(everything) == 3
    cutoff = datetime.now(UTC).isoformat()
    store.apply(new_prompt(3))  # arrives after the user pressed "mark all"
    marked = await client.post(f"/v1/users/{USER}/prompts/mark-all", json={"status": "seen", "before": cutoff})
    assert marked.json() == {"user_id": USER, "changed": 3, "unread": 1}
    assert (await client.post(f"/v1/users/{USER}/prompts/d001/snooze", json={"until": None})).status_code == 200
    unread, prompts = await listed(client)
    assert unread == 1 and [p["delivery_id"] for p in prompts if p["status"] == "pending"] == ["d003"]
    assert (await client.get(f"/v1/users/{USER}/prompts", params={"cursor": "bogus"})).status_code == 422


async def test_a_retried_write_with_its_idempotency_key_gets_the_first_answer_and_acts_once(api) -> None:  # type: ignore[no-untyped-def]
    store, client = api
    for n in range(3):
        store.apply(new_prompt(n))
    once = {"Idempotency-Key": "click-7f3a"}
    first = await client.post(f"/v1/users/{USER}/prompts/mark-all", json={"status": "seen"}, headers=once)
    store.apply(new_prompt(3))  # a new prompt arrives before the client's retry
    again = await client.post(f"/v1/users/{USER}/prompts/mark-all", json={"status": "seen"}, headers=once)
    assert first.json() == again.json() == {"user_id": USER, "changed": 3, "unread": 0}
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    unread, _ = await listed(client)
    assert unread == 1, "the retry did not mark the newer prompt"
    reused = await client.post(f"/v1/users/{USER}/prompts/mark-all", json={"status": "archived"}, headers=once)
    assert reused.status_code == 422 and "another request" in reused.json()["detail"]


def test_keys_expire_after_a_day_and_the_oldest_go_first_when_full() -> None:
    now = [0.0]
    keys = IdempotencyKeys(limit=2, clock=lambda: now[0])
    answer = Answer(200, b"{}")
    for key in ("a", "b", "c"):
        keys.remember(USER, key, "f", answer)
    assert keys.answer(USER, "a", "f") is None, "over the limit: the oldest went"
    assert keys.answer(USER, "c", "f") == answer
    now[0] = 24 * 3600 + 1
    assert keys.answer(USER, "c", "f") is None
