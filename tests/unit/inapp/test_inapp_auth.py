"""Per-user tokens: genuine, unexpired, for this purpose, or refused with a reason."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from nudgeflow.channels.inapp.auth import (
    InvalidToken,
    issue_token,
    issue_unsubscribe_token,
    unsubscribe_url,
    verify_token,
)

SECRET = "s3cret-key"
NOW = 1_800_000_000.0


def test_round_trip_gives_back_the_user() -> None:
    token = issue_token(SECRET, "ana", 60, now=NOW)
    claims = verify_token(SECRET, token, now=NOW + 59)
    assert claims.user_id == "ana" and claims.purpose == "inapp" and claims.expires_at == int(NOW + 60)


def test_secret_str_and_bytes_are_the_same_key() -> None:
    token = issue_token(SecretStr(SECRET), "ana", now=NOW)
    assert verify_token(SECRET.encode(), token, now=NOW).user_id == "ana"


def test_user_ids_with_any_characters_survive() -> None:
    user = "ana.o'neil+test@example.com/ünï"
    assert verify_token(SECRET, issue_token(SECRET, user, now=NOW), now=NOW).user_id == user


@pytest.mark.parametrize(
    "reason, token",
    [
        ("expired", issue_token(SECRET, "ana", 60, now=NOW - 61)),
        ("bad signature", issue_token("another-key", "ana", now=NOW)),
        ("malformed", "not-a-token"),
        ("malformed", ""),
        ("malformed", "a.b.c"),
        ("bad signature", issue_token(SECRET, "ana", now=NOW)[:-2] + "AA"),
    ],
)
def test_bad_tokens_are_refused(reason: str, token: str) -> None:
    with pytest.raises(InvalidToken, match=reason.split()[0]):
        verify_token(SECRET, token, now=NOW)


def test_payload_cannot_be_swapped_for_another_user() -> None:
    ana_payload, ana_mac = issue_token(SECRET, "ana", now=NOW).split(".")
    bob_payload, _ = issue_token(SECRET, "bob", now=NOW).split(".")
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(SECRET, f"{bob_payload}.{ana_mac}", now=NOW)


def test_purposes_do_not_mix() -> None:
    unsubscribe = issue_unsubscribe_token(SECRET, "ana", now=NOW)
    with pytest.raises(InvalidToken, match="unsubscribe"):
        verify_token(SECRET, unsubscribe, now=NOW)
    with pytest.raises(InvalidToken, match="inapp"):
        verify_token(SECRET, issue_token(SECRET, "ana", now=NOW), purpose="unsubscribe", now=NOW)
    assert verify_token(SECRET, unsubscribe, purpose="unsubscribe", now=NOW).user_id == "ana"


def test_unsubscribe_url_carries_a_valid_token() -> None:
    url = unsubscribe_url("https://nudges.example.com/", SECRET, "ana")
    assert url.startswith("https://nudges.example.com/v1/unsubscribe?token=")
    token = url.split("token=", 1)[1]
    assert verify_token(SECRET, token, purpose="unsubscribe").user_id == "ana"


def test_refuses_to_mint_with_empty_secret_or_user() -> None:
    with pytest.raises(ValueError):
        issue_token("", "ana")
    with pytest.raises(ValueError):
        issue_token(SECRET, "")
    with pytest.raises(ValueError):
        issue_token(SECRET, "ana", ttl=0)
