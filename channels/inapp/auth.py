"""Per-user tokens for the in-app API and for unsubscribe links: JWTs (HS256) made and checked by PyJWT.

The product's backend, which knows who is logged in, mints a short-lived token for that user
with the shared secret (`NUDGEFLOW_INAPP_SIGNING_SECRET`) and hands it to the widget; the API
accepts it for that user only. Any JWT library can mint one (docs/inapp.md):

    header  {"alg": "HS256", "typ": "JWT", "kid": "<NUDGEFLOW_INAPP_SIGNING_KEY_ID>"}
    claims  {"sub": "<user id>", "aud": "nudgeflow-inapp", "exp": <unix seconds>, "iat": <unix seconds>}

`aud` separates API tokens ("nudgeflow-inapp") from unsubscribe links ("nudgeflow-unsubscribe"):
a link forwarded in an email cannot read the inbox, and an API token cannot unsubscribe anyone.
`kid` names the key that signed the token, so keys rotate without a flag day: new tokens use the
current key, tokens signed with a previous key stay valid while that key is listed.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import jwt
from jwt.warnings import InsecureKeyLengthWarning
from pydantic import SecretStr

from nudgeflow.channels.product_events import LinkClick

log = logging.getLogger(__name__)

Purpose = Literal["inapp", "unsubscribe", "click"]
Secret = str | bytes | SecretStr

ALGORITHM = "HS256"
MIN_KEY_BYTES = 32  # RFC 7518 §3.2: an HS256 key has at least 256 bits
AUDIENCES: dict[Purpose, str] = {
    "inapp": "nudgeflow-inapp",
    "unsubscribe": "nudgeflow-unsubscribe",
    "click": "nudgeflow-click",
}
DEFAULT_KEY_ID = "k1"
DEFAULT_TTL_SECONDS = 3600.0
UNSUBSCRIBE_TTL_SECONDS = 90 * 24 * 3600.0
CLICK_TTL_SECONDS = 180 * 24 * 3600.0  # links in emails are clicked late; past this the link shows a notice
MAX_TOKEN_LENGTH = 4096


class InvalidToken(Exception):
    """The token is malformed, forged, expired or for another audience (the reason is in the message)."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    expires_at: int
    purpose: Purpose
    key_id: str


def _key(secret: Secret) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the signing secret is empty")
    return key


@dataclass(frozen=True)
class SigningKeys:
    """The key new tokens are signed with (`current_id`) and every key tokens are checked against."""

    current_id: str
    current: bytes = field(repr=False)
    previous: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls, current: Secret, current_id: str = DEFAULT_KEY_ID, previous: Mapping[str, Secret] | None = None
    ) -> SigningKeys:
        if not current_id:
            raise ValueError("the signing key id is empty")
        older = {kid: _key(secret) for kid, secret in (previous or {}).items() if kid != current_id}
        keys = cls(current_id=current_id, current=_key(current), previous=older)
        short = [kid for kid, key in [(current_id, keys.current), *older.items()] if len(key) < MIN_KEY_BYTES]
        if short:
            log.warning("in-app signing keys %s are shorter than %d bytes (RFC 7518)", short, MIN_KEY_BYTES)
        return keys

    def lookup(self, key_id: str) -> bytes | None:
        return self.current if key_id == self.current_id else self.previous.get(key_id)


Keys = SigningKeys | Secret


@contextlib.contextmanager
def _quiet_key_length() -> Iterator[None]:
    """PyJWT warns on every call with a short key; `SigningKeys.of` says it once, in the log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        yield


def signing_keys(keys: Keys) -> SigningKeys:
    """A bare secret is the only key, with the default key id."""
    return keys if isinstance(keys, SigningKeys) else SigningKeys.of(keys)


def issue_token(
    keys: Keys,
    user_id: str,
    ttl: float = DEFAULT_TTL_SECONDS,
    *,
    purpose: Purpose = "inapp",
    now: float | None = None,
) -> str:
    """A token that lets its bearer act as `user_id` for `ttl` seconds, signed with the current key."""
    if not user_id:
        raise ValueError("user_id is empty")
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    ring = signing_keys(keys)
    issued = int(time.time() if now is None else now)
    claims = {"sub": user_id, "aud": AUDIENCES[purpose], "iat": issued, "exp": int(issued + ttl)}
    with _quiet_key_length():
        return jwt.encode(claims, ring.current, algorithm=ALGORITHM, headers={"kid": ring.current_id})


def verify_token(keys: Keys, token: str, *, purpose: Purpose = "inapp", now: float | None = None) -> TokenClaims:
    """The token's claims; raises `InvalidToken` unless it is genuine, unexpired and for `purpose`."""
    claims, key_id = _verified(keys, token, purpose, now)
    user_id, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(user_id, str) or not user_id:
        raise InvalidToken("token has no subject (sub)")
    assert isinstance(expires, int | float)  # PyJWT checked it is a number
    return TokenClaims(user_id=user_id, expires_at=int(expires), purpose=purpose, key_id=key_id)


