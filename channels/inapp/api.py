"""Nudgeflow in-app API: a user's prompts (list, live stream, unread count, status changes),
notification preferences, unsubscribe links and the SendGrid event webhook.

Every `/v1/users/{user_id}/...` call needs a per-user JWT minted by the product's backend
(`Authorization: Bearer <token>`; the stream also accepts `?token=` because browsers'
EventSource cannot set headers). No or bad token: 401; a token for another user: 403.
User ids are percent-encoded in the path; request bodies are capped (413).
See docs/inapp.md.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from nudgeflow.channels.inapp.access import InboxAccess
from nudgeflow.channels.inapp.auth import (
    DEFAULT_TTL_SECONDS,
    MAX_TOKEN_LENGTH,
    InvalidToken,
    Keys,
    SigningKeys,
    issue_token,
    signing_keys,
    verify_click_token,
    verify_token,
)
from nudgeflow.channels.inapp.feed import InboxFeed
from nudgeflow.channels.inapp.inbox_routes import (
    SERVED_BY_HEADER,
    UNAVAILABLE,
    PublishPrompt,
    UserStateUnavailable,
    inbox_router,
)
from nudgeflow.channels.inapp.limits import (
    DEFAULT_MAX_BODY_BYTES,
    BodySizeLimit,
)
from nudgeflow.channels.inapp.progress_feed import ProgressFeed
from nudgeflow.channels.inapp.stream import Streams
from nudgeflow.channels.inapp.user_auth import USER_ID, UserAuth
from nudgeflow.channels.preferences.service import PreferencesService, WritePreferences
from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.channels.product_events import PublishEvent, link_clicked_event
from nudgeflow.channels.webhooks.sendgrid import (
    DEFAULT_REPLAY_WINDOW_SECONDS,
    SendGridSignatureVerifier,
    sendgrid_webhook_router,
)
from nudgeflow.rules.contracts.preferences import Preferences, PreferencesUpdate
from nudgeflow.rules.contracts.progress import UserChecklist
from nudgeflow.rules.templates import url_problem

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], bool]
HealthCheck = Callable[[], tuple[bool, dict[str, dict[str, object]]]]
"""(every background task running?, state of each) for /healthz."""


ReadProgress = Callable[[str, Mapping[str, str]], Awaitable[tuple[UserChecklist, str]]]
"""A user's checklist and the URL of the worker that read it; gets the request's headers, to forward
them to the worker holding the user."""


class DemoToken(BaseModel):
    user_id: str
    token: str


async def _discard_event(event: dict[str, Any]) -> None:
    return None


async def _discard_preferences(preferences: Preferences) -> None:
    return None


def _progress_router(read_progress: ReadProgress, auth: UserAuth) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["in-app"])
    authorized = Depends(auth.header_dependency())

    @router.get(
        "/users/{user_id:path}/progress",
        response_model=UserChecklist,
        responses={
            401: {"description": "Missing, invalid or expired token"},
            403: {"description": "Token of another user"},
            **UNAVAILABLE,
        },
    )
    async def progress(request: Request, response: Response, user_id: str = authorized) -> UserChecklist:
        """The user's onboarding checklist: per playbook they are in, the steps in order (done, next,
        todo, locked), percent done, when each was done, what is due or overdue, and each open step's
        button. Any worker answers: it reads the user's state where it lives."""
        try:
            checklist, served_by = await read_progress(user_id, request.headers)
        except UserStateUnavailable as exc:
            raise HTTPException(status_code=503, detail=str(exc), headers={"Retry-After": "1"}) from exc
        response.headers[SERVED_BY_HEADER] = served_by
        return checklist

    return router


