"""Read YAML while remembering the line of every field, so errors point at the file.

Uses YAML 1.2-style scalars: 'on'/'no' stay text, '21:00' stays text (PyYAML
would read it as the number 1260) and dates stay text like event properties.

The data is built straight from libyaml's event stream in one pass, recording
each field's line on the way: composing PyYAML nodes, constructing them and
walking them again for lines took 3 s on a 10,000-milestone playbook.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode

from nudgeflow.rules.problems import RuleProblem, dotted

Path_ = tuple[str | int, ...]

# libyaml's parser when PyYAML was built with it; the pure-Python one gives the same events.
_Loader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader

_TAG = "tag:yaml.org,2002:"
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|nan))$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_CONSTRUCTOR = SafeConstructor()
# First characters of plain scalars that may be a bool, number or null ('' is in every string: the empty scalar).
_PLAIN_TYPED_STARTS = "tTfF-+0123456789.~nN"
_BLOCK_STYLES = ("|", ">")
_CONSTRUCTS: dict[str, Callable[[ScalarNode], Any]] = {
    _TAG + "str": _CONSTRUCTOR.construct_yaml_str,
    _TAG + "int": _CONSTRUCTOR.construct_yaml_int,
    _TAG + "float": _CONSTRUCTOR.construct_yaml_float,
    _TAG + "bool": _CONSTRUCTOR.construct_yaml_bool,
    _TAG + "null": _CONSTRUCTOR.construct_yaml_null,
}


def _construct(tag: str, value: str) -> Any:
    """PyYAML's own constructor for the standard scalar tags (hex ints, '.inf', '1_000.5' and the like)."""
    return _CONSTRUCTS[tag](ScalarNode(tag, value))


def _unsupported(problem: str, event: Any) -> ConstructorError:
    """The error PyYAML would raise, with the line of the event at fault."""
    return ConstructorError(None, None, problem, event.start_mark)


@dataclass
class SourceDoc:
    """One YAML document: its data plus line numbers of each field path."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    block_scalars: set[Path_] = field(default_factory=set)

    def line_of(self, path: Path_) -> int:
        """Line of the deepest known prefix of `path` (1-based)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1


def _plain(value: str) -> Any:
    """A plain (unquoted) scalar's value under the YAML 1.2 core schema."""
    first = value[:1]
    if first in "tTfF" and _BOOL.match(value):
        return first in "tT"
    if first in "-+0123456789":
        if _INT.match(value):
            return int(value.replace("_", ""))
        if _FLOAT.match(value):
            return _construct(_TAG + "float", value)
    elif first == "." and _FLOAT.match(value):
        return _construct(_TAG + "float", value)
    if first in "~nN" and _NULL.match(value):
        return None
    return value


def _scalar(event: ScalarEvent) -> Any:
    tag = event.tag
    if tag is None:
        return _plain(event.value) if event.implicit[0] else event.value
    if tag == "!":
        return event.value
    if tag not in _CONSTRUCTS:
        raise _unsupported(f"the tag {tag} is not supported", event)
    return _construct(tag, event.value)


_NO_KEY = object()


class _Container:
    """A mapping or sequence being filled: where it is and, for a mapping, the key awaiting its value."""

    __slots__ = ("anchor", "data", "is_list", "key", "key_text", "path", "seen")

    def __init__(self, data: dict[Any, Any] | list[Any], path: Path_, anchor: str | None) -> None:
        self.data: Any = data
        self.is_list = isinstance(data, list)
        self.path = path
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.key_text = ""
        self.seen: set[str] = set()


class _DocumentBuilder:
    """Turns one document's events into its data, its field lines and its duplicate-key problems.

    One tight loop over libyaml's events: this is the hot path of loading a large playbook."""

    def __init__(self, file: str, problems: list[RuleProblem]) -> None:
        self.doc = SourceDoc(file=file, data=None)
        self.problems = problems
        self.stack: list[_Container] = []
        self.anchors: dict[str, Any] = {}

    def feed(self, event: Any) -> None:
        kind = type(event)
        stack = self.stack
        top = stack[-1] if stack else None
        lines = self.doc.lines
        path: Path_
        if kind is ScalarEvent or kind is AliasEvent:
            if kind is ScalarEvent:
                value = event.value
                if event.tag is not None or (event.implicit[0] and value[:1] in _PLAIN_TYPED_STARTS):
                    value = _scalar(event)
                if event.anchor is not None:
                    self.anchors[event.anchor] = value
            elif event.anchor in self.anchors:
                value = self.anchors[event.anchor]
            else:
                problem = f"the alias *{event.anchor} has no anchor before it (or is used inside its own anchor)"
                raise _unsupported(problem, event)
            if top is None:
                self.doc.data = value
            elif top.is_list:
                path = (*top.path, len(top.data))
                lines[path] = event.start_mark.line + 1
                top.data.append(value)
                if kind is ScalarEvent and event.style in _BLOCK_STYLES:
                    self.doc.block_scalars.add(path)
            elif top.key is _NO_KEY:
                self._key(top, value, event)
            else:
                top.data[top.key] = value
                top.key = _NO_KEY
                if kind is ScalarEvent and event.style in _BLOCK_STYLES:
                    self.doc.block_scalars.add((*top.path, top.key_text))
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.tag not in (None, "!", _TAG + "map", _TAG + "seq"):
                raise _unsupported(f"the tag {event.tag} is not supported", event)
            if top is None:
                path = ()
            elif top.is_list:
                path = (*top.path, len(top.data))
                lines[path] = event.start_mark.line + 1
            elif top.key is _NO_KEY:
                raise _unsupported("a field name must be plain text, not a list", event)
            else:
                path = (*top.path, top.key_text)
            stack.append(_Container({} if kind is MappingStartEvent else [], path, event.anchor))
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            done = stack.pop()
            if done.anchor is not None:
                self.anchors[done.anchor] = done.data
            top = stack[-1] if stack else None
            if top is None:
                self.doc.data = done.data
            elif top.is_list:
                top.data.append(done.data)
            else:
                top.data[top.key] = done.data
                top.key = _NO_KEY

    def _key(self, top: _Container, key: Any, event: Any) -> None:
        text = event.value if type(event) is ScalarEvent else None
        if not isinstance(text, str):
            raise _unsupported("a field name must be plain text", event)
        line = event.start_mark.line + 1
        path = (*top.path, text)
        if text in top.seen:
            message = f"field '{text}' is written twice; keep only one"
            self.problems.append(RuleProblem(self.doc.file, line, dotted(path), message))
        top.seen.add(text)
        self.doc.lines[path] = line
        top.key = key
        top.key_text = text


def _yaml_problem(file: str, exc: yaml.YAMLError) -> RuleProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    detail = f"{context}, {what}" if context else what
    return RuleProblem(file, line, "", f"not valid YAML ({detail}); check indentation, colons and quotes")


def read_documents(text: str, file: str) -> tuple[list[SourceDoc], list[RuleProblem]]:
    """All documents of one file (separated by '---'), or the YAML syntax problem."""
    docs: list[SourceDoc] = []
    problems: list[RuleProblem] = []
    builder: _DocumentBuilder | None = None
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, DocumentStartEvent):
                builder = _DocumentBuilder(file, problems)
            elif isinstance(event, DocumentEndEvent):
                if builder is not None:
                    docs.append(builder.doc)
                builder = None
            elif builder is not None:
                builder.feed(event)
    except yaml.YAMLError as exc:
        return [], [_yaml_problem(file, exc)]
    except (ValueError, TypeError) as exc:
        return [], [RuleProblem(file, 1, "", f"not valid YAML ({exc})")]
    return docs, problems
