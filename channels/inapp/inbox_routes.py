"""The inbox routes of the in-app API: list (views, pages), unread count, live stream, and the
user's changes (status, snooze, mark all).

Any worker answers any user: reads go to the worker holding the user's partition (its `inbox`
table), and so do changes, which that worker answers once its own inbox shows them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sse_starlette import EventSourceResponse

from nudgeflow.channels.inapp.access import Forwarded, InboxAccess
from nudgeflow.channels.inapp.feed import InboxFeed
from nudgeflow.channels.inapp.idempotency import MAX_KEY_LENGTH, Answer, IdempotencyKeys, KeyReused
from nudgeflow.channels.inapp.limits import MAX_DELIVERY_ID_LENGTH
from nudgeflow.channels.inapp.listing import DEFAULT_PAGE, MAX_PAGE, BadCursor, PromptList, View, in_view, page, unread
from nudgeflow.channels.inapp.progress_feed import ProgressFeed
from nudgeflow.channels.inapp.stream import Streams, event_stream_response
from nudgeflow.channels.inapp.user_auth import UserAuth
from nudgeflow.channels.product_events import PublishEvent, prompt_status_event, survey_answered_event
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus, SurveyAnswer

PublishPrompt = Callable[[Prompt], Awaitable[None]]
DELIVERY_ID = Path(min_length=1, max_length=MAX_DELIVERY_ID_LENGTH)
LINK_REF = r"^(cta|secondary_cta|links\.[0-9]{1,2})$"
SERVED_BY_HEADER = "X-Nudgeflow-Served-By"
REPLAYED = "Idempotent-Replayed"
IDEMPOTENCY_KEY = Header(
    default=None,
    alias="Idempotency-Key",
    min_length=1,
    max_length=MAX_KEY_LENGTH,
    description="Retrying with the same key within 24 h answers the first answer again (`Idempotent-Replayed: true`).",
)
ModelT = TypeVar("ModelT", bound=BaseModel)


class UserStateUnavailable(Exception):
    """The user's state can't be read right now (its worker is unreachable): 503, try again."""


UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The worker holding this user did not answer; retry (Retry-After)"}
}


async def _read(inbox_access: InboxAccess, user_id: str, request: Request, response: Response) -> PromptList:
    """A user's whole inbox, from the worker holding the user (503 while none answers)."""
    try:
        inbox, served_by = await inbox_access.read(user_id, request.headers)
    except UserStateUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc), headers={"Retry-After": "1"}) from exc
    response.headers[SERVED_BY_HEADER] = served_by
    return inbox


class UnreadCount(BaseModel):
    user_id: str
    unread: int


class StatusChange(BaseModel):
    status: Literal["seen", "clicked", "dismissed", "archived"]
    link: str | None = Field(
        default=None,
        pattern=LINK_REF,
        description="With `clicked`: which of the prompt's links was followed (`cta`, `secondary_cta`, `links.N`); "
        "each link's click is published once, with its URL, and counted as a `link_clicked` outcome.",
    )


class SurveyReply(BaseModel):
    rating: int = Field(ge=1, le=10, description="1 to the survey's `scale`.")
    comment: str | None = Field(default=None, max_length=2000, description="Optional, when the survey asks for one.")


class Snooze(BaseModel):
    until: AwareDatetime | None = Field(description="Hide the prompt until then; null (or a past time) brings it back.")


class MarkAll(BaseModel):
    status: Literal["seen", "dismissed", "archived"]
    before: AwareDatetime | None = Field(
        default=None,
        description="Only prompts created up to then (default: now), so a prompt that arrives while the user "
        "clicks 'mark all' keeps its status.",
    )


class MarkAllResult(BaseModel):
    user_id: str
    changed: int = Field(description="Prompts whose status moved.")
    unread: int


def _json(model: BaseModel, response: Response) -> Response:
    """The model's JSON as the answer, with the headers set on `response` (such as the serving worker):
    serialized once, where FastAPI's `response_model` would validate the model again first (the
    declared `response_model` still documents the answer)."""
    headers = {name: value for name, value in response.headers.items() if name != "content-length"}
    return Response(model.model_dump_json(), media_type="application/json", headers=headers)


def _forwarded_answer(forwarded: Forwarded) -> Response:
    return Response(
        forwarded.content,
        status_code=forwarded.status_code,
        media_type="application/json",
        headers={SERVED_BY_HEADER: forwarded.served_by},
    )


