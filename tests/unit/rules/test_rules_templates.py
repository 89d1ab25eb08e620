from __future__ import annotations

import pytest

from nudgeflow.rules.templates import RenderError, render, template_problems

CTX = {
    "user": {"id": "u1", "first_name": "Ada"},
    "event": {"name": "Report Created"},
    "milestone": {"title": "First report"},
    "progress": {"done": 2, "total": 4, "remaining": 2, "next": "Share a report"},
    "playbook": {},
}


def test_progress_renders_2_of_4() -> None:
    text = "{{ user.first_name }}: {{ progress.done }} of {{ progress.total }} done, next {{ progress.next }}"
    assert render(text, CTX) == "Ada: 2 of 4 done, next Share a report"


def test_missing_values_render_empty_not_none() -> None:
    ctx = {**CTX, "progress": {**CTX["progress"], "next": None}}
    assert render("[{{ user.company.name }}][{{ progress.next }}][{{ nothing }}]", ctx) == "[][][]"


def test_html_is_not_escaped_in_text() -> None:
    assert render("{{ event.name }}", {**CTX, "event": {"name": "<Q&A>"}}) == "<Q&A>"


def test_sandbox_blocks_python_internals() -> None:
    assert render("{{ user.__class__.__mro__ }}", CTX) == ""
    with pytest.raises(RenderError):
        render("{{ user.update({'x': 1}) }}", CTX)  # immutable sandbox


def test_runtime_errors_become_render_errors() -> None:
    with pytest.raises(RenderError, match="division by zero"):
        render("{{ 1 / 0 }}", CTX)


def test_template_checks_find_syntax_errors_with_line_and_unknown_names() -> None:
    [(line, message)] = template_problems("line one\nline two\nHi {{ user.name }")
    assert line == 3 and "syntax error" in message
    [(line, message)] = template_problems("line one\n{% if user.admin %}\nno endif")
    assert line == 2 and "endif" in message
    [(_, message)] = template_problems("Hi {{ usr.first_name }}")
    assert "unknown name 'usr'" in message and "did you mean 'user'" in message
    assert template_problems("{% for a in user.tags %}{{ a }}{% endfor %}{{ milestone.title }}") == []
