"""Per-user tokens are standard JWTs (HS256, sub/aud/exp, kid): genuine, unexpired, for this audience, or refused
with a reason; keys rotate by key id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from fastapi import HTTPException
from pydantic import SecretStr

from nudgeflow.channels.inapp.auth import (
    InvalidToken,
    SigningKeys,
    issue_token,
    issue_unsubscribe_token,
    unsubscribe_url,
    verify_token,
)
from nudgeflow.channels.inapp.user_auth import UserAuth

SECRET = "s3cret-key-of-at-least-thirty-two-bytes"
NOW = 1_800_000_000.0


def old_format_token(secret: str, user: str, expires: int) -> str:
    """What the API issued before JWTs: base64url(JSON) + "." + base64url(HMAC)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = b64(json.dumps({"u": user, "e": expires, "p": "inapp"}).encode())
    return f"{payload}.{b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())}"


def test_round_trip_gives_back_the_user() -> None:
    token = issue_token(SECRET, "ana", 60, now=NOW)
    claims = verify_token(SECRET, token, now=NOW + 59)
    assert claims.user_id == "ana" and claims.purpose == "inapp" and claims.expires_at == int(NOW + 60)


def test_a_token_is_a_standard_jwt_any_library_reads_and_mints() -> None:
    token = issue_token(SECRET, "ana", 60, now=NOW)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="nudgeflow-inapp",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {"sub": "ana", "aud": "nudgeflow-inapp", "iat": int(NOW), "exp": int(NOW + 60)}
    minted_elsewhere = jwt.encode(
        {"sub": "bob", "aud": "nudgeflow-inapp", "exp": int(NOW + 60)}, SECRET, headers={"kid": "k1"}
    )
    assert verify_token(SECRET, minted_elsewhere, now=NOW).user_id == "bob"


def test_secret_str_and_bytes_are_the_same_key() -> None:
    token = issue_token(SecretStr(SECRET), "ana", now=NOW)
    assert verify_token(SECRET.encode(), token, now=NOW).user_id == "ana"


def test_user_ids_with_any_characters_survive() -> None:
    user = "ana.o'neil+test@example.com/ünï"
    assert verify_token(SECRET, issue_token(SECRET, user, now=NOW), now=NOW).user_id == user


