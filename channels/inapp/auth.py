"""Per-user tokens for the in-app API and for unsubscribe links (HMAC-SHA256, stdlib only).

The product's backend, which knows who is logged in, mints a short-lived token for
that user with the shared secret (`NUDGEFLOW_INAPP_SIGNING_SECRET`) and hands it to
the widget; the API accepts it for that user only.

    token = base64url(JSON {"u": user_id, "e": expiry_unix, "p": purpose}) + "." + base64url(HMAC-SHA256)

The MAC covers the encoded payload. `purpose` separates API tokens ("inapp") from
unsubscribe links ("unsubscribe"): a link forwarded in an email cannot read the inbox,
and an API token cannot unsubscribe anyone. Python backends call `issue_token`; other
languages reproduce the three lines of `_sign` (see docs/inapp.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from pydantic import SecretStr

Purpose = Literal["inapp", "unsubscribe"]
Secret = str | bytes | SecretStr

DEFAULT_TTL_SECONDS = 3600.0
UNSUBSCRIBE_TTL_SECONDS = 90 * 24 * 3600.0
MAX_TOKEN_LENGTH = 2048


class InvalidToken(Exception):
    """The token is malformed, forged, expired or for another purpose (the reason is in the message)."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    expires_at: int
    purpose: Purpose


def _key(secret: Secret) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the signing secret is empty")
    return key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def issue_token(
    secret: Secret,
    user_id: str,
    ttl: float = DEFAULT_TTL_SECONDS,
    *,
    purpose: Purpose = "inapp",
    now: float | None = None,
) -> str:
    """A token that lets its bearer act as `user_id` for `ttl` seconds."""
    if not user_id:
        raise ValueError("user_id is empty")
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    expires = int((time.time() if now is None else now) + ttl)
    payload = _b64(json.dumps({"u": user_id, "e": expires, "p": purpose}, separators=(",", ":")).encode())
    return f"{payload}.{_sign(_key(secret), payload)}"


def verify_token(secret: Secret, token: str, *, purpose: Purpose = "inapp", now: float | None = None) -> TokenClaims:
    """The token's claims; raises `InvalidToken` unless it is genuine, unexpired and for `purpose`."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise InvalidToken("malformed token")
    payload, signature = token.split(".")
    try:
        expected = _sign(_key(secret), payload)
    except UnicodeEncodeError as exc:
        raise InvalidToken("malformed token") from exc
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise InvalidToken("bad signature")
    try:
        claims = json.loads(_unb64(payload))
        user_id, expires, kind = claims["u"], claims["e"], claims["p"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidToken("malformed token") from exc
    if not isinstance(user_id, str) or not user_id or not isinstance(expires, int):
        raise InvalidToken("malformed token")
    if kind != purpose:
        raise InvalidToken(f"token is for {kind!r}, not {purpose!r}")
    if expires <= (time.time() if now is None else now):
        raise InvalidToken("token expired")
    return TokenClaims(user_id=user_id, expires_at=expires, purpose=kind)


def issue_unsubscribe_token(
    secret: Secret, user_id: str, ttl: float = UNSUBSCRIBE_TTL_SECONDS, *, now: float | None = None
) -> str:
    """Token for an unsubscribe link; long-lived because emails are read late."""
    return issue_token(secret, user_id, ttl, purpose="unsubscribe", now=now)


def unsubscribe_url(api_base_url: str, secret: Secret, user_id: str, ttl: float = UNSUBSCRIBE_TTL_SECONDS) -> str:
    """The `GET/POST /v1/unsubscribe?token=...` link to put in an email (`OutboundMessage.unsubscribe_url`)."""
    token = issue_unsubscribe_token(secret, user_id, ttl)
    return f"{api_base_url.rstrip('/')}/v1/unsubscribe?token={quote(token)}"