def _preferences_router(service: PreferencesService, auth: UserAuth, keys: SigningKeys) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["preferences"])
    authorized = Depends(auth.header_dependency())
    auth_errors: dict[int | str, dict[str, Any]] = {
        401: {"description": "Missing, invalid or expired token"},
        403: {"description": "Token of another user"},
    }

    @router.get("/users/{user_id:path}/preferences", response_model=Preferences, responses=auth_errors)
    async def get_preferences(user_id: str = authorized) -> Preferences:
        """The user's notification preferences (defaults when never set)."""
        return service.store.get(user_id)

    @router.put("/users/{user_id:path}/preferences", response_model=Preferences, responses=auth_errors)
    async def put_preferences(update: PreferencesUpdate, user_id: str = authorized) -> Preferences:
        """Replace the user's preferences: channel opt-outs, playbook opt-outs, global unsubscribe.
        Stored on the preferences topic and announced as an identify event (traits `nudgeflow_*`)."""
        return await service.set(user_id, update, source="api")

    async def unsubscribe(token: str) -> HTMLResponse:
        try:
            claims = verify_token(keys, token, purpose="unsubscribe")
        except InvalidToken:
            return HTMLResponse(
                _page(
                    "This unsubscribe link is invalid or has expired.",
                    "Open the latest email you received from us and use its link.",
                ),
                status_code=400,
            )
        await service.unsubscribe(claims.user_id, source="unsubscribe_link")
        return HTMLResponse(
            _page(
                "You are unsubscribed.",
                "You will not receive onboarding messages from us any "
                "more. You can turn them back on in your notification settings.",
            )
        )

    @router.get("/unsubscribe", response_class=HTMLResponse, responses={400: {"description": "Invalid link"}})
    async def unsubscribe_link(
        token: str = Query(
            max_length=MAX_TOKEN_LENGTH, description="Signed unsubscribe token (issue_unsubscribe_token)"
        ),
    ) -> HTMLResponse:
        """Unsubscribe link of emails: sets the global unsubscribe and shows a confirmation page."""
        return await unsubscribe(token)

    @router.post("/unsubscribe", response_class=HTMLResponse, responses={400: {"description": "Invalid link"}})
    async def unsubscribe_one_click(
        token: str = Query(max_length=MAX_TOKEN_LENGTH, description="Signed unsubscribe token"),
    ) -> HTMLResponse:
        """RFC 8058 one-click unsubscribe (mail clients POST `List-Unsubscribe=One-Click`)."""
        return await unsubscribe(token)

    return router


def _redirect_router(keys: SigningKeys, publish_event: PublishEvent) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["links"])

    @router.get(
        "/r/{token}",
        response_class=RedirectResponse,
        status_code=302,
        responses={302: {"description": "To the link's URL"}, 400: {"description": "Invalid or expired link"}},
    )
    async def follow_link(token: str = Path(max_length=MAX_TOKEN_LENGTH)) -> Response:
        """A tracked CTA or link of an email or Slack message: records "Link Clicked" and redirects.
        The token is signed (`issue_click_token`), so it can only lead where the message pointed."""
        try:
            click = verify_click_token(keys, token)
        except InvalidToken:
            page = _page("This link is invalid or has expired.", "Open the product directly to continue.")
            return HTMLResponse(page, status_code=400)
        if url_problem(click.url) is not None:  # signed by us, so never; kept as a last guard against bad links
            return HTMLResponse(_page("This link can't be opened.", "Open the product directly."), status_code=400)
        try:
            await publish_event(link_clicked_event(click, at=datetime.now(UTC)))
        except Exception:  # the user still gets where they were going; the click goes uncounted
            log.exception("could not record the click on %s of %s", click.link, click.delivery_id)
        return RedirectResponse(click.url, status_code=302, headers={"Cache-Control": "no-store"})

    return router


