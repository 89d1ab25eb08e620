"""The same numbers through every output: report tables, CSV/JSON export, the CLI, the JSON API,
and the digest's sentences."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from nudgeflow.orchestrator.analytics import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.dashboard import create_app
from nudgeflow.orchestrator.analytics.digest import digest_messages, weekly_digest
from nudgeflow.orchestrator.analytics.report import export, flat_tables, render
from nudgeflow.orchestrator.cli import app
from tests.support.analytics import EVENTS, OUTCOMES, PLAYBOOK, T0, completed, exposure, identify, track


def _analytics() -> OnboardingAnalytics:
    built = OnboardingAnalytics([PLAYBOOK])
    built.add_all(EVENTS, OUTCOMES)
    return built


def test_flat_tables_and_exports_carry_the_hand_computed_numbers(tmp_path: Path) -> None:
    report = _analytics().report()
    funnel = flat_tables(report)["funnel"]
    assert [(r["milestone_id"], r["reached"]) for r in funnel] == [("a", 3), ("b", 1), ("c", 0)]
    written = export(report, "csv", tmp_path / "csv")
    assert {p.name for p in written} >= {"ttfv.csv", "funnel.csv", "cohorts.csv", "experiments.csv"}
    rows = list(csv.DictReader((tmp_path / "csv" / "ttfv.csv").open()))
    assert (rows[0]["group"], rows[0]["median_hours"], rows[0]["p90_hours"]) == ("all", "4.0", "8.8")
    export(report, "json", tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["ttfv"][0]["overall"]["median_hours"] == 4.0
    console = Console(record=True, width=200)
    render(report, console)
    assert "Do B" in console.export_text()


def test_cli_report_from_jsonl_files(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "trial.yaml").write_text(json.dumps(PLAYBOOK.model_dump(mode="json", exclude_defaults=True)))
    events, outcomes = tmp_path / "events.jsonl", tmp_path / "outcomes.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in EVENTS))
    outcomes.write_text("\n".join(json.dumps(o) for o in OUTCOMES))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--rules",
            str(rules),
            "--events",
            str(events),
            "--outcomes",
            str(outcomes),
            "--since",
            "2026-03-09",
            "--format",
            "json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["filter"]["signup_from"] == "2026-03-09"
    assert [s["reached"] for s in data["funnels"][0]["steps"]] == [1, 0, 0]
    table = CliRunner().invoke(app, ["report", "--rules", str(rules), "--events", str(events)])
    assert table.exit_code == 0 and "ttfv" in table.output


def test_json_api_applies_filters() -> None:
    client = TestClient(create_app(_analytics()))
    assert client.get("/").status_code == 200
    assert "Chart.js" in client.get("/static/chart.umd.js").text[:200]
    everyone = client.get("/api/report").json()
    assert [s["reached"] for s in everyone["funnels"][0]["steps"]] == [3, 1, 0]
    assert everyone["roles"] == ["admin", "operator"]
    later = client.get("/api/report", params={"from": "2026-03-09", "role": "admin"}).json()
    assert later["funnels"][0]["entered"] == 2
    assert client.get("/api/report", params={"playbook": "nope"}).json()["funnels"] == []


def test_weekly_digest_in_plain_language() -> None:
    analytics = OnboardingAnalytics([PLAYBOOK])
    now = T0 + timedelta(days=21)
    for n, (day, done) in enumerate([(0, 1), (1, 9), (2, None), (3, 3), (7, 2), (8, 2), (9, None)]):
        user = f"u{n}"
        analytics.add_event(identify(user, f"{user}-id", day * 24, role="admin"))
        if done is not None:
            analytics.add_outcome(completed(user, (day + done) * 24, "a"))
        analytics.add_outcome(exposure(user, day * 24, "copy", "b" if n % 2 else "control"))
    for n in range(3):  # this week's signups
        analytics.add_event(identify(f"new{n}", f"new{n}-id", (15 + n) * 24, role="admin"))
    for user, day in (("u0", 0), ("u4", 7)):  # back on day 7 after their signup
        analytics.add_event(track(user, f"{user}-back", (day + 7) * 24 + 2))
    digest = weekly_digest(analytics, now)
    assert digest.lines[0] == "This week 3 new users (same as the week before)."  # days 14-20 vs 7-13
    # cohort now-14d..now-7d = days 7-13: u4, u5 reached within 7d, u6 not → 67%; before (days 0-6): 2 of 4 → 50%
    assert digest.lines[1] == (
        "Trial: 67% of the 3 users who signed up the week before reached “Do A” within 7 days (up from 50%)."
    )
    # signed up in the week to day 13 (day 7 over for all): u4 of u4-u6 came back on day 7; before, u0 of u0-u3
    assert (
        digest.lines[2]
        == "Retention: 33% of the 3 users who signed up in the week to 15 Mar came back on day 7 (up from 25%)."
    )
    assert digest.lines[3] == "Experiment copy: no clear difference yet between b and control."
    messages = digest_messages(digest, slack_channel="C0CS", emails=["ceo@acme.test", "cs@acme.test"])
    assert [(m.channel, m.slack_channel or m.to_email) for m in messages] == [
        ("slack", "C0CS"),
        ("email", "ceo@acme.test"),
        ("email", "cs@acme.test"),
    ]
    assert all(m.body == digest.text and m.delivery_id.startswith("digest-20260323") for m in messages)


def test_dashboard_on_a_database_file_another_process_keeps_writing(tmp_path: Path) -> None:
    from nudgeflow.orchestrator.analytics import store
    from nudgeflow.orchestrator.analytics.ingest import open_when_free

    path = tmp_path / "analytics.duckdb"
    writer = store.connect(path)
    store.add_texts(writer, [json.dumps(e) for e in EVENTS], [json.dumps(o) for o in OUTCOMES])
    writer.close()
    client = TestClient(create_app(lambda: OnboardingAnalytics([PLAYBOOK], open_when_free(path, read_only=True))))
    assert [s["reached"] for s in client.get("/api/report").json()["funnels"][0]["steps"]] == [3, 1, 0]
    # between two requests the file is free: the ingester can commit, and the next request sees it
    writer = store.connect(path)
    store.add_texts(
        writer, [json.dumps(identify("u8", "u8-id", 1, role="admin"))], [json.dumps(completed("u8", 3, "a"))]
    )
    writer.close()
    assert [s["reached"] for s in client.get("/api/report").json()["funnels"][0]["steps"]] == [4, 1, 0]
    assert client.get("/healthz").json()["users"] == 6


def test_the_executive_summary_compares_two_cohorts_watched_for_the_same_30_days() -> None:
    analytics = OnboardingAnalytics([PLAYBOOK])
    # as_of is day 100: the recent cohort signed up on days 40-70, the one before on days 10-40
    for user, signup_day, hours in (("b1", 12, 96), ("b2", 20, 48), ("r1", 45, 24), ("r2", 50, 36), ("r3", 55, None)):
        analytics.add_event(identify(user, f"{user}-id", signup_day * 24, role="admin"))
        if hours is not None:
            analytics.add_outcome(completed(user, signup_day * 24 + hours, "a"))
    analytics.add_event(track("r3", "r3-last", 100 * 24))
    [ttfv] = [c for c in analytics.report().summary if c.section == "ttfv"]
    assert ttfv.text == (
        "Trial: users who signed up in the 30 days from 11 Apr reached first value (“Do A”) in a median "
        "30.0 hours (2 of 3 within 30 days), 58% faster than the 30 days before (3.0 days)."
    )
    digest = weekly_digest(analytics, T0 + timedelta(days=101))
    assert digest.lines[0] == ttfv.text, "the digest opens with the executive summary"


def test_without_settled_cohorts_the_summary_claims_nothing() -> None:
    analytics = OnboardingAnalytics([PLAYBOOK])
    analytics.add_event(identify("n1", "n1-id", 0, role="admin"))
    analytics.add_outcome(completed("n1", 5, "a"))
    assert analytics.report().summary == []
