from email.message import Message

import pytest

from nudgeflow.channels._http import parse_retry_after, status_outcome

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "sent"),
        (202, "sent"),
        (400, "failed"),
        (401, "failed"),
        (403, "failed"),
        (404, "failed"),
        (413, "failed"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
    ],
)
def test_status_outcome(status, expected):
    assert status_outcome(status) == expected


def test_retry_after_in_seconds():
    assert parse_retry_after({"Retry-After": "3"}, now=NOW) == 3.0
    assert parse_retry_after({"retry-after": "0.5"}, now=NOW) == 0.5


def test_retry_after_as_http_date():
    assert parse_retry_after({"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"}, now=NOW) == pytest.approx(10.0)


def test_ratelimit_reset_as_epoch_and_as_delta():
    assert parse_retry_after({"X-RateLimit-Reset": str(int(NOW) + 4)}, now=NOW) == 4.0
    assert parse_retry_after({"X-RateLimit-Reset": "12"}, now=NOW) == 12.0
    assert parse_retry_after({"X-RateLimit-Reset": str(int(NOW) - 5)}, now=NOW) == 0.0


def test_retry_after_wins_over_ratelimit_reset():
    assert parse_retry_after({"Retry-After": "2", "X-RateLimit-Reset": str(int(NOW) + 9)}, now=NOW) == 2.0


def test_email_message_headers_as_urllib_returns_them():
    headers = Message()
    headers["x-ratelimit-reset"] = str(int(NOW) + 6)
    assert parse_retry_after(headers, now=NOW) == 6.0


@pytest.mark.parametrize("headers", [None, {}, {"Retry-After": "soon"}, {"X-RateLimit-Reset": "later"}])
def test_unusable_headers_give_none(headers):
    assert parse_retry_after(headers, now=NOW) is None
