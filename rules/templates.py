"""Render celebration and nudge text with Jinja2 in a sandbox.

Templates come from playbook authors, so they run in an immutable sandbox, and
`rules check` rejects the constructs that only make sense as an escape attempt
(private attributes, the `attr` filter, Jinja's helper objects, methods that
change data). At send time every failure is a RenderError, reported as a
suppressed delivery with its reason: a sandbox violation never renders as blank
text. A missing value (say a trait the user does not have) is empty for `if`,
`for`, `or`, `|default(...)` and `is defined`; printing it is a RenderError, so a
message never goes out with a hole in it.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn
from urllib.parse import urlsplit

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import do_default
from jinja2.sandbox import ImmutableSandboxedEnvironment

from nudgeflow.rules.durations import describe_duration

CONTEXT_NAMES = ("user", "event", "milestone", "progress", "playbook", "stall")
ALLOWED_GLOBALS = frozenset({"range", "dict"})
# Jinja's helper objects: nothing a message needs, and the usual first step of a sandbox escape.
UNSAFE_NAMES = frozenset({"self", "cycler", "joiner", "namespace", "lipsum"})
# Filters that take an attribute name: a private one is as bad as `x.__class__`.
ATTRIBUTE_FILTERS = frozenset({"map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max"})
MUTATING_METHODS = frozenset(
    {"append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "setdefault", "add", "discard"}
    | {"difference_update", "intersection_update", "symmetric_difference_update", "sort", "reverse"}
)
_FORMAT_FIELD_INTO_PRIVATE = re.compile(r"\{[^}]*(?:\._|\[_)")


class RenderError(Exception):
    """A template failed at send time (e.g. dividing by zero); the message is suppressed."""


class MessageUndefined(ChainableUndefined):
    """A missing value: empty in tests (`if`, `or`, `default`, `for`), an error when printed.
    Unsafe access flagged by the sandbox fails on any use, `default` included."""

    __slots__ = ()

    @property
    def unsafe(self) -> bool:
        return self._undefined_exception is SecurityError

    @property
    def _undefined_message(self) -> str:
        if self.unsafe or self._undefined_hint or self._undefined_name is None:
            return str(super()._undefined_message)
        return (
            f"'{self._undefined_name}' has no value here; for a value that may be missing write "
            f"`{{{{ x or '…' }}}}` or `{{{{ x | default('…') }}}}`"
        )

    def fail(self) -> NoReturn:
        self._fail_with_undefined_error()

    def __str__(self) -> str:
        self.fail()

    def __bool__(self) -> bool:
        if self.unsafe:
            self.fail()
        return False

    def __iter__(self) -> Any:
        if self.unsafe:
            self.fail()
        return iter(())

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        if self.unsafe:
            self.fail()
        return self

    def __getitem__(self, _name: Any) -> Any:
        if self.unsafe:
            self.fail()
        return self


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, except that it does not hide a sandbox violation."""
    if isinstance(value, MessageUndefined) and value.unsafe:
        value.fail()
    return do_default(value, default_value, boolean)


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


_env = _BoundedSandbox(undefined=MessageUndefined, autoescape=False, finalize=_finalize, keep_trailing_newline=False)
_env.filters["default"] = _env.filters["d"] = _default


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
    except SecurityError as exc:
        raise RenderError(f"template not allowed: {exc}") from exc
    except Exception as exc:  # missing values, arithmetic errors, bad filters
        raise RenderError(f"template failed: {exc}") from exc
    if len(text) > MAX_OUTPUT_CHARS:
        raise RenderError(f"template output is {len(text):,} characters; the limit is {MAX_OUTPUT_CHARS:,}")
    return text


URL_SCHEMES = ("http", "https")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_TEMPLATE_START = re.compile(r"\{[{%#]")


def url_problem(source: str) -> str | None:
    """Why a playbook link can't be sent, judged before any message is: the literal URL, or the literal
    part before its first `{{`. A fully templated URL is checked when rendered (`render_url`)."""
    prefix = _TEMPLATE_START.split(source, maxsplit=1)[0].strip()
    templated = prefix != source.strip()
    if not prefix:
        return None
    scheme = _SCHEME.match(prefix)
    if scheme and "." not in scheme.group(1):
        name = scheme.group(1).lower()
        if name not in URL_SCHEMES:
            return f"'{name}:' links are not allowed: use an absolute http(s) URL like https://app.example.com/next"
        if not prefix.lower().startswith(f"{name}://") and not (templated and f"{name}://".startswith(prefix.lower())):
            return f"{_short(prefix)} is not an absolute URL: write {name}://host/path"
        if not templated and not urlsplit(prefix).netloc:
            return f"{_short(prefix)} has no host: write {name}://app.example.com/path"
        return None
    if templated and any(f"{name}://".startswith(prefix.lower()) for name in URL_SCHEMES):
        return None
    if prefix.startswith("/"):
        return (
            f"{_short(prefix)} is a relative link, which email and Slack can't open: "
            f"write the full address, like https://app.example.com{prefix}"
        )
    return f"{_short(prefix)} has no scheme: add https:// (https://{prefix})"


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def render_url(source: str, context: dict[str, Any]) -> str:
    """Render a link template; anything but an absolute http(s) URL is a RenderError, never a sent link."""
    url = render(source, context)
    parts = urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc:
        raise RenderError(f"link rendered as {_short(url)}, which is not an absolute http(s) URL")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise RenderError(f"link rendered as {_short(url)}, which contains spaces or control characters")
    return url


