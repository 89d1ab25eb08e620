"""Slack messages through `slack_sdk`'s AsyncWebClient.

Only the connection-error retry handler is installed: a rate-limit handler
would sleep inside `send`, holding the outbox worker, while we want a 429 to
come back as `retry` with Slack's `Retry-After` so the outbox schedules it.

Routing: `message.slack_channel` (team channel, the user is mentioned) wins;
else a DM to `slack_user_id`, looked up by `to_email` when missing; else
`default_channel`. Each post carries message metadata with the delivery_id.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackObjectFormationError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from nudgeflow.channels._http import parse_retry_after
from nudgeflow.channels.base import ChannelConfigError, OutboundMessage, SendResult
from nudgeflow.channels.slack_blocks import fallback_text, message_blocks

# Slack error strings that describe a passing condition on Slack's side.
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
METADATA_EVENT_TYPE = "nudgeflow_delivery"
_LOOKUP_CACHE_SIZE = 10_000


class SlackChannel:
    """`Channel` for Slack; `name` is "slack"."""

    name = "slack"

    def __init__(
        self,
        token: str,
        base_url: str = "https://slack.com/api/",
        default_channel: str | None = None,
        *,
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not token:
            raise ChannelConfigError("Slack token is empty")
        self.default_channel = default_channel
        self.client = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,  # type: ignore[arg-type]
            session=session,
            retry_handlers=[AsyncConnectionErrorRetryHandler()],
        )
        self._user_ids: dict[str, str] = {}

    async def send(self, message: OutboundMessage) -> SendResult:
        try:
            target, mention = await self._route(message)
            if target is None and message.to_email and not message.slack_user_id:
                return SendResult.failed(
                    reason="users_not_found: no Slack user has that email, and there is no default_channel"
                )
            if target is None:
                return SendResult.failed(
                    reason="no_recipient: no slack_channel, slack_user_id, to_email or default_channel"
                )
            response = await self.client.chat_postMessage(
                channel=target,
                text=fallback_text(message),
                blocks=message_blocks(message, mention=mention),
                unfurl_links=False,
                metadata={
                    "event_type": METADATA_EVENT_TYPE,
                    "event_payload": {"delivery_id": message.delivery_id, "user_id": message.user_id},
                },
            )
        except SlackApiError as error:
            return result_from_slack_error(error)
        except SlackObjectFormationError as error:  # the SDK's Block Kit checks, before any request
            return SendResult.failed(reason=f"invalid_blocks: {error}")
        except TimeoutError:
            return SendResult.retry(reason=f"timeout after {self.client.timeout:g}s")
        except (aiohttp.ClientError, OSError) as error:
            return SendResult.retry(reason=f"connection error: {type(error).__name__}: {error}".rstrip(": "))
        provider_id = f"{response.get('channel')}:{response.get('ts')}"
        return SendResult.sent(provider_message_id=provider_id, status_code=response.status_code)

    async def check(self) -> SendResult:
        """Verify the token with auth.test (Novu-style integration check, errors as results)."""
        try:
            response = await self.client.auth_test()
        except SlackApiError as error:
            return result_from_slack_error(error)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            return SendResult.retry(reason=f"connection error: {type(error).__name__}")
        return SendResult.sent(
            provider_message_id=response.get("bot_id") or response.get("user_id"), status_code=response.status_code
        )

    async def _route(self, message: OutboundMessage) -> tuple[str | None, str | None]:
        """(channel to post to, user to mention); raises SlackApiError from the lookup."""
        user_id = message.slack_user_id
        if message.slack_channel:
            return message.slack_channel, user_id
        if user_id is None and message.to_email:
            user_id = await self._lookup(message.to_email)
        if user_id:
            return user_id, None  # chat.postMessage to a user id posts in the app's DM with them
        return self.default_channel, None

    async def _lookup(self, email: str) -> str | None:
        key = email.strip().lower()
        if key in self._user_ids:
            return self._user_ids[key]
        try:
            response = await self.client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            if (getattr(error.response, "data", None) or {}).get("error") == "users_not_found":
                return None  # not in this workspace: fall back to the team channel, if any
            raise
        user = response.get("user") or {}
        user_id = user.get("id") if isinstance(user, dict) else None
        if user_id:
            if len(self._user_ids) >= _LOOKUP_CACHE_SIZE:
                self._user_ids.clear()
            self._user_ids[key] = user_id
        return user_id


def result_from_slack_error(error: SlackApiError) -> SendResult:
    """429/`ratelimited`, 5xx and transient errors → retry; anything else → failed with Slack's error."""
    response: Any = error.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    data = getattr(response, "data", None)
    slack_error = data.get("error") if isinstance(data, dict) else None
    headers = getattr(response, "headers", None)
    reason = slack_error or (f"HTTP {status}" if status else str(error))
    if status == 429 or slack_error in ("ratelimited", "rate_limited"):
        return SendResult.retry(
            reason=reason or "ratelimited", status_code=status, retry_after_seconds=parse_retry_after(headers)
        )
    if (status is not None and status >= 500) or slack_error in RETRYABLE_ERRORS:
        return SendResult.retry(reason=reason, status_code=status, retry_after_seconds=parse_retry_after(headers))
    return SendResult.failed(reason=reason, status_code=status)
