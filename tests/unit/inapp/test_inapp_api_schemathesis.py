"""schemathesis against the in-app API's OpenAPI schema, in-process (ASGI): no generated request gets a 5xx.

Each case carries a valid token for the user id schemathesis generated, so the handlers behind the auth
check are exercised too (not just the 401s). Bounded to a few dozen examples per operation (< 60 s)."""

from __future__ import annotations

import base64

import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from nudgeflow.channels.inapp.api import close_event_streams
from nudgeflow.channels.inapp.auth import issue_token
from nudgeflow.rules.contracts.prompts import Prompt
from tests.support.inbox import InboxStore, inbox_api

SECRET = "schemathesis-secret-of-at-least-32-bytes"
SENDGRID = base64.b64encode(
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


async def discard(prompt: Prompt) -> None:
    return None


app = inbox_api(
    InboxStore(), discard, ready=lambda: True, signing_secret=SECRET, sendgrid_public_key=SENDGRID, demo_page=True
)
close_event_streams(app)  # a stream opened in-process would never end: it answers its headers, then closes
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    user = (case.path_parameters or {}).get("user_id")
    if isinstance(user, str) and user:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {issue_token(SECRET, user)}"}
    case.call_and_validate(checks=[not_a_server_error])
