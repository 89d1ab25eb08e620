"""Every bad request is a 4xx: body-size cap (413) on every endpoint, bounded models and path values; user ids
are opaque (any id the events accept reaches its inbox, percent-encoded); bad tokens are a 401 with the reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from nudgeflow.channels.inapp.auth import SigningKeys, issue_token, issue_unsubscribe_token
from nudgeflow.rules.contracts.events import TrackEvent
from nudgeflow.rules.contracts.prompts import Prompt
from tests.support.inbox import InboxStore, inbox_api

SECRET = "unit-secret-of-at-least-thirty-two-bytes"
LIMIT = 64 * 1024
SENDGRID = base64.b64encode(
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()
ODD_USER_IDS = [
    "team/42/ana",
    "a/prompts",  # ids that end like a route's suffix: each route still matches only its own
    "x/prompts/unread",
    "y/prompts/stream",
    "z/prompts/d1/status",
    "w/preferences",
    "bob smith",
    "ünï-çødé 🎉",
    "100%",
    "q?a=1&b=2#frag",
    "trailing/",
    "/leading",
    "a//b",
    "x" * 256,
]


async def discard(prompt: Prompt) -> None:
    return None


NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def prompt_for(user: str, delivery_id: str = "d1") -> Prompt:
    now = NOW
    return Prompt(
        delivery_id=delivery_id,
        user_id=user,
        kind="celebration",
        title="t",
        body="b",
        playbook_id="p",
        playbook_version="v1",
        milestone_id="m",
        created_at=now,
        status_changed_at=now,
    )


@pytest.fixture
def store() -> InboxStore:
    return InboxStore()


@pytest.fixture
def http(store: InboxStore) -> Iterator[TestClient]:
    api = inbox_api(
        store, discard, ready=lambda: True, signing_secret=SECRET, max_body_bytes=LIMIT, sendgrid_public_key=SENDGRID
    )
    with TestClient(api, raise_server_exceptions=False) as client:
        yield client


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user)}"}


# --- body size ---


def test_a_10_mb_preferences_body_is_413_not_500(http: TestClient) -> None:
    huge = json.dumps({"opt_out_playbooks": [f"playbook-{i}" for i in range(700_000)]}).encode()
    assert len(huge) > 10_000_000
    response = http.put("/v1/users/ana/preferences", content=huge, headers=bearer("ana"))
    assert response.status_code == 413 and "larger than" in response.json()["detail"]


BODY_ROUTES = [
    ("PUT", "/v1/users/ana/preferences"),
    ("POST", "/v1/users/ana/prompts/d1/status"),
    ("POST", "/v1/webhooks/sendgrid"),
]


@pytest.mark.parametrize(
    "method, path", [*BODY_ROUTES, ("POST", "/v1/unsubscribe?token=x"), ("GET", "/healthz"), ("GET", "/nowhere")]
)
def test_every_endpoint_refuses_a_declared_body_over_the_cap(http: TestClient, method: str, path: str) -> None:
    response = http.request(method, path, content=b"x" * (LIMIT + 1), headers=bearer("ana"))
    assert response.status_code == 413 and "larger than" in response.json()["detail"]


@pytest.mark.parametrize("method, path", BODY_ROUTES)
def test_a_streamed_body_is_counted_as_it_arrives(http: TestClient, method: str, path: str) -> None:
    def chunks() -> Iterator[bytes]:  # chunked, no Content-Length
        for _ in range(LIMIT // 1024 + 2):
            yield b"x" * 1024

    assert http.request(method, path, content=chunks(), headers=bearer("ana")).status_code == 413


def test_a_body_under_the_cap_is_served(http: TestClient) -> None:
    response = http.put("/v1/users/ana/preferences", json={"opt_out_channels": ["email"]}, headers=bearer("ana"))
    assert response.status_code == 200 and response.json()["opt_out_channels"] == ["email"]


# --- bounded models ---


@pytest.mark.parametrize(
    "body",
    [
        {"opt_out_playbooks": [f"p{i}" for i in range(1001)]},
        {"opt_out_playbooks": ["x" * 257]},
        {"opt_out_playbooks": [""]},
        {"opt_out_channels": ["email"] * 100},
        {"opt_out_channels": ["fax"]},
        {"unsubscribed": "maybe"},
    ],
)
def test_preferences_out_of_bounds_are_422(http: TestClient, body: object) -> None:
    assert http.put("/v1/users/ana/preferences", json=body, headers=bearer("ana")).status_code == 422


def test_path_and_query_values_are_bounded(http: TestClient) -> None:
    long_user = "x" * 257
    assert http.get(f"/v1/users/{long_user}/prompts", headers=bearer("ana")).status_code == 422
    assert (
        http.post(
            "/v1/users/ana/prompts/" + "d" * 300 + "/status", json={"status": "seen"}, headers=bearer("ana")
        ).status_code
        == 422
    )
    too_many = [("status", "pending")] * 9
    assert http.get("/v1/users/ana/prompts", params=too_many, headers=bearer("ana")).status_code == 422
    assert http.get("/v1/unsubscribe", params={"token": "t" * 5000}).status_code == 422
    stale_id = {"Last-Event-ID": "9" * 100, **bearer("ana")}
    assert http.get("/v1/users/ana/prompts/stream", headers=stale_id).status_code == 422


# --- opaque user ids ---


@pytest.mark.parametrize("user", ODD_USER_IDS)
def test_any_user_id_the_events_accept_reaches_its_inbox(http: TestClient, store: InboxStore, user: str) -> None:
    TrackEvent(type="track", messageId="m1", userId=user, event="Signed Up", timestamp=NOW)  # the events accept it
    store.apply(prompt_for(user))
    base = f"/v1/users/{quote(user, safe='')}"
    listed = http.get(f"{base}/prompts", headers=bearer(user))
    assert listed.status_code == 200, listed.text
    assert listed.json()["user_id"] == user and listed.json()["prompts"][0]["user_id"] == user
    assert http.get(f"{base}/prompts/unread", headers=bearer(user)).json() == {"user_id": user, "unread": 1}
    seen = http.post(f"{base}/prompts/d1/status", json={"status": "seen"}, headers=bearer(user))
    assert seen.status_code == 200 and seen.json()["status"] == "seen"
    prefs = http.put(f"{base}/preferences", json={"unsubscribed": True}, headers=bearer(user))
    assert prefs.status_code == 200 and prefs.json()["user_id"] == user
    assert http.get(f"{base}/preferences", headers=bearer(user)).json()["unsubscribed"] is True
    assert http.get(f"{base}/prompts", headers=bearer("someone-else")).status_code == 403


def test_a_slash_in_a_user_id_cannot_reach_another_users_inbox(http: TestClient, store: InboxStore) -> None:
    store.apply(prompt_for("ana"))
    for path in ["/v1/users/team%2Fana/prompts", "/v1/users/team/ana/prompts"]:
        response = http.get(path, headers=bearer("ana"))
        assert response.status_code == 403, "the id is team/ana, not ana"


# --- token errors: a 401 with a JSON reason ---


def old_format_token(user: str) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = b64(json.dumps({"u": user, "e": int(time.time()) + 600, "p": "inapp"}).encode())
    return f"{payload}.{b64(hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize(
    "token, reason",
    [
        (old_format_token("ana"), "old token format"),
        (issue_token(SECRET, "ana", 10, now=time.time() - 60), "token expired"),
        (issue_unsubscribe_token(SECRET, "ana"), "audience 'nudgeflow-unsubscribe'"),
        (issue_token(SigningKeys.of(SECRET, "k9"), "ana"), "unknown key id 'k9'"),
        (jwt.encode({"sub": "ana", "aud": "nudgeflow-inapp", "exp": time.time() + 60}, SECRET), "no key id"),
        ("garbage", "malformed"),
    ],
)
def test_bad_tokens_get_a_401_json_error_with_the_reason(http: TestClient, token: str, reason: str) -> None:
    response = http.get("/v1/users/ana/prompts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert reason in response.json()["detail"]


def test_tokens_of_a_previous_key_work_while_it_is_listed(store: InboxStore) -> None:
    old = SigningKeys.of("old-secret-of-at-least-thirty-two-bytes", "2026-01")
    rotated = SigningKeys.of(SECRET, "2026-11", {"2026-01": "old-secret-of-at-least-thirty-two-bytes"})
    http = TestClient(inbox_api(store, discard, ready=lambda: True, signing_secret=rotated))
    headers = {"Authorization": f"Bearer {issue_token(old, 'ana')}"}
    assert http.get("/v1/users/ana/prompts", headers=headers).status_code == 200
    retired = TestClient(
        inbox_api(store, discard, ready=lambda: True, signing_secret=SigningKeys.of(SECRET, "2026-11"))
    )
    assert retired.get("/v1/users/ana/prompts", headers=headers).status_code == 401
