"""`nudgeflow sample` writes valid records for the playbooks' own experiments, and `report --from`
reads the folder from anywhere, without a broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nudgeflow.orchestrator.analytics.sample import journeys
from nudgeflow.orchestrator.cli import app
from nudgeflow.rules import load_ruleset
from nudgeflow.rules.contracts.events import parse_product_event
from nudgeflow.rules.contracts.outcomes import Outcome
from nudgeflow.rules.experiments import assign

REPO = Path(__file__).resolve().parents[3]


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sample_then_report_from_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # not the repository: the default playbooks path does not exist here
    monkeypatch.delenv("NUDGEFLOW_RULES_PATH", raising=False)
    wrote = CliRunner().invoke(app, ["sample", "--users", "300", "--out", "s"])
    assert wrote.exit_code == 0, wrote.output
    assert sorted(p.name for p in (tmp_path / "s" / "playbooks").iterdir()) == [
        "admin.yaml",
        "operator.yaml",
        "power_user.yaml",
    ]
    events, outcomes = _lines(tmp_path / "s" / "events.jsonl"), _lines(tmp_path / "s" / "outcomes.jsonl")
    assert f"wrote {len(events)} events and {len(outcomes)} outcomes for 300 users" in wrote.output
    for event in events:
        parse_product_event(json.dumps(event))  # the inbound contract, strictly
    for outcome in outcomes:
        Outcome.model_validate(outcome)  # the outbound contract, strictly (known kinds only)
    assert len({e["userId"] for e in events}) == 300
    assert len({o["outcome_id"] for o in outcomes}) == len(outcomes)

    report = CliRunner().invoke(app, ["report", "--from", "s", "--format", "json", "--out", "r.json"])
    assert report.exit_code == 0, report.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert sum(f["entered"] for f in data["funnels"]) == 300
    assert [e["experiment"] for e in data["experiments"]] == ["power-user-copy"]


def test_experiments_are_the_playbooks_own_with_the_workers_assignment() -> None:
    playbooks = list(load_ruleset(REPO / "playbooks").playbooks)
    defined = {p.id: p.experiment for p in playbooks if p.experiment}
    variants: dict[str, int] = {}
    for person in journeys(playbooks, 900, seed=3):
        exposures = [o for o in person.outcomes if o["kind"] == "exposure"]
        experiment = defined.get(person.playbook.id)
        if experiment is None:
            assert exposures == []
            continue
        [exposure] = exposures
        attributes = exposure["attributes"]
        assert attributes == {"experiment": experiment.id, "variant": assign(experiment, person.user)}
        variants[attributes["variant"]] = variants.get(attributes["variant"], 0) + 1
        held_out = attributes["variant"] == "holdout"
        nudges = [o for o in person.outcomes if o["attributes"].get("kind") == "nudge"]
        assert all((o["kind"] == "delivery_suppressed") == held_out for o in nudges)
    assert set(variants) == {"control", "social_proof", "holdout"}
    assert 10 <= variants["holdout"] <= 50  # 10% of ~300


def test_the_same_seed_writes_the_same_sample_and_users_stream_one_at_a_time() -> None:
    playbooks = list(load_ruleset(REPO / "playbooks").playbooks)
    stream = journeys(playbooks, 10**9)  # a billion users: only ever one in memory
    first = next(stream)
    assert first.user == "admin-000000" and next(stream).user == "operator-000001"
    again = [(p.events, p.outcomes) for p in journeys(playbooks, 20, seed=5)]
    assert again == [(p.events, p.outcomes) for p in journeys(playbooks, 20, seed=5)]
    assert again != [(p.events, p.outcomes) for p in journeys(playbooks, 20, seed=6)]


def test_report_from_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--from", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such folder" in " ".join(result.output.split())


def test_report_from_the_ingesters_database_matches_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nudgeflow.orchestrator.analytics import store

    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["sample", "--users", "200", "--out", "s"]).exit_code == 0
    connection = store.connect(tmp_path / "a.duckdb")
    store.add_files(connection, tmp_path / "s" / "events.jsonl", tmp_path / "s" / "outcomes.jsonl")
    store.add_files(connection, tmp_path / "s" / "events.jsonl", None)  # the same records again: dropped
    connection.close()
    reports = {}
    for name, source in (("files", ["--from", "s"]), ("db", ["--db", "a.duckdb", "--rules", "s/playbooks"])):
        result = CliRunner().invoke(app, ["report", *source, "--format", "json", "--out", f"{name}.json"])
        assert result.exit_code == 0, result.output
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert reports["db"] == reports["files"]
    assert sum(f["entered"] for f in reports["db"]["funnels"]) == 200


def test_the_folders_database_is_rebuilt_when_the_jsonl_changes(tmp_path: Path) -> None:
    from nudgeflow.orchestrator.analytics.folder import DATABASE_FILE, open_folder

    assert CliRunner().invoke(app, ["sample", "--users", "30", "--out", str(tmp_path)]).exit_code == 0

    def users() -> int:
        connection = open_folder(tmp_path)
        try:
            row = connection.execute("SELECT count(DISTINCT user_id) FROM events").fetchone()
            return int(row[0]) if row else 0
        finally:
            connection.close()

    assert users() == 30 and (tmp_path / DATABASE_FILE).exists()
    built = (tmp_path / DATABASE_FILE).stat().st_mtime_ns
    assert users() == 30 and (tmp_path / DATABASE_FILE).stat().st_mtime_ns == built  # reused, not rebuilt
    late = {"type": "identify", "messageId": "x-1", "userId": "x", "timestamp": "2026-03-29T10:00:00+00:00"}
    with (tmp_path / "events.jsonl").open("a") as events:
        events.write(json.dumps(late | {"traits": {"role": "admin"}}) + "\n")
    assert users() == 31