def _private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def _const_strings(node: nodes.Node) -> list[str]:
    found = [node, *node.find_all(nodes.Const)]
    return [c.value for c in found if isinstance(c, nodes.Const) and isinstance(c.value, str)]


def _unsafe_constructs(ast: nodes.Template) -> list[tuple[int, str]]:
    """What the sandbox would block at send time, found before any message is sent."""
    out: list[tuple[int, str]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call, nodes.Name)):
        line = node.lineno
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            out.append((line, f"'.{node.attr}' is a private attribute; templates may only read message data"))
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and _private(str(node.arg.value)):
            out.append((line, f"['{node.arg.value}'] is a private attribute; templates may only read message data"))
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            out.append((line, "the attr() filter is not allowed; write user.name or user['name']"))
        elif isinstance(node, nodes.Filter) and node.name in ATTRIBUTE_FILTERS:
            names = [*(a for a in node.args if isinstance(a, nodes.Const)), *(k.value for k in node.kwargs)]
            if any(isinstance(n, nodes.Const) and isinstance(n.value, str) and _private(n.value) for n in names):
                out.append((line, f"{node.name}() on a private attribute is not allowed"))
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            method = node.node.attr
            if method in MUTATING_METHODS:
                out.append((line, f".{method}() would change the message data; templates can only read it"))
            elif method in ("format", "format_map") and any(
                _FORMAT_FIELD_INTO_PRIVATE.search(text) for text in _const_strings(node.node.node)
            ):
                out.append((line, f".{method}() reaching a private attribute is not allowed"))
        elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name in UNSAFE_NAMES:
            out.append((line, f"'{node.name}' is not available in message templates"))
    return out


def template_problems(source: str) -> list[tuple[int, str]]:
    """(line within template, message) for syntax errors, unknown names, filters or tests, and unsafe
    constructs."""
    return list(_template_problems(source))


@lru_cache(maxsize=8192)
def _template_problems(source: str) -> tuple[tuple[int, str], ...]:
    """Cached by text: playbooks repeat the same message templates across steps, and checking one
    costs about a millisecond (a 10,000-step ruleset loaded in 22 s before the cache)."""
    try:
        ast = _env.parse(source)
        # Compiles the template once: this also finds unknown filters and tests.
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as exc:
        return ((exc.lineno or 1, f"template syntax error: {exc.message}"),)
    out = _unsafe_constructs(ast)
    lines = {n.name: n.lineno for n in reversed(list(ast.find_all(nodes.Name)))}
    for name in sorted(undeclared):
        if name not in CONTEXT_NAMES and name not in ALLOWED_GLOBALS and name not in UNSAFE_NAMES:
            close = difflib.get_close_matches(name, CONTEXT_NAMES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            out.append(
                (lines.get(name, 1), f"unknown name '{name}' in template{hint}; use one of {', '.join(CONTEXT_NAMES)}")
            )
    return tuple(sorted(set(out)))


def build_context(
    *,
    user_id: str,
    traits: dict[str, Any],
    event_name: str | None,
    properties: dict[str, Any],
    milestone: dict[str, Any],
    progress: dict[str, Any],
    playbook: dict[str, Any],
    stall: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The documented template context: user, event, milestone, progress, playbook, and for a
    stall or overdue message, stall (since when the user has been stuck, and for how long)."""
    event = {**properties, "name": event_name}
    return {
        "user": {**traits, "id": user_id},
        "event": event,
        "milestone": milestone,
        "progress": progress,
        "playbook": playbook,
        "stall": stall or {},
    }


def stall_view(since: datetime, now: datetime) -> dict[str, Any]:
    """What templates see as `stall`: `since` (ISO 8601), `waiting` ('2 days 4 hours'), `waiting_hours`,
    `waiting_days`."""
    waited = now - since
    hours = max(0, int(waited.total_seconds()) // 3600)
    return {
        "since": since.isoformat(),
        "waiting": describe_duration(waited),
        "waiting_hours": hours,
        "waiting_days": hours // 24,
    }
