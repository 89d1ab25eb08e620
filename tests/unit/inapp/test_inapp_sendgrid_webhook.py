"""SendGrid webhook: ECDSA signature checked with the configured key (sendgrid's EventWebhook helper) within a
replay window; events mapped to track events; bad entries skipped, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sendgrid.helpers.eventwebhook import EventWebhook

from nudgeflow.channels.webhooks.sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SendGridEvent,
    SendGridSignatureVerifier,
    process_events,
    sendgrid_webhook_router,
    to_track_event,
)
from nudgeflow.rules.contracts.events import TrackEvent, parse_product_event

PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC_DER_B64 = base64.b64encode(
    PRIVATE.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()
PUBLIC_PEM = (
    PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def sign(body: bytes, timestamp: str, key: ec.EllipticCurvePrivateKey = PRIVATE) -> str:
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.mark.parametrize("public_key", [PUBLIC_DER_B64, PUBLIC_PEM])
def test_signature_is_verified_with_base64_or_pem_key(public_key: str) -> None:
    verifier = SendGridSignatureVerifier(public_key)
    body = b'[{"event":"delivered","timestamp":1700000000}]'
    assert verifier.verify(body, sign(body, "1700000001"), "1700000001")
    assert not verifier.verify(body + b" ", sign(body, "1700000001"), "1700000001"), "body changed"
    assert not verifier.verify(body, sign(body, "1700000001"), "1700000002"), "timestamp changed"
    other = ec.generate_private_key(ec.SECP256R1())
    assert not verifier.verify(body, sign(body, "1700000001", other), "1700000001"), "someone else's key"
    assert not verifier.verify(body, "not base64!", "1700000001")
    assert not verifier.verify(body, None, None)


def test_events_become_track_events_keyed_by_our_custom_args() -> None:
    event = SendGridEvent.model_validate(
        {
            "event": "click",
            "timestamp": 1700000000,
            "email": "ana@example.com",
            "sg_event_id": "ev1",
            "sg_message_id": "m1",
            "url": "https://app.example.com/x",
            "delivery_id": "d1",
            "user_id": "ana",
            "kind": "nudge",
            "category": ["onboarding"],
        }
    )
    track = parse_product_event(json.dumps(to_track_event(event)))
    assert isinstance(track, TrackEvent)
    assert (track.event, track.user_id, track.message_id) == ("Email Clicked", "ana", "sendgrid:ev1")
    assert track.properties["delivery_id"] == "d1" and track.properties["url"] == "https://app.example.com/x"
    assert "email" not in track.properties
    foreign = SendGridEvent.model_validate({"event": "delivered", "timestamp": 1700000000, "email": "x@y.z"})
    assert to_track_event(foreign) is None, "not one of our mails: no user to key it by"


@pytest.mark.parametrize(
    "raw, opts_out",
    [
        ({"event": "bounce", "type": "bounce"}, True),
        ({"event": "bounce", "type": "blocked"}, False),
        ({"event": "spamreport"}, True),
        ({"event": "unsubscribe"}, True),
        ({"event": "open"}, False),
        ({"event": "delivered"}, False),
    ],
)
def test_which_events_opt_the_user_out_of_email(raw: dict[str, str], opts_out: bool) -> None:
    assert SendGridEvent.model_validate({**raw, "timestamp": 1}).opts_out_email() is opts_out


async def test_process_events_publishes_and_opts_out() -> None:
    published: list[dict[str, object]] = []
    opted: list[tuple[str, str]] = []

    async def publish(event: dict[str, object]) -> None:
        published.append(event)

    async def opt_out(user: str, source: str) -> None:
        opted.append((user, source))

    events = [
        SendGridEvent.model_validate(e)
        for e in [
            {"event": "delivered", "timestamp": 1, "user_id": "ana", "delivery_id": "d1", "sg_event_id": "a"},
            {
                "event": "bounce",
                "type": "bounce",
                "timestamp": 2,
                "user_id": "bob",
                "delivery_id": "d2",
                "sg_event_id": "b",
            },
            {"event": "open", "timestamp": 3},
        ]
    ]
    result = await process_events(events, publish_event=publish, opt_out_email=opt_out)
    assert (result.received, result.published, result.ignored) == (3, 2, 1)
    assert [e["event"] for e in published] == ["Email Delivered", "Email Bounced"]
    assert opted == [("bob", "sendgrid:bounce")] and result.email_opted_out == ["bob"]


# --- the HTTP endpoint: replay window, absurd timestamps (a 4xx or a skipped entry, never a 500) ---

SIGNED_AT = 1_800_000_000


def webhook_client(clock_at: float = SIGNED_AT, window: float = 300.0) -> tuple[TestClient, list[dict[str, Any]]]:
    published: list[dict[str, Any]] = []

    async def publish(event: dict[str, Any]) -> None:
        published.append(event)

    async def opt_out(user: str, source: str) -> None:
        return None

    verifier = SendGridSignatureVerifier(PUBLIC_DER_B64, replay_window=window, clock=lambda: clock_at)
    api = FastAPI()
    api.include_router(sendgrid_webhook_router(verifier, publish_event=publish, opt_out_email=opt_out))
    return TestClient(api), published


def post_signed(http: TestClient, events: object, signed_at: float = SIGNED_AT) -> httpx.Response:
    body = json.dumps(events).encode()
    timestamp = str(int(signed_at))
    return http.post(
        "/v1/webhooks/sendgrid",
        content=body,
        headers={SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: timestamp},
    )


def delivered(user: str, timestamp: object = SIGNED_AT - 10) -> dict[str, object]:
    return {"event": "delivered", "timestamp": timestamp, "user_id": user, "sg_event_id": f"ev-{user}"}


def test_the_signature_is_checked_by_the_sendgrid_packages_helper() -> None:
    assert isinstance(SendGridSignatureVerifier(PUBLIC_PEM)._helper, EventWebhook)


@pytest.mark.parametrize("age", [-299, 0, 299])
def test_a_batch_signed_within_the_replay_window_is_processed(age: int) -> None:
    http, published = webhook_client()
    response = post_signed(http, [delivered("ana")], signed_at=SIGNED_AT - age)
    assert response.status_code == 200 and [e["userId"] for e in published] == ["ana"]


@pytest.mark.parametrize("age", [301, 3 * 24 * 3600, -301])
def test_a_signed_batch_outside_the_replay_window_is_refused(age: int) -> None:
    http, published = webhook_client()
    response = post_signed(http, [delivered("ana")], signed_at=SIGNED_AT - age)
    assert response.status_code == 403 and "replay window" in response.json()["detail"]
    assert published == []


def test_the_replay_window_is_configurable() -> None:
    http, _ = webhook_client(window=3600)
    assert post_signed(http, [delivered("ana")], signed_at=SIGNED_AT - 1800).status_code == 200


@pytest.mark.parametrize("absurd", [10**20, -1, 1e308, "soon", None])
def test_an_absurd_event_timestamp_is_skipped_and_the_rest_processed(absurd: object) -> None:
    http, published = webhook_client()
    response = post_signed(http, [delivered("ana", absurd), delivered("bob")])
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == 1 and response.json()["received"] == 2
    assert [e["userId"] for e in published] == ["bob"]


@pytest.mark.parametrize(
    "body", [b"{}", b"not json", b"[" * 100_000 + b"]" * 100_000, '["\udcff"]'.encode("utf-8", "surrogatepass")]
)
def test_unreadable_signed_bodies_are_a_4xx(body: bytes) -> None:
    http, _ = webhook_client()
    timestamp = str(SIGNED_AT)
    response = http.post(
        "/v1/webhooks/sendgrid",
        content=body,
        headers={SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: timestamp},
    )
    assert 400 <= response.status_code < 500
