"""A local stand-in for the Slack Web API methods Nudgeflow uses.

`chat.postMessage`, `users.lookupByEmail` and `auth.test`, with form, query or
JSON bodies and Bearer or `token=` auth. Errors are `{"ok": false, "error": ...}`
(HTTP 200, as Slack does), rate limits are 429 + `Retry-After`. Tokens choose
behaviour like slack-sdk's own test server: "xoxb-invalid" → invalid_auth,
"xoxb-ratelimited" → ratelimited; channel ids containing "MISSING" → channel_not_found.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from aiohttp import web

from nudgeflow.channels.standins.faults import Fault
from nudgeflow.channels.standins.server import RecordedRequest, StandInServer, record_of

INVALID_TOKEN = "xoxb-invalid"
RATELIMITED_TOKEN = "xoxb-ratelimited"
MISSING_CHANNEL = "C0MISSING"
HEADER_LIMIT = 150


def slack_error(error: str, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers)


class SlackStandIn(StandInServer):
    """`messages` are the accepted chat.postMessage params; `users` maps email → user id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.users: dict[str, str] = {}
        self._ts = itertools.count(1)

    def add_user(self, email: str, user_id: str) -> None:
        self.users[email.lower()] = user_id

    def add_routes(self, router: web.UrlDispatcher) -> None:
        for method, handler in (
            ("chat.postMessage", self._post_message),
            ("users.lookupByEmail", self._lookup_by_email),
            ("auth.test", self._auth_test),
        ):
            router.add_route("*", f"/api/{method}", self._authed(handler))

    @property
    def accepted(self) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path == "/api/chat.postMessage" and isinstance(r.response, dict) and r.response.get("ok")
        ]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [params(r) for r in self.accepted]

    def fault_response(self, fault: Fault) -> web.Response:
        if fault.status == 429:
            wait = fault.retry_after if fault.retry_after is not None else 1.0
            return slack_error(fault.error or "ratelimited", status=429, headers={"Retry-After": f"{wait:g}"})
        return slack_error(
            fault.error or ("internal_error" if fault.status >= 500 else "invalid_request"), status=fault.status
        )

    def _authed(self, handler: Any) -> Any:
        async def wrapper(request: web.Request) -> web.Response:
            record = record_of(request)
            token = _token(request, params(record))
            if not token:
                return slack_error("not_authed")
            if token == INVALID_TOKEN:
                return slack_error("invalid_auth")
            if token == RATELIMITED_TOKEN:
                return slack_error("ratelimited", status=429, headers={"Retry-After": "1"})
            response: web.Response = await handler(params(record))
            return response

        return wrapper

    async def _post_message(self, p: dict[str, Any]) -> web.Response:
        channel = str(p.get("channel") or "")
        if not channel or "MISSING" in channel:
            return slack_error("channel_not_found")
        blocks = p.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return slack_error("invalid_blocks_format")
        if not p.get("text") and not blocks:
            return slack_error("no_text")
        if blocks is not None and not _blocks_ok(blocks):
            return slack_error("invalid_blocks")
        if channel.startswith("U") or channel.startswith("W"):
            channel = "D" + channel[1:]  # posting to a user id lands in the app's DM with them
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        return web.json_response(
            {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"type": "message", "text": p.get("text"), "ts": ts, "blocks": blocks},
            }
        )

    async def _lookup_by_email(self, p: dict[str, Any]) -> web.Response:
        email = str(p.get("email") or "").lower()
        if not email:
            return slack_error("invalid_arguments")
        user_id = self.users.get(email)
        if user_id is None:
            return slack_error("users_not_found")
        return web.json_response({"ok": True, "user": {"id": user_id, "profile": {"email": email}}})

    async def _auth_test(self, p: dict[str, Any]) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "url": "https://nudgeflow-test.slack.com/",
                "team": "Nudgeflow",
                "user": "nudgeflow",
                "team_id": "T0NUDGE",
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        )


def params(record: RecordedRequest) -> dict[str, Any]:
    """A Slack call's parameters, merged from query string and (form or JSON) body."""
    merged: dict[str, Any] = dict(record.query)
    if isinstance(record.body, dict):
        merged.update(record.body)
    return merged


def _token(request: web.Request, p: dict[str, Any]) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip()
    return str(p.get("token") or "")


def _blocks_ok(blocks: Any) -> bool:
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return False
        if block["type"] == "header" and len(block.get("text", {}).get("text", "")) > HEADER_LIMIT:
            return False
    return True
