"""Key material shared by the in-app integration tests and their fixture (one module, so one key pair)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nudgeflow.channels.inapp.auth import issue_token

SECRET = "integration-signing-secret"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user)}"}


def sendgrid_signature(body: bytes, timestamp: str) -> str:
    return base64.b64encode(SENDGRID_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
