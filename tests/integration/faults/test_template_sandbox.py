"""Playbook templates are written by customer-success staff, not engineers: a template that
reaches for Python internals is rejected by `rules check` (file, line, field) and by hot reload,
and if one still fails at send time (a dynamic key, a missing trait) the message is suppressed
with a reported reason, never sent with blank parts. On the old code these passed `rules check`
and rendered as empty text."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nudgeflow.orchestrator.rules_holder import RulesHolder
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.rules import Engine, RulesetError, load_ruleset
from nudgeflow.rules.contracts.deliveries import DeliveryRequest
from nudgeflow.rules.contracts.events import parse_product_event
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.decisions import DeliverySuppressed
from nudgeflow.rules.templates import RenderError, render
from tests.support.events import identify, track
from tests.support.kafka import produce, read_topic

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


def context() -> dict[str, object]:
    return {
        "user": {"id": "ana", "role": "admin"},
        "event": {"name": "Teammate Invited"},
        "milestone": {"id": "m", "title": "M"},
        "progress": {"done": 1, "total": 2},
        "playbook": {"id": "p"},
    }


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempt_is_a_render_error_never_a_blank(source: str) -> None:
    values = context()
    with pytest.raises(RenderError) as caught:
        render(source, values)
    assert not any(marker in str(caught.value) for marker in ("<class", "popen", "uid=", "<module"))
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


@pytest.mark.parametrize("source", [e for e in ESCAPES if "range(" not in e])  # range(10**9) fails at send time
def test_escape_attempt_in_a_playbook_is_rejected_with_file_line_and_field(tmp_path: Path, source: str) -> None:
    with pytest.raises(RulesetError) as caught:
        load_ruleset(_playbook(tmp_path, "Hello {{ user.id }}", source))
    [problem, *_] = caught.value.problems
    assert problem.file.endswith("evil.yaml") and problem.line == 11, problem
    assert problem.field == "milestones[0].celebrate[0].body", problem


def test_rules_check_names_the_unsafe_template(tmp_path: Path) -> None:
    folder = _playbook(tmp_path, "Hi {{ cycler.__init__.__globals__ }}", "Welcome")
    done = subprocess.run(
        [sys.executable, "-m", "nudgeflow.orchestrator", "rules", "check", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout
    out = " ".join(done.stdout.split())
    assert "evil.yaml:10" in out and "milestones[0].celebrate[0].title" in out
    assert "'.__globals__' is a private attribute" in out and "'cycler' is not available" in out


def test_hot_reload_with_an_unsafe_template_keeps_the_rules_in_force(tmp_path: Path) -> None:
    folder = _playbook(tmp_path, "Hello {{ user.id }}", "Welcome")
    holder = RulesHolder.from_path(folder)
    version, engine = holder.ruleset.version, holder.engine
    _playbook(tmp_path, "Hello {{ user.id }}", "{{ user|attr('__class__') }}")
    assert holder.reload() is False
    assert (holder.ruleset.version, holder.engine) == (version, engine)
    assert holder.ruleset.playbooks[0].milestones[0].celebrate[0].body == "Welcome"


@pytest.mark.parametrize("source", [e for e in ESCAPES if "range(" in e])
def test_escape_attempt_that_only_fails_at_send_time_never_reaches_a_user(tmp_path: Path, source: str) -> None:
    engine = Engine(load_ruleset(_playbook(tmp_path, "Hello {{ user.id }}", source)))
    event = parse_product_event(
        f'{{"type": "track", "messageId": "m1", "userId": "ana", '
        f'"event": "Teammate Invited", "timestamp": "{datetime.now(UTC).isoformat()}"}}'
    )
    result = engine.on_event(UserProgress.new("ana"), event, datetime.now(UTC))
    sent = [d for d in result.decisions if isinstance(d, DeliveryRequest)]
    suppressed = [d for d in result.decisions if isinstance(d, DeliverySuppressed)]
    assert not sent and len(suppressed) == 1, result.decisions
    assert suppressed[0].reason == "template_error" and suppressed[0].detail, suppressed


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


SEND_TIME_PLAYBOOK = """\
id: send_time
name: Send time
milestones:
  - id: invite
    title: Invite
    when:
      event: Teammate Invited
    celebrate:
      - channel: in_app
        title: "Hi {{ user.first_name }}"
        body: "{{ user[event.show] | default('-') }}"
"""


@pytest.fixture
def send_time_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "send-time-playbooks"
    folder.mkdir()
    (folder / "send_time.yaml").write_text(SEND_TIME_PLAYBOOK)
    return folder


async def test_render_failures_at_send_time_are_reported_outcomes_not_blank_messages(
    make_settings, send_time_rules: Path
) -> None:  # type: ignore[no-untyped-def]
    """Through a live worker: a missing trait and a key chosen by the event that reaches a private
    attribute each suppress the celebration with reason and detail on the outcomes topic; a user
    with the trait and a harmless key gets the message."""
    async with Worker(make_settings(send_time_rules)) as worker:
        await worker.wait_ready(timeout=60)
        topic = worker.settings.events_topic
        await produce(
            worker.bootstrap_servers,
            topic,
            [
                (b"ana", identify("ana", {"first_name": "Ana", "plan": "team"})),
                (b"ana", track("ana", "Teammate Invited", {"show": "plan"})),
                (b"ben", identify("ben", {"plan": "team"})),
                (b"ben", track("ben", "Teammate Invited", {"show": "plan"})),
                (b"cy", identify("cy", {"first_name": "Cy"})),
                (b"cy", track("cy", "Teammate Invited", {"show": "__class__"})),
            ],
        )

        def settled(values: list[dict[str, object]]) -> bool:
            kinds = {(v["user_id"], v["kind"]) for v in values}
            return {("ana", "delivered"), ("ben", "delivery_suppressed"), ("cy", "delivery_suppressed")} <= kinds

        outcomes = await read_topic(worker.bootstrap_servers, worker.settings.outcomes_topic, until=settled, timeout=30)
        prompts = await read_topic(worker.bootstrap_servers, worker.settings.prompts_topic, timeout=5)
    assert settled(outcomes), "ana's message was not delivered, or ben's and cy's not suppressed"
    by_user = {(o["user_id"], o["kind"]): o for o in outcomes}
    ben, cy = by_user[("ben", "delivery_suppressed")], by_user[("cy", "delivery_suppressed")]
    assert ben["attributes"]["reason"] == "template_error" and "first_name" in ben["attributes"]["detail"]
    assert cy["attributes"]["reason"] == "template_error" and "not allowed" in cy["attributes"]["detail"]
    assert [(p["user_id"], p["title"], p["body"]) for p in prompts] == [("ana", "Hi Ana", "team")]
