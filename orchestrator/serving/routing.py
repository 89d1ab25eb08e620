"""Answer a read about one user where the user's state is: here when this worker holds the user's
partition, else forwarded once to the worker that does.

A forwarded request carries `X-Nudgeflow-Forwarded` and is always answered locally, so a request
crossing a rebalance is never bounced around: the receiver answers from what it holds (the record,
or a standby copy of it). When the owner does not answer (killed, until the group reassigns its
partitions), a standby copy held here answers; with none, `UserStateUnavailable` (503, retry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from nudgeflow.channels.inapp.access import Forwarded
from nudgeflow.channels.inapp.inbox_routes import SERVED_BY_HEADER, UserStateUnavailable
from nudgeflow.orchestrator.serving.owners import Owners

log = logging.getLogger(__name__)
FORWARDED_HEADER = "x-nudgeflow-forwarded"
FORWARD_TIMEOUT_SECONDS = 5.0
KEEP_ALIVE_SECONDS = 30.0  # below the workers' own (runtime/http.py): never reuse a connection the peer closes
T = TypeVar("T")


class OwnerRouter:
    def __init__(self, owners: Owners) -> None:
        self.owners = owners
        self.forwarded = 0
        self._http = httpx.AsyncClient(
            timeout=FORWARD_TIMEOUT_SECONDS, limits=httpx.Limits(keepalive_expiry=KEEP_ALIVE_SECONDS)
        )

    @property
    def self_url(self) -> str:
        """This worker's advertised API URL (what `X-Nudgeflow-Served-By` says for a local answer)."""
        return self.owners.self_url

    async def read(
        self,
        user_id: str,
        headers: Mapping[str, str],
        *,
        resource: str,
        local: Callable[[], T],
        held_here: Callable[[], bool],
        parse: Callable[[bytes], T],
    ) -> tuple[T, str]:
        """`local()` read here, or the owner's answer to `GET /v1/users/{id}/{resource}` parsed; with the
        URL of the worker that read it."""
        forwarded = await self.forward_get(user_id, headers, resource=resource, held_here=held_here)
        if forwarded is None:
            return local(), self.self_url
        if forwarded.status_code != 200:
            raise UserStateUnavailable(
                f"the worker holding this user ({forwarded.served_by}) answered {forwarded.status_code}"
            )
        return parse(forwarded.content), forwarded.served_by

    async def forward_get(
        self, user_id: str, headers: Mapping[str, str], *, resource: str, held_here: Callable[[], bool]
    ) -> Forwarded | None:
        """A read passed to the worker holding the user and its answer passed back as bytes, without
        parsing it here; None when this worker answers (it holds the user, nobody does right now, the
        request was forwarded to it, or the holder is away and a standby copy is here)."""
        target = self._target(user_id, headers, resource)
        if target is None:
            return None
        owner, url, forward = target
        try:
            response = await self._http.get(url, headers=forward)
        except httpx.HTTPError as exc:
            if held_here():  # a standby copy, until the group reassigns the gone owner's partitions
                return None
            raise UserStateUnavailable(f"the worker holding this user ({owner}) did not answer: {exc!r}") from exc
        if response.status_code >= 500:
            if held_here():
                return None
            raise UserStateUnavailable(f"the worker holding this user ({owner}) answered {response.status_code}")
        self.forwarded += 1
        return Forwarded(response.status_code, response.content, response.headers.get(SERVED_BY_HEADER, owner))

    async def forward_post(
        self, user_id: str, headers: Mapping[str, str], *, resource: str, body: dict[str, Any]
    ) -> Forwarded | None:
        """A write sent on to the worker holding the user, its answer passed back as it is; None when
        this worker should handle it (it holds the user, nobody does right now, or it was forwarded)."""
        target = self._target(user_id, headers, resource)
        if target is None:
            return None
        owner, url, forward = target
        if "idempotency-key" in headers:  # the holder remembers it
            forward["idempotency-key"] = headers["idempotency-key"]
        try:
            response = await self._http.post(url, headers=forward, json=body)
        except httpx.HTTPError as exc:
            raise UserStateUnavailable(f"the worker holding this user ({owner}) did not answer: {exc!r}") from exc
        self.forwarded += 1
        return Forwarded(response.status_code, response.content, response.headers.get(SERVED_BY_HEADER, owner))

    def _target(
        self, user_id: str, headers: Mapping[str, str], resource: str
    ) -> tuple[str, str, dict[str, str]] | None:
        """(owner, URL, headers) of the request to forward; None when this worker answers it itself."""
        owner = self.owners.owner_of(user_id)
        if owner is None or self.owners.is_local(owner) or FORWARDED_HEADER in headers:
            return None
        url = f"{owner.rstrip('/')}/v1/users/{quote(user_id, safe='')}/{resource}"
        return owner, url, {FORWARDED_HEADER: "1", "authorization": headers.get("authorization", "")}

    async def close(self) -> None:
        await self._http.aclose()
