"""Per-user token checks as FastAPI dependencies; the security schemes show up in the OpenAPI document.

Every `/v1/users/{user_id}/...` call needs a per-user JWT minted by the product's backend
(`Authorization: Bearer <token>`; the stream also accepts `?token=` because browsers' EventSource
cannot set headers). No or bad token: 401; a token for another user: 403.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import lru_cache

from fastapi import HTTPException, Path, Security
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from nudgeflow.channels.inapp.auth import InvalidToken, SigningKeys, TokenClaims, verify_token
from nudgeflow.channels.inapp.limits import MAX_USER_ID_LENGTH

# User ids are opaque (what the events' userId accepts, up to 256 characters): `{user_id:path}` lets an id
# with `/` through, percent-encoded or not. Each route ends in its own literal suffix, so the match is unique.
USER_ID = Path(
    min_length=1,
    max_length=MAX_USER_ID_LENGTH,
    description="The user's id as in the events' userId, percent-encoded (`/` may stay or be `%2F`).",
)


_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="userToken",
    bearerFormat="JWT",
    description="Per-user JWT (HS256; sub, aud, exp, kid) minted by your backend (docs/inapp.md).",
)
_QUERY = APIKeyQuery(
    name="token",
    auto_error=False,
    scheme_name="userTokenQuery",
    description="The same token as a query parameter, for EventSource (stream only).",
)
_FROM_HEADER = Security(_BEARER)
_FROM_QUERY = Security(_QUERY)
TOKEN_CACHE_SIZE = 10_000  # verified tokens remembered per worker (a few MB)


class UserAuth:
    """Token checks as FastAPI dependencies; the security schemes show up in the OpenAPI document."""

    def __init__(
        self, keys: SigningKeys, *, cache_size: int = TOKEN_CACHE_SIZE, now: Callable[[], float] = time.time
    ) -> None:
        self.keys = keys
        self.now = now
        # A widget polls with the same token for its whole life: the signature is checked once
        # (PyJWT's decode was 11% of a worker's inbox read, docs/benchmarks.md), expiry every time.
        self._signed = lru_cache(maxsize=cache_size)(self._verify)

    def _verify(self, token: str) -> TokenClaims:
        return verify_token(self.keys, token)

    def claims(self, token: str) -> TokenClaims:
        """The token's claims, its signature verified once per token; expiry checked on every call."""
        claims = self._signed(token)  # raises for a bad token (exceptions are not cached)
        if claims.expires_at <= self.now():
            raise InvalidToken("token expired")
        return claims

    def check(self, user_id: str, token: str | None) -> str:
        if not token:
            raise HTTPException(status_code=401, detail="missing token", headers={"WWW-Authenticate": "Bearer"})
        try:
            claims = self.claims(token)
        except InvalidToken as exc:
            raise HTTPException(
                status_code=401,
                detail=f"invalid token: {exc}",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from exc
        if claims.user_id != user_id:
            raise HTTPException(status_code=403, detail="this token is for another user")
        return user_id

    def header_dependency(self) -> Callable[..., Awaitable[str]]:
        async def user_from_header(
            user_id: str = USER_ID, credentials: HTTPAuthorizationCredentials | None = _FROM_HEADER
        ) -> str:
            return self.check(user_id, credentials.credentials if credentials else None)

        return user_from_header

    def header_or_query_dependency(self) -> Callable[..., Awaitable[str]]:
        async def user_from_header_or_query(
            user_id: str = USER_ID,
            credentials: HTTPAuthorizationCredentials | None = _FROM_HEADER,
            token: str | None = _FROM_QUERY,
        ) -> str:
            return self.check(user_id, credentials.credentials if credentials else token)

        return user_from_header_or_query
