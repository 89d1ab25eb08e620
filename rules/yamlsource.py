"""Read YAML while remembering the line of every field, so errors point at the file.

Uses YAML 1.2-style scalars: 'on'/'no' stay text, '21:00' stays text (PyYAML
would read it as the number 1260) and dates stay text like event properties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from nudgeflow.rules.problems import RuleProblem, dotted

Path_ = tuple[str | int, ...]


# libyaml's parser when PyYAML was built with it (10x faster on a 10,000-milestone playbook); same nodes and marks.
_SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 booleans/numbers and no implicit timestamps."""


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|nan))$"),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


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


def _walk(node: yaml.Node, path: Path_, doc: SourceDoc, problems: list[RuleProblem], seen_nodes: set[int]) -> None:
    """Record lines; an alias (*name) is walked only once, so 'billion laughs' files stay cheap."""
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        doc.block_scalars.add(path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), doc, problems, seen_nodes)
    elif isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            child = (*path, key)
            if key in seen:
                problems.append(
                    RuleProblem(
                        doc.file,
                        key_node.start_mark.line + 1,
                        dotted(child),
                        f"field '{key}' is written twice; keep only one",
                    )
                )
            seen.add(key)
            doc.lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, doc, problems, seen_nodes)


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
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            doc = SourceDoc(file=file, data=loader.construct_document(node))
            _walk(node, (), doc, problems, set())
            docs.append(doc)
    except yaml.YAMLError as exc:
        return [], [_yaml_problem(file, exc)]
    except (ValueError, TypeError, RecursionError) as exc:
        return [], [RuleProblem(file, 1, "", f"not valid YAML ({exc})")]
    finally:
        loader.dispose()
    return docs, problems
