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


def test_none_renders_empty_not_none() -> None:
    ctx = {**CTX, "progress": {**CTX["progress"], "next": None}}
    assert render("[{{ progress.next }}]", ctx) == "[]"


@pytest.mark.parametrize("source", ["Hi {{ user.last_name }}", "{{ user.company.name }}", "{{ nothing }}"])
def test_printing_a_missing_value_is_a_render_error_not_a_blank(source: str) -> None:
    with pytest.raises(RenderError, match="has no value"):
        render(source, CTX)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ user.last_name or 'there' }}", "Hi there"),
        ("Hi {{ user.last_name | default('there') }}", "Hi there"),
        ("{{ user.company.name | default('your team') }}", "your team"),
        ("{% if user.last_name %}{{ user.last_name }}{% else %}Hi{% endif %}", "Hi"),
        ("[{% for tag in user.tags %}{{ tag }}{% endfor %}]", "[]"),
        ("{{ user.last_name is defined }}", "False"),
    ],
)
def test_a_missing_value_can_be_tested_and_defaulted(source: str, expected: str) -> None:
    assert render(source, CTX) == expected


def test_html_is_not_escaped_in_text() -> None:
    assert render("{{ event.name }}", {**CTX, "event": {"name": "<Q&A>"}}) == "<Q&A>"


@pytest.mark.parametrize(
    "source",
    [
        "{{ user.__class__.__mro__ }}",
        "{{ user.__class__ | default('x') }}",
        "{{ user.__class__ or 'x' }}",
        "{% if user.__class__ %}x{% endif %}",
        "{{ user | attr('__class__') }}",
        "{{ user.update({'x': 1}) }}",
    ],
)
def test_a_sandbox_violation_is_a_render_error_never_a_blank(source: str) -> None:
    with pytest.raises(RenderError, match="not allowed"):
        render(source, CTX)


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
    [(line, message)] = template_problems("one\ntwo {{ nothing }}")
    assert line == 2 and "unknown name 'nothing'" in message
    [(_, message)] = template_problems("{{ user.name | no_such_filter }}")
    assert "no_such_filter" in message


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("{{ ''.__class__.__mro__ }}", "'.__class__' is a private attribute"),
        ("{{ user['_secret'] }}", "private attribute"),
        ("{{ cycler.next() }}", "'cycler' is not available"),
        ("{{ self }}", "'self' is not available"),
        ("{{ lipsum() }}", "'lipsum' is not available"),
        ("{{ user | attr('name') }}", "attr() filter is not allowed"),
        ("{{ [user] | map(attribute='__class__') | list }}", "map() on a private attribute"),
        ("{{ [user] | selectattr('x.__class__') | list }}", "selectattr() on a private attribute"),
        ("{{ '{0.__class__}'.format(user) }}", ".format() reaching a private attribute"),
        ("{{ event.update({'a': 1}) }}", ".update() would change"),
    ],
)
def test_unsafe_constructs_are_template_problems(source: str, words: str) -> None:
    assert any(words in message for _, message in template_problems(source)), template_problems(source)


def test_unsafe_construct_reports_its_line() -> None:
    assert template_problems("Hello\n\n{{ user.__dict__ }}") == [
        (3, "'.__dict__' is a private attribute; templates may only read message data")
    ]


def test_ordinary_templates_have_no_problems() -> None:
    source = (
        "{{ user.first_name or 'there' }} {{ user.plan | default('free') | upper }} "
        "{{ [event] | map(attribute='name') | join(', ') }} {{ '{} of {}'.format(progress.done, progress.total) }} "
        "{% for i in range(3) %}{{ loop.index }}{% endfor %} {{ dict(a=1).a }}"
    )
    assert template_problems(source) == []
    assert render(source, CTX) == "Ada FREE Report Created 2 of 4 123 1"
