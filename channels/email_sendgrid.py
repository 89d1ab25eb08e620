"""Email through SendGrid's v3 Mail Send API, using the official client.

`sendgrid.SendGridAPIClient` is synchronous (urllib) and has no retry of its
own, so each send runs in a worker thread with a per-request timeout and its
exceptions are mapped to a `SendResult`.

At-least-once caveat: SendGrid has no idempotency key. A timeout after SendGrid
accepted the mail is reported as `retry`, and the retry sends a second copy;
`delivery_id` in custom_args lets webhook consumers spot such duplicates.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Callable
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from nudgeflow.channels._http import parse_retry_after, status_outcome
from nudgeflow.channels.base import ChannelConfigError, OutboundMessage, SendResult
from nudgeflow.channels.sendgrid_mail import build_mail


class SendGridEmailChannel:
    """`Channel` for email; `name` is "email"."""

    name = "email"

    def __init__(
        self,
        api_key: str,
        from_email: str,
        host: str = "https://api.sendgrid.com",
        *,
        from_name: str | None = None,
        timeout: float = 10.0,
        one_click_unsubscribe: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise ChannelConfigError("SendGrid api_key is empty")
        if not from_email:
            raise ChannelConfigError("from_email is empty")
        self._client = SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))
        self._from_email = from_email
        self._from_name = from_name
        self._timeout = timeout
        self._one_click = one_click_unsubscribe
        self._clock = clock

    async def send(self, message: OutboundMessage) -> SendResult:
        if not message.to_email:
            return SendResult.failed(reason="no_recipient: message has no to_email")
        try:
            payload = build_mail(
                message, from_email=self._from_email, from_name=self._from_name, one_click_unsubscribe=self._one_click
            )
        except (ValueError, TypeError) as error:
            return SendResult.failed(reason=f"invalid message: {error}")
        return await asyncio.to_thread(self._post, payload)

    def _post(self, payload: dict[str, object]) -> SendResult:
        """One blocking POST /v3/mail/send; runs in a worker thread."""
        try:
            response = self._client.client.mail.send.post(request_body=payload, timeout=self._timeout)
        except HTTPError as error:
            return self._from_http_error(error)
        except TimeoutError:
            return SendResult.retry(reason=f"timeout after {self._timeout:g}s")
        except URLError as error:
            if isinstance(error.reason, TimeoutError):
                return SendResult.retry(reason=f"timeout after {self._timeout:g}s")
            return SendResult.retry(reason=f"connection error: {error.reason}")
        except (http.client.HTTPException, OSError) as error:
            return SendResult.retry(reason=f"connection error: {type(error).__name__}: {error}")
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return SendResult.sent(provider_message_id=message_id, status_code=response.status_code)

    def _from_http_error(self, error: HTTPError) -> SendResult:
        status = int(error.status_code)
        reason = _error_reason(error)
        if status_outcome(status) == "retry":
            return SendResult.retry(
                reason=reason,
                status_code=status,
                retry_after_seconds=parse_retry_after(error.headers, now=self._clock()),
            )
        return SendResult.failed(reason=reason, status_code=status)


def _error_reason(error: HTTPError) -> str:
    """SendGrid's `errors[].message` texts, or the HTTP reason phrase when the body is not JSON."""
    body = error.body
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body or "")
        errors = json.loads(text).get("errors") or []
        messages = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
    except (ValueError, AttributeError):
        messages = []
    if messages:
        return "; ".join(messages)
    return f"HTTP {error.status_code} {error.reason}".strip()