@pytest.mark.parametrize(
    "reason, token",
    [
        ("expired", issue_token(SECRET, "ana", 60, now=NOW - 60)),
        ("bad signature", issue_token("another-key-of-at-least-thirty-two-b", "ana", now=NOW)),
        ("malformed", "not-a-token"),
        ("malformed", ""),
        ("malformed", "a.b.c"),
        ("malformed", "x" * 5000),
        ("bad signature", issue_token(SECRET, "ana", now=NOW)[:-4] + "AAAA"),
        ("old token format", old_format_token(SECRET, "ana", int(NOW + 60))),
        (
            "unknown key id 'k9'",
            jwt.encode({"sub": "ana", "aud": "nudgeflow-inapp", "exp": 2e9}, SECRET, headers={"kid": "k9"}),
        ),
        ("no key id", jwt.encode({"sub": "ana", "aud": "nudgeflow-inapp", "exp": 2e9}, SECRET)),
        ("no 'exp'", jwt.encode({"sub": "ana", "aud": "nudgeflow-inapp"}, SECRET, headers={"kid": "k1"})),
        ("no 'aud'", jwt.encode({"sub": "ana", "exp": 2e9}, SECRET, headers={"kid": "k1"})),
        ("audience 'other'", jwt.encode({"sub": "ana", "aud": "other", "exp": 2e9}, SECRET, headers={"kid": "k1"})),
        ("malformed", jwt.encode({"sub": "ana", "aud": "nudgeflow-inapp", "exp": 2e9}, None, "none", {"kid": "k1"})),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(reason: str, token: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        verify_token(SECRET, token, now=NOW)


def test_payload_cannot_be_swapped_for_another_user() -> None:
    header, _, ana_mac = issue_token(SECRET, "ana", now=NOW).split(".")
    _, bob_claims, _ = issue_token(SECRET, "bob", now=NOW).split(".")
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(SECRET, f"{header}.{bob_claims}.{ana_mac}", now=NOW)


def test_audiences_do_not_mix() -> None:
    unsubscribe = issue_unsubscribe_token(SECRET, "ana", now=NOW)
    with pytest.raises(InvalidToken, match="'nudgeflow-unsubscribe', not 'nudgeflow-inapp'"):
        verify_token(SECRET, unsubscribe, now=NOW)
    with pytest.raises(InvalidToken, match="'nudgeflow-inapp', not 'nudgeflow-unsubscribe'"):
        verify_token(SECRET, issue_token(SECRET, "ana", now=NOW), purpose="unsubscribe", now=NOW)
    assert verify_token(SECRET, unsubscribe, purpose="unsubscribe", now=NOW).user_id == "ana"


def test_keys_rotate_by_key_id() -> None:
    old = SigningKeys.of("old-secret-of-at-least-thirty-two-bytes", "2026-01")
    rotated = SigningKeys.of(
        "new-secret-of-at-least-thirty-two-bytes", "2026-11", {"2026-01": "old-secret-of-at-least-thirty-two-bytes"}
    )
    before = issue_token(old, "ana", now=NOW)
    after = issue_token(rotated, "ana", now=NOW)
    assert jwt.get_unverified_header(after)["kid"] == "2026-11"
    assert verify_token(rotated, before, now=NOW).key_id == "2026-01", "tokens of the previous key still work"
    assert verify_token(rotated, after, now=NOW).key_id == "2026-11"
    retired = SigningKeys.of("new-secret-of-at-least-thirty-two-bytes", "2026-11")
    with pytest.raises(InvalidToken, match="unknown key id '2026-01'"):
        verify_token(retired, before, now=NOW)
    with pytest.raises(InvalidToken, match="unknown key id '2026-11'"):
        verify_token(old, after, now=NOW)


def test_a_key_id_cannot_pick_another_keys_secret() -> None:
    """A token signed with the previous key but claiming the current key id fails the signature check."""
    rotated = SigningKeys.of(
        "new-secret-of-at-least-thirty-two-bytes", "k2", {"k1": "old-secret-of-at-least-32-bytes!"}
    )
    forged = jwt.encode(
        {"sub": "ana", "aud": "nudgeflow-inapp", "exp": int(NOW + 60)},
        "old-secret-of-at-least-32-bytes!",
        headers={"kid": "k2"},
    )
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(rotated, forged, now=NOW)


def test_unsubscribe_url_carries_a_valid_token() -> None:
    url = unsubscribe_url("https://nudges.example.com/", SECRET, "ana")
    assert url.startswith("https://nudges.example.com/v1/unsubscribe?token=")
    token = url.split("token=", 1)[1]
    assert verify_token(SECRET, token, purpose="unsubscribe").user_id == "ana"


def test_refuses_to_mint_with_empty_secret_key_id_or_user() -> None:
    with pytest.raises(ValueError):
        issue_token("", "ana")
    with pytest.raises(ValueError):
        SigningKeys.of(SECRET, "")
    with pytest.raises(ValueError):
        issue_token(SECRET, "")
    with pytest.raises(ValueError):
        issue_token(SECRET, "ana", ttl=0)


def test_settings_give_the_current_and_previous_keys_and_mask_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from nudgeflow.orchestrator.settings import Settings

    monkeypatch.setenv("NUDGEFLOW_INAPP_SIGNING_SECRET", "new-secret-of-at-least-thirty-two-bytes")
    monkeypatch.setenv("NUDGEFLOW_INAPP_SIGNING_KEY_ID", "k2")
    monkeypatch.setenv("NUDGEFLOW_INAPP_PREVIOUS_SIGNING_KEYS", '{"k1": "old-secret-of-at-least-thirty-two-bytes"}')
    settings = Settings()
    keys = settings.inapp_signing_keys()
    assert keys is not None and keys.current_id == "k2"
    assert verify_token(keys, issue_token("old-secret-of-at-least-thirty-two-bytes", "ana")).key_id == "k1"
    assert "old-secret-of-at-least-thirty-two-bytes" in settings.secret_values(), "the log redactor masks it"
    assert "old-secret" not in json.dumps(settings.as_dict())


def test_a_remembered_token_still_expires_and_a_bad_one_is_never_remembered() -> None:
    clock = [time.time()]
    auth = UserAuth(SigningKeys.of(SECRET), now=lambda: clock[0])
    token = issue_token(SECRET, "ana", 60)
    assert auth.check("ana", token) == "ana"
    assert auth.check("ana", token) == "ana"  # the second time from memory
    with pytest.raises(HTTPException) as other:
        auth.check("bob", token)
    assert other.value.status_code == 403
    clock[0] += 61
    with pytest.raises(HTTPException) as expired:
        auth.check("ana", token)
    assert expired.value.status_code == 401 and "expired" in str(expired.value.detail)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for _ in range(2):
        with pytest.raises(HTTPException) as bad:
            auth.check("ana", forged)
        assert bad.value.status_code == 401
