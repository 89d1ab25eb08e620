"""API contract without a broker: auth on every user route, OpenAPI security, demo-only routes, SSE heartbeats."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from nudgeflow.channels.inapp.auth import issue_token, issue_unsubscribe_token
from nudgeflow.rules.contracts.prompts import Prompt
from tests.support.inbox import InboxStore, inbox_api

SECRET = "unit-secret"


async def discard(prompt: Prompt) -> None:
    return None


def client(demo_page: bool = False) -> TestClient:
    return TestClient(inbox_api(InboxStore(), discard, ready=lambda: True, signing_secret=SECRET, demo_page=demo_page))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


USER_ROUTES = [
    ("GET", "/v1/users/ana/prompts", None),
    ("GET", "/v1/users/ana/prompts/unread", None),
    ("POST", "/v1/users/ana/prompts/d1/status", {"status": "seen"}),
    ("GET", "/v1/users/ana/preferences", None),
    ("PUT", "/v1/users/ana/preferences", {}),
]


@pytest.mark.parametrize("method, path, body", USER_ROUTES)
def test_every_user_route_needs_that_users_token(method: str, path: str, body: object) -> None:
    api = client()
    assert api.request(method, path, json=body).status_code == 401
    assert api.request(method, path, json=body).headers["www-authenticate"].startswith("Bearer")
    assert api.request(method, path, json=body, headers=bearer("garbage.token")).status_code == 401
    expired = issue_token(SECRET, "ana", 10, now=time.time() - 60)
    assert api.request(method, path, json=body, headers=bearer(expired)).status_code == 401
    assert api.request(method, path, json=body, headers=bearer(issue_token("other", "ana"))).status_code == 401
    unsubscribe = issue_unsubscribe_token(SECRET, "ana")
    assert api.request(method, path, json=body, headers=bearer(unsubscribe)).status_code == 401
    assert api.request(method, path, json=body, headers=bearer(issue_token(SECRET, "bob"))).status_code == 403
    ok = api.request(method, path, json=body, headers=bearer(issue_token(SECRET, "ana"))).status_code
    assert ok in (200, 404)  # 404: no prompt d1


def test_query_token_only_accepted_by_the_stream() -> None:
    api = client()
    token = issue_token(SECRET, "ana")
    assert api.get("/v1/users/ana/prompts", params={"token": token}).status_code == 401
    assert api.get("/v1/users/ana/prompts/stream", params={"token": issue_token(SECRET, "bob")}).status_code == 403
    assert api.get("/v1/users/ana/prompts/stream").status_code == 401


def test_openapi_documents_the_security_schemes() -> None:
    schema = client().get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["userToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["userToken"]["description"],
    }
    assert schemes["userTokenQuery"]["in"] == "query"
    assert schema["paths"]["/v1/users/{user_id}/prompts"]["get"]["security"] == [{"userToken": []}]
    assert "/v1/users/{user_id}/prompts/unread" in schema["paths"]
    assert "/v1/webhooks/sendgrid" in schema["paths"] and "/v1/unsubscribe" in schema["paths"]
    assert not any(path.startswith("/v1/demo") for path in schema["paths"])


def test_demo_token_route_exists_only_on_the_demo() -> None:
    assert client().get("/v1/demo/users/ana/token").status_code == 404
    demo = client(demo_page=True)
    token = demo.get("/v1/demo/users/ana/token").json()["token"]
    assert demo.get("/v1/users/ana/prompts", headers=bearer(token)).status_code == 200
    assert "Nudgeflow.mount" in demo.get("/").text
    widget = demo.get("/v1/widget.js")
    assert widget.status_code == 200 and "javascript" in widget.headers["content-type"]


def test_unsubscribe_link_with_a_bad_token_says_so() -> None:
    response = client().get("/v1/unsubscribe", params={"token": issue_token(SECRET, "ana")})
    assert response.status_code == 400 and "invalid" in response.text


def test_sendgrid_webhook_without_a_key_is_unavailable() -> None:
    assert client().post("/v1/webhooks/sendgrid", content=b"[]").status_code == 503
