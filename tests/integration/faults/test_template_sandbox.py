"""Playbook templates are written by customer-success staff, not engineers: a template that
reaches for Python internals must fail (the message is suppressed) or render harmlessly."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nudgeflow.rules import Engine, RulesetError, load_ruleset
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import parse_product_event
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.decisions import DeliverySuppressed
from nudgeflow.rules.templates import RenderError, render

pytestmark = pytest.mark.timeout(60)

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[-1].__subclasses__()[0].__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__['os'] }}",
    "{{ namespace.__init__.__globals__.__builtins__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ user.__class__.__base__.__subclasses__() }}",
    "{{ user|attr('__class__') }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ '{0.__class__.__mro__}'.format(user) }}",
    "{{ '%s'|format(user.__class__) }}",
    "{{ event.items.__self__ }}",
    "{{ event.update({'name': 'x'}) }}",
    "{{ user.pop('id') }}",
    "{% set x = event.__setitem__('name', 1) %}{{ x }}",
    "{{ range(10**9)|list|length }}",
    "{{ event.__dict__ }}",
    "{{ progress.__class__.__init__.__globals__['sys'].modules }}",
]
FORBIDDEN = (
    "<class",
    "__globals__",
    "__builtins__",
    "<module",
    "<built-in",
    "popen",
    "uid=",
    "subclasses",
    "function ",
    "Environment",
    "TemplateReference",
)


def context() -> dict[str, object]:
    return {
        "user": {"id": "ana", "role": "admin"},
        "event": {"name": "Teammate Invited"},
        "milestone": {"id": "m", "title": "M"},
        "progress": {"done": 1, "total": 2},
        "playbook": {"id": "p"},
    }


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempt_is_rejected_or_renders_harmlessly(source: str) -> None:
    values = context()
    try:
        out = render(source, values)
    except RenderError:
        return
    assert not any(marker in out for marker in FORBIDDEN), out[:200]
    assert values == context(), "a template changed its own context"


def _playbook(tmp_path: Path, title: str, body: str) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    quoted_title, quoted_body = (s.replace("'", "''") for s in (title, body))
    (folder / "evil.yaml").write_text(
        textwrap.dedent(f"""\
        id: evil
        name: Evil
        milestones:
          - id: invite
            title: Invite
            when:
              event: Teammate Invited
            celebrate:
              - channel: in_app
                title: '{quoted_title}'
                body: '{quoted_body}'
        """)
    )
    return folder


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempt_in_a_playbook_never_reaches_a_user(tmp_path: Path, source: str) -> None:
    try:
        engine = Engine(load_ruleset(_playbook(tmp_path, "Hello {{ user.id }}", source)))
    except RulesetError:
        return  # rejected when the playbook is loaded: nothing runs
    event = parse_product_event(
        f'{{"type": "track", "messageId": "m1", "userId": "ana", '
        f'"event": "Teammate Invited", "timestamp": "{datetime.now(UTC).isoformat()}"}}'
    )
    result = engine.on_event(UserProgress.new("ana"), event, datetime.now(UTC))
    sent = [d for d in result.decisions if isinstance(d, DeliveryRequest)]
    suppressed = [d for d in result.decisions if isinstance(d, DeliverySuppressed)]
    assert len(sent) + len(suppressed) == 1, result.decisions
    for request in sent:
        assert not any(marker in request.title + request.body for marker in FORBIDDEN), request.body[:200]


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**7 }}",
        "{{ [1] * 100000000 }}",
        "{{ 2 ** 100000000 }}",
        "{% for i in range(20000) %}xxxxxxxxxx{% endfor %}",
    ],
)
def test_templates_cannot_exhaust_memory(source: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(source, {})
    assert "too" in str(caught.value) or "limit" in str(caught.value)
