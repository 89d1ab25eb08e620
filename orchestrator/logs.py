"""Structured logs (structlog): JSON lines for machines, or readable lines for a terminal.

Every record, ours and the libraries' (Faust, aiokafka, uvicorn), goes through one
redaction step, so API keys, tokens and passwords never reach the logs, even
when an exception message or a URL carries them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

import structlog

MASK = "[redacted]"
_PATTERNS = [  # (what a secret looks like, what replaces it)
    (re.compile(r"SG\.[\w-]{6,}(?:\.[\w-]+)?"), MASK),  # SendGrid API keys
    (re.compile(r"xox[abposr]-[\w-]+"), MASK),  # Slack tokens
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"), r"\1" + MASK),  # Authorization headers
    (re.compile(r"(?i)((?:token|password|secret|api_key)=)[^&\s\"']+"), r"\1" + MASK),  # key=value, URLs
]
# Libraries whose INFO lines are noise here (httpx: one per request a worker forwards to another).
NOISY = ("aiokafka", "faust", "mode", "kafka", "uvicorn.error", "httpx", "httpcore")
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class Redactor:
    """A structlog processor that masks known secrets and anything shaped like one."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def __call__(self, logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return {key: self.scrub(value) if isinstance(value, str) else value for key, value in event_dict.items()}


def configure_logging(level: str = "INFO", *, json: bool = True, secrets: Iterable[str] = ()) -> None:
    """Route stdlib and structlog records through one chain: timestamp, level, redaction, render."""
    redact = Redactor(secrets)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in UVICORN:  # uvicorn's own handlers print plain text: its records (tracebacks too) come to ours
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for name in NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
