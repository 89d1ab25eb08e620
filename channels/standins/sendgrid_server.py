"""A local stand-in for SendGrid's v3 Mail Send API (`POST /v3/mail/send`).

Validates what SendGrid validates first (Bearer key, personalizations/to,
from, subject, content, custom_args types), answers 202 with `X-Message-Id`,
and errors as `{"errors": [{"message", "field", "help"}]}`. Keys choose
behaviour like slack-sdk's test server: "SG.invalid" → 401, "SG.forbidden" → 403.
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Any

from aiohttp import web

from nudgeflow.channels.standins.faults import Fault
from nudgeflow.channels.standins.server import RecordedRequest, StandInServer, record_of

INVALID_KEY = "SG.invalid"
FORBIDDEN_KEY = "SG.forbidden"
AUTH_MESSAGE = "The provided authorization grant is invalid, expired, or revoked"
_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


def sendgrid_errors(
    status: int, *errors: tuple[str, str | None], headers: dict[str, str] | None = None
) -> web.Response:
    """SendGrid's error body: one entry per (message, field)."""
    body = {"errors": [{"message": m, "field": f, "help": f"{_HELP}#message.{f}" if f else None} for m, f in errors]}
    return web.json_response(body, status=status, headers=headers)


class SendGridStandIn(StandInServer):
    """`messages` are the accepted mail bodies; `requests` everything, failures included."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v3/mail/send", self._mail_send)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [r.body for r in self.accepted]

    @property
    def accepted(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v3/mail/send" and r.status == 202]

    def fault_response(self, fault: Fault) -> web.Response:
        if fault.status == 429:
            wait = fault.retry_after if fault.retry_after is not None else 1.0
            reset = math.ceil(time.time() + wait)
            return sendgrid_errors(
                429,
                (fault.error or "too many requests", None),
                headers={"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
            )
        return sendgrid_errors(fault.status, (fault.error or _default_message(fault.status), None))

    async def _mail_send(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not key or key == INVALID_KEY:
            return sendgrid_errors(401, (AUTH_MESSAGE, None))
        if key == FORBIDDEN_KEY:
            return sendgrid_errors(403, ("access forbidden", None))
        body = record_of(request).body
        if not isinstance(body, dict):
            return sendgrid_errors(400, ("Bad Request", None))
        problems = validate_mail(body)
        if problems:
            return sendgrid_errors(400, *problems)
        return web.Response(status=202, headers={"X-Message-Id": secrets.token_urlsafe(16)})


def validate_mail(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The subset of SendGrid's payload checks our adapter could get wrong."""
    problems: list[tuple[str, str | None]] = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append(
            ("The personalizations field is required and must have at least one personalization.", "personalizations")
        )
    else:
        for i, p in enumerate(personalizations):
            to = p.get("to") if isinstance(p, dict) else None
            if not to or not all(isinstance(t, dict) and "@" in str(t.get("email", "")) for t in to):
                problems.append(
                    (
                        "The to array is required for all personalization objects, "
                        "and must have at least one email object with a valid email address.",
                        f"personalizations.{i}.to",
                    )
                )
    sender = body.get("from")
    if not isinstance(sender, dict) or "@" not in str(sender.get("email", "")):
        problems.append(
            (
                "The from object must be provided for every email send. "
                "It is an object that requires the email parameter, "
                "but may also contain a name parameter.",
                "from",
            )
        )
    has_template = bool(body.get("template_id"))
    if (
        not has_template
        and not body.get("subject")
        and not any(isinstance(p, dict) and p.get("subject") for p in personalizations or [])
    ):
        problems.append(
            (
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject defined.",
                "subject",
            )
        )
    content = body.get("content")
    if not has_template:
        if not content:
            problems.append(
                (
                    "Unless a valid template_id is provided, the content parameter is required. "
                    "There must be at least one defined content block.",
                    "content",
                )
            )
        elif any(c.get("type") == "text/plain" for c in content) and content[0].get("type") != "text/plain":
            problems.append(("If present, text/plain content must be first, followed by any other content.", "content"))
    custom_args = body.get("custom_args") or {}
    if any(not isinstance(v, str) for v in custom_args.values()):
        problems.append(("Custom args values must be strings.", "custom_args"))
    if len(body.get("categories") or []) > 10:
        problems.append(("Too many categories. Up to 10 are allowed.", "categories"))
    return problems


def _default_message(status: int) -> str:
    return {
        400: "Bad Request",
        401: AUTH_MESSAGE,
        403: "access forbidden",
        404: "Not Found",
        413: "Payload Too Large",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }.get(status, f"HTTP {status}")