def _verified(keys: Keys, token: str, purpose: Purpose, now: float | None) -> tuple[dict[str, object], str]:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed token")
    if token.count(".") == 1:
        raise InvalidToken("old token format (before JWT): mint a new token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise InvalidToken("malformed token: not a JWT") from exc
    key_id = header.get("kid")
    if not isinstance(key_id, str) or not key_id:
        raise InvalidToken("token has no key id (kid)")
    key = signing_keys(keys).lookup(key_id)
    if key is None:
        raise InvalidToken(f"unknown key id {key_id!r}")
    return _decode(token, key, purpose, now), key_id


def _decode(token: str, key: bytes, purpose: Purpose, now: float | None) -> dict[str, object]:
    # PyJWT checks exp against the wall clock: a given `now` (tests) becomes a leeway instead.
    leeway = 0.0 if now is None else time.time() - now
    try:
        with _quiet_key_length():
            claims: dict[str, object] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCES[purpose],
                leeway=leeway,
                # iat is informational: a backend clock a little ahead must not make fresh tokens "not yet valid".
                options={"require": ["exp", "sub", "aud"], "verify_iat": False},
            )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.InvalidAudienceError as exc:  # raised after the signature checked out: the claims are genuine
        actual = jwt.decode(token, options={"verify_signature": False}).get("aud")
        raise InvalidToken(f"token is for audience {actual!r}, not {AUDIENCES[purpose]!r}") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("bad signature") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"token has no {exc.claim!r} claim") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"malformed token: {exc}") from exc
    return claims


def issue_unsubscribe_token(
    keys: Keys, user_id: str, ttl: float = UNSUBSCRIBE_TTL_SECONDS, *, now: float | None = None
) -> str:
    """Token for an unsubscribe link; long-lived because emails are read late."""
    return issue_token(keys, user_id, ttl, purpose="unsubscribe", now=now)


def unsubscribe_url(api_base_url: str, keys: Keys, user_id: str, ttl: float = UNSUBSCRIBE_TTL_SECONDS) -> str:
    """The `GET/POST /v1/unsubscribe?token=...` link to put in an email (`OutboundMessage.unsubscribe_url`)."""
    token = issue_unsubscribe_token(keys, user_id, ttl)
    return f"{api_base_url.rstrip('/')}/v1/unsubscribe?token={quote(token)}"


_CLICK_CLAIMS = {
    "d": "delivery_id",
    "l": "link",
    "u": "url",
    "c": "channel",
    "p": "playbook_id",
    "v": "playbook_version",
    "m": "milestone_id",
    "k": "kind",
}


def issue_click_token(keys: Keys, click: LinkClick, ttl: float = CLICK_TTL_SECONDS, *, now: float | None = None) -> str:
    """A token for `GET /v1/r/{token}`: signed, so the redirect can't be pointed anywhere else (no open redirect)."""
    ring = signing_keys(keys)
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "sub": click.user_id,
        "aud": AUDIENCES["click"],
        "iat": issued,
        "exp": int(issued + ttl),
    }
    claims.update({short: getattr(click, name) for short, name in _CLICK_CLAIMS.items()})
    with _quiet_key_length():
        return jwt.encode(claims, ring.current, algorithm=ALGORITHM, headers={"kid": ring.current_id})


def verify_click_token(keys: Keys, token: str, *, now: float | None = None) -> LinkClick:
    claims, _ = _verified(keys, token, "click", now)
    values = {name: claims.get(short) for short, name in _CLICK_CLAIMS.items()}
    if not all(isinstance(v, str) for v in values.values()) or not isinstance(claims.get("sub"), str):
        raise InvalidToken("malformed link token")
    return LinkClick(user_id=str(claims["sub"]), **{k: str(v) for k, v in values.items()})


def click_url(api_base_url: str, keys: Keys, click: LinkClick) -> str:
    """The tracked `GET /v1/r/{token}` link that records a click and redirects to `click.url`."""
    return f"{api_base_url.rstrip('/')}/v1/r/{issue_click_token(keys, click)}"
