"""Property tests: untrusted product data and hand-written YAML must never crash the rules."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from nudgeflow.rules import Engine, Ruleset, RulesetError, load_ruleset
from nudgeflow.rules.contracts.users import UserProgress
from nudgeflow.rules.decisions import TimerDue
from nudgeflow.rules.predicates import matches
from nudgeflow.rules.schema import When
from tests.support.rules import T0, identify, track

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = load_ruleset(REPO / "playbooks")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
keys = st.sampled_from(["plan", "rows", "tags", "plan.tier", "status", "x"])


comparable = st.one_of(st.integers(-100, 100), st.floats(allow_nan=False), st.text(max_size=5))
conditions = st.fixed_dictionaries(
    {},
    optional={
        "equals": json_values,
        "in": st.lists(json_values, max_size=3),
        "not_in": st.lists(json_values, max_size=3),
        "gt": comparable,
        "gte": comparable,
        "lt": comparable,
        "lte": comparable,
        "exists": st.booleans(),
        "contains": json_values,
    },
).filter(bool)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(keys, st.one_of(scalars, conditions), max_size=4), st.dictionaries(keys, json_values, max_size=5)
)
def test_any_valid_predicate_on_any_properties_gives_a_bool(spec: dict, props: dict) -> None:
    try:
        where = When(event="E", where=spec).where
    except ValidationError:
        assume(False)
    assert matches(where, props) in (True, False)


event_names = st.sampled_from(
    [
        "Data Source Connected",
        "Teammate Invited",
        "SSO Configured",
        "Permission Group Created",
        "Report Created",
        "Automation Created",
        "Report Shared",
        "Dashboard Viewed",
        "Alert Configured",
        "Incident Resolved",
    ]
)
offsets = st.integers(0, 60 * 24 * 30).map(lambda m: T0 + timedelta(minutes=m))
events = st.one_of(
    st.builds(
        lambda n, t, p: track(n, t, **p),
        event_names,
        offsets,
        st.dictionaries(
            st.sampled_from(
                [
                    "status",
                    "charts",
                    "enabled",
                    "has_data",
                    "destination",
                    "recipients",
                    "minutes_to_resolve",
                    "test_login",
                ]
            ),
            json_values,
            max_size=4,
        ),
    ),
    st.builds(
        lambda t, role, zone: identify(t, timezone=zone, role=role),
        offsets,
        st.sampled_from(["admin", "power_user", "operator", None, 3]),
        st.sampled_from([None, "Europe/Paris", "Asia/Kolkata", "America/New_York"]),
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=25))
def test_random_event_streams_never_crash_and_celebrate_once(stream: list) -> None:
    engine = Engine(EXAMPLES)
    progress = UserProgress.new("u1")
    completed: list[tuple[str, str]] = []
    for event in stream:
        result = engine.on_event(progress, event, event.timestamp)
        progress = result.progress
        completed += [(d.playbook_id, d.milestone_id) for d in result.decisions if d.type == "milestone_completed"]
        for timer in [d for d in result.decisions if d.type == "arm_timer"]:
            progress = engine.on_timer(progress, timer.due(), timer.due_at).progress
    assert len(completed) == len(set(completed))


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=25))
def test_no_progress_the_engine_returned_changes_afterwards(stream: list) -> None:
    """The engine shares the playbooks an input can't reach between the old and new progress
    (no deep copy per event): every progress it ever returned must still read as it did."""
    engine = Engine(EXAMPLES)
    progress = UserProgress.new("u1")
    history = [(progress, progress.model_dump())]
    for event in stream:
        progress = engine.on_event(progress, event, event.timestamp).progress
        history.append((progress, progress.model_dump()))
        for timer in sorted(progress.timers.values(), key=lambda t: t.due_at)[:2]:
            timer_id = next(i for i, armed in progress.timers.items() if armed is timer)
            due = TimerDue(
                timer_id=timer_id,
                user_id="u1",
                due_at=timer.due_at,
                playbook_id=timer.playbook_id,
                milestone_id=timer.milestone_id,
                nudge_step=timer.step,
                stall_key=timer.stall_key,
            )
            progress = engine.on_timer(progress, due, timer.due_at).progress
            history.append((progress, progress.model_dump()))
    assert all(seen.model_dump() == dump for seen, dump in history)


playbook_keys = st.sampled_from(
    [
        "id",
        "name",
        "milestones",
        "when",
        "event",
        "within",
        "after",
        "celebrate",
        "channel",
        "title",
        "body",
        "stalls",
        "timing",
        "audience",
        "unlocks",
        "quiet_hours",
        "start",
        "nudges",
        "of",
        "not_within",
        "count",
        "where",
    ]
)
yamlish = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(playbook_keys, st.text(max_size=5)), inner, max_size=5)
    ),
    max_leaves=25,
)


def _load(text: str) -> Ruleset | None:
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "pb.yaml"
        file.write_text(text, encoding="utf-8")
        try:
            return load_ruleset(file)
        except RulesetError as exc:
            assert exc.problems and all(p.message for p in exc.problems)
            return None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish)
def test_random_yaml_documents_load_or_explain(document: object) -> None:
    _load(yaml.safe_dump(document, allow_unicode=True))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab :-[]{}|>'\"\n\t#&*!%@`,?0123456789")), max_size=80))
def test_random_text_loads_or_explains(text: str) -> None:
    _load(text)


GOOD = (REPO / "playbooks" / "operator.yaml").read_text()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, len(GOOD.splitlines()) - 1),
    st.sampled_from(["", "  ", "x: ", "- ", "{{", "within: 7", "after: nope", "\t", ": :"]),
)
def test_mutated_example_playbook_loads_or_explains(line: int, insert: str) -> None:
    lines = GOOD.splitlines()
    lines[line] = insert + lines[line]
    _load("\n".join(lines))


users = st.sampled_from(["u1", "u2", "u3"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(users, events), max_size=30))
def test_simulation_is_deterministic_and_never_nudges_after_completion(pairs: list) -> None:
    from nudgeflow.orchestrator.simulate import simulate

    stream = [event.model_copy(update={"userId": user}) for user, event in pairs]
    report = simulate(EXAMPLES, stream)
    assert simulate(EXAMPLES, list(reversed(stream))).json_lines() == report.json_lines() or len(
        {e.timestamp for e in stream}
    ) < len(stream)  # ties keep input order, so only then may differ
    done = {
        (d.user_id, d.playbook_id, d.milestone_id): at for at, d in report.decisions if d.type == "milestone_completed"
    }
    for at, decision in report.decisions:
        if decision.type == "delivery" and decision.kind == "nudge":
            key = (decision.user_id, decision.playbook_id, decision.milestone_id)
            assert key not in done or at < done[key]