def _page(title: str, text: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        f"content='width=device-width'><title>{html.escape(title)}</title><style>body{{font-family:system-ui,"
        f"sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1d2330}}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )


def create_inbox_api(
    feed: InboxFeed,
    inbox_access: InboxAccess,
    publish: PublishPrompt,
    *,
    ready: ReadinessCheck,
    signing_secret: Keys | None = None,
    publish_event: PublishEvent | None = None,
    preferences: PreferencesStore | None = None,
    write_preferences: WritePreferences | None = None,
    sendgrid_public_key: str | None = None,
    allowed_origins: list[str] | None = None,
    heartbeat_seconds: float = 15.0,
    demo_page: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    sendgrid_replay_window_seconds: float = DEFAULT_REPLAY_WINDOW_SECONDS,
    health: HealthCheck | None = None,
    read_progress: ReadProgress | None = None,
    progress_feed: ProgressFeed | None = None,
) -> FastAPI:
    """The in-app API.

    `inbox_access` reads a user's whole inbox where it lives and forwards status changes there (the
    worker's: its own `inbox` table, or the worker holding the user); `feed` is this replica's
    stream of inbox changes, for live streams.
    `publish` writes a prompt to the prompts topic; `publish_event` a Segment event to the events
    topic; `write_preferences` a record to the preferences topic (each returns once acknowledged).
    `signing_secret` is a secret or a `SigningKeys` (current key id plus previous keys still accepted).
    Without it a random one is used: only tokens from `api.state.issue_token` (the demo's) work.
    `demo_page` adds the demo's browser page and its demo-only user and token routes. Every request
    body is capped at `max_body_bytes` (413).
    `read_progress` serves `/v1/users/{id}/progress` (the worker's: from the state of the user's partition);
    `progress_feed` brings checklist changes to the live streams.
    `close_event_streams(api)` ends open SSE streams before the server stops.
    """
    keys = signing_keys(signing_secret if signing_secret is not None else secrets.token_urlsafe(32))
    publish_event = publish_event or _discard_event
    preferences = preferences if preferences is not None else PreferencesStore()
    service = PreferencesService(
        preferences, write=write_preferences or _discard_preferences, publish_event=publish_event
    )
    auth = UserAuth(keys)
    streams = Streams()

    api = FastAPI(title="Nudgeflow in-app API", version="1", description=__doc__)
    api.state.streams = streams
    api.state.preferences = service
    api.state.issue_token = lambda user_id, ttl=DEFAULT_TTL_SECONDS: issue_token(keys, user_id, ttl)
    if allowed_origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=list(allowed_origins),
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    api.include_router(
        inbox_router(
            feed, inbox_access, publish, publish_event, auth, streams, heartbeat_seconds, progress=progress_feed
        )
    )
    api.include_router(_preferences_router(service, auth, keys))
    if read_progress is not None:
        api.include_router(_progress_router(read_progress, auth))
    api.include_router(_redirect_router(keys, publish_event))
    verifier = None
    if sendgrid_public_key:
        verifier = SendGridSignatureVerifier(sendgrid_public_key, replay_window=sendgrid_replay_window_seconds)

    async def opt_out_email(user_id: str, source: str) -> Preferences:
        return await service.opt_out_channel(user_id, "email", source=source)

    api.include_router(
        sendgrid_webhook_router(
            verifier,
            publish_event=publish_event,
            opt_out_email=opt_out_email,
        )
    )

    widget = (
        resources.files("nudgeflow.channels.inapp").joinpath("static/nudgeflow-widget.js").read_text(encoding="utf-8")
    )

    @api.get("/v1/widget.js", include_in_schema=False)
    async def widget_js() -> Response:
        return Response(
            widget, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "public, max-age=300"}
        )

    @api.get("/healthz", tags=["ops"])
    async def healthz(response: Response) -> dict[str, object]:
        """Alive; with `health`, each background task's state, and 503 while one is not running."""
        if health is None:
            return {"status": "ok"}
        ok, tasks = health()
        if not ok:
            response.status_code = 503
        return {"status": "ok" if ok else "degraded", "tasks": tasks}

    @api.get("/readyz", tags=["ops"])
    async def readyz(response: Response) -> dict[str, str]:
        if ready():
            return {"status": "ready"}
        response.status_code = 503
        return {"status": "starting"}

    if demo_page:
        page = resources.files("nudgeflow.channels.inapp").joinpath("static/demo.html").read_text(encoding="utf-8")

        @api.get("/", response_class=HTMLResponse, include_in_schema=False)
        async def demo() -> str:
            return page

        @api.get("/v1/demo/users", tags=["demo"])
        async def demo_users() -> list[str]:
            """Demo only: the users with recent prompts, so the page can show them all."""
            return feed.recent_users()

        @api.get("/v1/demo/users/{user_id:path}/token", tags=["demo"], response_model=DemoToken)
        async def demo_token(user_id: str = USER_ID) -> DemoToken:
            """Demo only (never in production): a token for any user, standing in for the product's backend."""
            return DemoToken(user_id=user_id, token=issue_token(keys, user_id, DEFAULT_TTL_SECONDS))

    api.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)  # added last: it runs first
    return api


def close_event_streams(api: FastAPI) -> None:
    """End every open SSE stream (browsers reconnect elsewhere): call before stopping the server."""
    streams: Streams | None = getattr(api.state, "streams", None)
    if streams is not None:
        streams.close_all()