def inbox_router(
    feed: InboxFeed,
    inbox_access: InboxAccess,
    publish: PublishPrompt,
    publish_event: PublishEvent,
    auth: UserAuth,
    streams: Streams,
    heartbeat_seconds: float,
    keys: IdempotencyKeys | None = None,
    progress: ProgressFeed | None = None,
) -> APIRouter:
    keys = keys or IdempotencyKeys()
    router = APIRouter(
        prefix="/v1",
        tags=["in-app"],
        responses={
            401: {"description": "Missing, invalid or expired token"},
            403: {"description": "Token of another user"},
            **UNAVAILABLE,
        },
    )
    authorized = Depends(auth.header_dependency())
    authorized_stream = Depends(auth.header_or_query_dependency())

    async def forward(request: Request, user_id: str, resource: str, body: BaseModel) -> Response | None:
        """A change goes to the worker holding the user; None when that is this one."""
        try:
            forwarded = await inbox_access.forward(user_id, request.headers, resource, body.model_dump(mode="json"))
        except UserStateUnavailable as exc:
            raise HTTPException(status_code=503, detail=str(exc), headers={"Retry-After": "1"}) from exc
        return _forwarded_answer(forwarded) if forwarded is not None else None

    async def find(request: Request, response: Response, user_id: str, delivery_id: str) -> Prompt:
        inbox = await _read(inbox_access, user_id, request, response)
        prompt = next((p for p in inbox.prompts if p.delivery_id == delivery_id), None)
        if prompt is None:
            raise HTTPException(status_code=404, detail="no such prompt for this user")
        return prompt

    async def write(prompt: Prompt, updated: Prompt) -> Prompt:
        """Publish a change and answer once reads show it."""
        await publish(updated)
        await inbox_access.settled(updated)
        return prompt.merge(updated)

    async def forward_read(request: Request, user_id: str, resource: str) -> Response | None:
        """A read answered by the worker holding the user, its bytes passed on; None when that is this one."""
        query = request.url.query
        try:
            forwarded = await inbox_access.forward_read(
                user_id, request.headers, f"{resource}?{query}" if query else resource
            )
        except UserStateUnavailable as exc:
            raise HTTPException(status_code=503, detail=str(exc), headers={"Retry-After": "1"}) from exc
        return _forwarded_answer(forwarded) if forwarded is not None else None

    def read_here(user_id: str, response: Response) -> PromptList:
        """After `forward_read` said this worker answers: its own copy, never a second forward."""
        inbox, served_by = inbox_access.read_here(user_id)
        response.headers[SERVED_BY_HEADER] = served_by
        return inbox

    @router.get("/users/{user_id:path}/prompts", response_model=PromptList)
    async def list_prompts(
        request: Request,
        response: Response,
        user_id: str = authorized,
        status: list[PromptStatus] | None = Query(default=None, max_length=8),
        view: View = Query(default="inbox", description="`inbox`: all but archived and snoozed; `all`: every one."),
        limit: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
        cursor: str | None = Query(default=None, max_length=200, description="`next_cursor` of the page before."),
    ) -> Response:
        """A user's prompts, newest first, a page at a time; `status` filters (repeatable). Any worker
        answers: it reads the user's inbox where it lives (`X-Nudgeflow-Served-By` says which worker)."""
        forwarded = await forward_read(request, user_id, "prompts")
        if forwarded is not None:
            return forwarded
        inbox = read_here(user_id, response)
        now = datetime.now(UTC)
        try:
            chosen, next_cursor = page(
                in_view(inbox.prompts, now=now, view=view, statuses=status), limit=limit, cursor=cursor
            )
        except BadCursor as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        listed = PromptList(user_id=user_id, unread=unread(inbox.prompts, now), prompts=chosen, next_cursor=next_cursor)
        return _json(listed, response)

    @router.get("/users/{user_id:path}/prompts/unread", response_model=UnreadCount)
    async def unread_count(request: Request, response: Response, user_id: str = authorized) -> Response:
        """How many prompts the user has not seen yet, snoozed ones aside (for a badge)."""
        forwarded = await forward_read(request, user_id, "prompts/unread")
        if forwarded is not None:
            return forwarded
        inbox = read_here(user_id, response)
        return _json(UnreadCount(user_id=user_id, unread=unread(inbox.prompts, datetime.now(UTC))), response)

    @router.get(
        "/users/{user_id:path}/prompts/stream",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "Server-sent events, each with an id: `snapshot` (the whole inbox, first and after "
                "a resync), `prompt` ({change, unread, prompt}) on every creation or status change, `progress` (the "
                "checklist, as `/progress` answers it) when it may have changed, and `: ping` "
                "comments as heartbeats. A reconnect with `Last-Event-ID` gets only the changes it missed.",
            }
        },
    )
    async def stream_prompts(
        request: Request,
        user_id: str = authorized_stream,
        last_event_id: str | None = Header(
            default=None, alias="Last-Event-ID", max_length=64, description="Sent by EventSource on reconnect."
        ),
    ) -> EventSourceResponse:
        """Live inbox over server-sent events: a new prompt shows up without polling."""
        headers = dict(request.headers)
        token = request.query_params.get("token")
        if token and "authorization" not in headers:  # EventSource's token: the holder needs it too
            headers["authorization"] = f"Bearer {token}"
        return event_stream_response(
            feed,
            inbox_access.read,
            user_id,
            streams,
            headers=headers,
            last_event_id=last_event_id,
            heartbeat_seconds=heartbeat_seconds,
            progress=progress,
        )

    async def replay_or_forward(
        request: Request, user_id: str, resource: str, body: BaseModel, key: str | None
    ) -> Response | None:
        """The holder's answer (forwarded), the first answer to a repeated `Idempotency-Key`, or None: act here."""
        forwarded = await forward(request, user_id, resource, body)
        if forwarded is not None or key is None:
            return forwarded
        try:
            answer = keys.answer(user_id, key, keys.fingerprint(resource, body.model_dump_json().encode()))
        except KeyReused as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        if answer is None:
            return None
        return Response(
            answer.body, status_code=answer.status_code, media_type="application/json", headers={REPLAYED: "true"}
        )

    def remembered(user_id: str, resource: str, body: BaseModel, key: str | None, result: ModelT) -> ModelT:
        if key is not None:
            fingerprint = keys.fingerprint(resource, body.model_dump_json().encode())
            keys.remember(user_id, key, fingerprint, Answer(200, result.model_dump_json().encode()))
        return result

    @router.post(
        "/users/{user_id:path}/prompts/{delivery_id}/status",
        response_model=Prompt,
        responses={404: {"description": "No such prompt for this user"}, 422: {"description": "Bad change"}},
    )
    async def change_status(
        request: Request,
        response: Response,
        change: StatusChange,
        delivery_id: str = DELIVERY_ID,
        user_id: str = authorized,
        key: str | None = IDEMPOTENCY_KEY,
    ) -> Response | Prompt:
        """Mark a prompt seen, clicked, dismissed or archived. Status never moves backwards.

        A real change is also published to the events topic as a track event ("Prompt Seen",
        "Prompt Clicked", "Prompt Dismissed", "Prompt Archived") keyed by user id, for rules and
        analytics. The worker holding the user makes the change and answers once its inbox shows
        it, so the user's next read, through any worker, shows it too."""
        resource = f"prompts/{quote(delivery_id, safe='')}/status"
        early = await replay_or_forward(request, user_id, resource, change, key)
        if early is not None:
            return early
        prompt = await find(request, response, user_id, delivery_id)
        return remembered(user_id, resource, change, key, await apply_status(prompt, change))

    async def apply_status(prompt: Prompt, change: StatusChange) -> Prompt:
        if change.link is not None:
            if change.status != "clicked":
                raise HTTPException(status_code=422, detail="`link` goes with status `clicked`")
            if prompt.link_at(change.link) is None:
                raise HTTPException(status_code=404, detail=f"this prompt has no link {change.link!r}")
        updated = prompt.with_status(PromptStatus(change.status), at=datetime.now(UTC))
        if updated.status.rank <= prompt.status.rank:
            if change.link is None:
                return prompt
            # Already clicked: a click on another link still counts (its own messageId).
            await publish_event(
                prompt_status_event(prompt.with_status(PromptStatus.CLICKED, at=datetime.now(UTC)), link=change.link)
            )
            return prompt
        await publish_event(
            prompt_status_event(updated, link=change.link)
        )  # first: its messageId makes a retry harmless
        return await write(prompt, updated)

    @router.post(
        "/users/{user_id:path}/prompts/{delivery_id}/answer",
        response_model=Prompt,
        responses={
            404: {"description": "No such prompt for this user, or it asks no survey"},
            409: {"description": "The survey was answered already, with another answer"},
            422: {"description": "Rating out of the survey's scale, or a comment it does not ask for"},
        },
    )
    async def answer_survey(
        request: Request,
        response: Response,
        body: SurveyReply,
        delivery_id: str = DELIVERY_ID,
        user_id: str = authorized,
        key: str | None = IDEMPOTENCY_KEY,
    ) -> Response | Prompt:
        """Answer the prompt's micro-survey (a rating, and a comment if it asks for one), once.

        The answer is kept on the prompt and published to the events topic as the track event
        "Survey Answered" (rating, scale, comment, the prompt's playbook, milestone and kind), which
        the worker records as a `survey_answered` outcome for the dashboard. Sending the same answer
        again changes nothing; another answer is refused (409)."""
        resource = f"prompts/{quote(delivery_id, safe='')}/answer"
        early = await replay_or_forward(request, user_id, resource, body, key)
        if early is not None:
            return early
        prompt = await find(request, response, user_id, delivery_id)
        return remembered(user_id, resource, body, key, await apply_answer(prompt, body))

    async def apply_answer(prompt: Prompt, body: SurveyReply) -> Prompt:
        survey = prompt.survey
        if survey is None:
            raise HTTPException(status_code=404, detail="this prompt asks no survey")
        if body.rating > survey.scale:
            raise HTTPException(status_code=422, detail=f"rating: give 1 to {survey.scale}")
        comment = (body.comment or "").strip() or None
        if comment is not None and not survey.comment:
            raise HTTPException(status_code=422, detail="comment: this survey asks for a rating only")
        if prompt.answer is not None:
            if (prompt.answer.rating, prompt.answer.comment) == (body.rating, comment):
                return prompt
            raise HTTPException(status_code=409, detail="this survey was answered already")
        answer = SurveyAnswer(rating=body.rating, comment=comment, answered_at=datetime.now(UTC))
        updated = prompt.model_copy(update={"answer": answer})
        await publish_event(survey_answered_event(updated))  # first: its messageId makes a retry harmless
        return await write(prompt, updated)

    @router.post(
        "/users/{user_id:path}/prompts/{delivery_id}/snooze",
        response_model=Prompt,
        responses={404: {"description": "No such prompt for this user"}},
    )
    async def snooze(
        request: Request,
        response: Response,
        body: Snooze,
        delivery_id: str = DELIVERY_ID,
        user_id: str = authorized,
        key: str | None = IDEMPOTENCY_KEY,
    ) -> Response | Prompt:
        """Hide a prompt from the inbox and its unread count until a time (null: bring it back now). The
        latest snooze wins; the prompt's status is untouched."""
        resource = f"prompts/{quote(delivery_id, safe='')}/snooze"
        early = await replay_or_forward(request, user_id, resource, body, key)
        if early is not None:
            return early
        prompt = await find(request, response, user_id, delivery_id)
        snoozed = await write(prompt, prompt.snoozed(body.until, at=datetime.now(UTC)))
        return remembered(user_id, resource, body, key, snoozed)

    @router.post("/users/{user_id:path}/prompts/mark-all", response_model=MarkAllResult)
    async def mark_all(
        request: Request,
        response: Response,
        body: MarkAll,
        user_id: str = authorized,
        key: str | None = IDEMPOTENCY_KEY,
    ) -> Response | MarkAllResult:
        """Mark every prompt created up to `before` (default: now) seen, dismissed or archived; prompts
        already further along keep their status. One track event per prompt changed, as for one."""
        resource = "prompts/mark-all"
        early = await replay_or_forward(request, user_id, resource, body, key)
        if early is not None:
            return early
        inbox = await _read(inbox_access, user_id, request, response)
        now = datetime.now(UTC)
        before, status = body.before or now, PromptStatus(body.status)
        moving = [p for p in inbox.prompts if p.created_at <= before and p.status.rank < status.rank]
        after = {p.delivery_id: p for p in inbox.prompts}
        for prompt in moving:
            updated = prompt.with_status(status, at=now)
            await publish_event(prompt_status_event(updated))
            after[prompt.delivery_id] = await write(prompt, updated)
        result = MarkAllResult(user_id=user_id, changed=len(moving), unread=unread(after.values(), now))
        return remembered(user_id, resource, body, key, result)

    return router
