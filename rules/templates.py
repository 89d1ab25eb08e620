"""Render celebration and nudge text with Jinja2 in a sandbox.

Templates come from playbook authors, so they run in an immutable sandbox;
a missing value renders as empty text instead of failing the message.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

CONTEXT_NAMES = ("user", "event", "milestone", "progress", "playbook")


class RenderError(Exception):
    """A template failed at send time (e.g. dividing by zero); the message is suppressed."""


def _finalize(value: Any) -> Any:
    return "" if value is None else value


MAX_OUTPUT_CHARS = 10_000  # a celebration longer than this is a mistake, not a message
MAX_SEQUENCE_LENGTH = 10_000
MAX_EXPONENT = 100


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox blocks Python internals but not `'a' * 10**9`: bound repetition and powers too."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large for a message template")
        if operator == "*":
            sequence, times = (left, right) if isinstance(left, str | list | tuple) else (right, left)
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                if len(sequence) * times > MAX_SEQUENCE_LENGTH:
                    raise SecurityError("repetition too long for a message template")
        return super().call_binop(context, operator, left, right)


_env = _BoundedSandbox(undefined=ChainableUndefined, autoescape=False, finalize=_finalize, keep_trailing_newline=False)


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compiled once per distinct source; raises TemplateSyntaxError."""
    return _env.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    """Render `source`; raises RenderError with a readable reason."""
    try:
        text = compile_template(source).render(**context).strip()
    except TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error: {exc.message}") from exc
    except Exception as exc:  # sandbox violations, arithmetic errors, bad filters
        raise RenderError(f"template failed: {exc}") from exc
    if len(text) > MAX_OUTPUT_CHARS:
        raise RenderError(f"template output is {len(text):,} characters; the limit is {MAX_OUTPUT_CHARS:,}")
    return text


def template_problems(source: str) -> list[tuple[int, str]]:
    """(line within template, message) for syntax errors and unknown top-level names."""
    try:
        ast = _env.parse(source)
    except TemplateSyntaxError as exc:
        return [(exc.lineno or 1, f"template syntax error: {exc.message}")]
    out = []
    for name in sorted(meta.find_undeclared_variables(ast)):
        if name not in CONTEXT_NAMES and name not in _env.globals:
            close = difflib.get_close_matches(name, CONTEXT_NAMES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            out.append((1, f"unknown name '{name}' in template{hint}; use one of {', '.join(CONTEXT_NAMES)}"))
    return out


def build_context(
    *,
    user_id: str,
    traits: dict[str, Any],
    event_name: str | None,
    properties: dict[str, Any],
    milestone: dict[str, Any],
    progress: dict[str, Any],
    playbook: dict[str, Any],
) -> dict[str, Any]:
    """The documented template context: user, event, milestone, progress, playbook."""
    event = {**properties, "name": event_name}
    return {
        "user": {**traits, "id": user_id},
        "event": event,
        "milestone": milestone,
        "progress": progress,
        "playbook": playbook,
    }
