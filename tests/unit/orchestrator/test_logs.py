"""Logs are JSON lines and never carry API keys, tokens or passwords."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from nudgeflow.orchestrator.logs import configure_logging
from nudgeflow.orchestrator.settings import Settings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def capture() -> io.StringIO:
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    return stream


def test_secrets_are_masked_in_messages_fields_and_tracebacks() -> None:
    settings = Settings(sendgrid_api_key="SG.live-key.abcdef", kafka_sasl_password="correct horse battery")
    configure_logging("INFO", json=True, secrets=settings.secret_values())
    stream = capture()
    library = logging.getLogger("orchestrator.test")
    library.info("calling https://api/send?token=abc123 with Bearer eyJhbGciOi.x")
    try:
        raise RuntimeError("auth failed for correct horse battery")
    except RuntimeError:
        library.exception("send failed")
    structlog.get_logger("orchestrator.test").warning("slack", token="xoxb-1-2-3", key="SG.live-key.abcdef")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    text = stream.getvalue()
    for secret in ("abc123", "eyJhbGciOi", "correct horse battery", "xoxb-1-2-3", "SG.live-key"):
        assert secret not in text, secret
    assert [line["level"] for line in lines] == ["info", "error", "warning"]
    assert lines[0]["logger"] == "orchestrator.test" and "timestamp" in lines[0]
    assert "RuntimeError" in lines[1]["exception"]
