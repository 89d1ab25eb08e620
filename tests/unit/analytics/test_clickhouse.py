"""The scale option: the metrics, written once in DuckDB's SQL, give the same report on ClickHouse
(embedded through chdb, so no server is needed), from the same records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nudgeflow.orchestrator.analytics import store
from nudgeflow.orchestrator.analytics.clickhouse.engine import ClickHouseEngine, EmbeddedClient
from nudgeflow.orchestrator.analytics.engine import DuckDBEngine, SqlEngine
from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.results import Filter
from nudgeflow.orchestrator.analytics.sample import write_sample
from nudgeflow.orchestrator.cli import app
from nudgeflow.rules import load_ruleset
from nudgeflow.rules.loader import playbook_files
from nudgeflow.rules.schema import Playbook
from tests.support.analytics import comparable

REPO = Path(__file__).resolve().parents[3]
JUNK = [
    "not json",
    "{}",
    '{"type": "track", "userId": "u", "messageId": "m", "timestamp": "yesterday", "event": "X"}',
    '{"type": "track", "userId": "", "messageId": "m2", "timestamp": "2026-01-01T00:00:00Z", "event": "X"}',
]


@pytest.fixture(scope="module")
def playbooks() -> list[Playbook]:
    return list(load_ruleset(REPO / "playbooks").playbooks)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, playbooks: list[Playbook]) -> Path:
    """1,500 users, with a few unreadable records and every tenth line sent twice."""
    out = tmp_path_factory.mktemp("sample")
    write_sample(playbooks, out, 1500, seed=11, sources=[str(f) for f in playbook_files(REPO / "playbooks")])
    for name in ("events.jsonl", "outcomes.jsonl"):
        lines = (out / name).read_text().splitlines()
        (out / name).write_text("\n".join(lines + JUNK + lines[::10]) + "\n")
    return out


@pytest.fixture
def clickhouse() -> Iterator[ClickHouseEngine]:
    engine = ClickHouseEngine(EmbeddedClient())
    engine.create_tables()
    yield engine
    engine.close()


def _duckdb(folder: Path) -> DuckDBEngine:
    connection = store.connect()
    store.add_files(connection, folder / "events.jsonl", folder / "outcomes.jsonl")
    return DuckDBEngine(connection)


def _report(engine: SqlEngine, playbooks: list[Playbook], flt: Filter) -> dict[str, Any]:
    return dict(comparable(OnboardingAnalytics(playbooks, engine).report(flt).model_dump(mode="json")))


@pytest.mark.parametrize(
    "flt",
    [Filter(), Filter(role="admin", signup_from=date(2026, 3, 9)), Filter(playbook="power_user_onboarding")],
    ids=["everyone", "admins-since", "one-playbook"],
)
def test_every_metric_is_the_same_on_clickhouse_as_on_duckdb(
    sample: Path, playbooks: list[Playbook], clickhouse: ClickHouseEngine, flt: Filter
) -> None:
    for table in ("events", "outcomes"):
        clickhouse.load_file(table, sample / f"{table}.jsonl")
    on_duckdb = _report(_duckdb(sample), playbooks, flt)
    on_clickhouse = _report(clickhouse, playbooks, flt)

    assert any(f["entered"] for f in on_duckdb["funnels"]) and on_duckdb["ttfv"]  # a report worth comparing
    assert bool(on_duckdb["experiments"]) == (flt.role is None)  # the power users' experiment, unless filtered out
    for metric in on_duckdb:
        assert on_clickhouse[metric] == on_duckdb[metric], metric


def test_records_sent_twice_count_once_and_a_reload_adds_nothing(
    sample: Path, playbooks: list[Playbook], clickhouse: ClickHouseEngine
) -> None:
    def stored(engine: SqlEngine) -> int:
        return sum(int(engine.rows(f"SELECT count(*) FROM {t}")[0][0]) for t in ("events", "outcomes"))

    for table in ("events", "outcomes"):
        clickhouse.load_file(table, sample / f"{table}.jsonl")
    duckdb = _duckdb(sample)
    on_clickhouse, on_duckdb = OnboardingAnalytics(playbooks, clickhouse), OnboardingAnalytics(playbooks, duckdb)
    assert on_clickhouse.user_count() == on_duckdb.user_count() == 1500
    assert stored(clickhouse) == stored(duckdb)
    sent_twice = on_duckdb.duplicates
    assert on_clickhouse.duplicates == sent_twice > 0  # every tenth line

    for table in ("events", "outcomes"):
        clickhouse.load_file(table, sample / f"{table}.jsonl")
    assert stored(clickhouse) == stored(duckdb)
    assert on_clickhouse.duplicates == 2 * sent_twice + stored(duckdb)  # the whole reload was a copy


def test_the_translation_answers_like_duckdb_where_the_engines_differ(clickhouse: ClickHouseEngine) -> None:
    rows = [
        ("a", 1.0, '{"role": "admin", "a \\"b": 1}'),
        ("b", 2.0, '{"role": 7}'),
        ("c", 4.0, '{"role": null}'),
        (None, 10.0, "{}"),
    ]
    columns = [("k", "VARCHAR"), ("x", "DOUBLE"), ("doc", "VARCHAR")]
    duckdb = DuckDBEngine(store.connect())
    queries = {
        # linear interpolation, not a sample
        "SELECT round(quantile_cont(x, 0.9), 6), quantile_cont(x, 0.5) FROM _t": [(8.2, 3.0)],
        # a missing key and a JSON null are NULL; a number is its text
        "SELECT k, json_extract_string(doc, '$.role') FROM _t ORDER BY x": [
            ("a", "admin"),
            ("b", "7"),
            ("c", None),
            (None, None),
        ],
        # a key holding a quote
        """SELECT trait_value(doc, 'a "b') FROM _t WHERE k = 'a'""": [("1",)],
        # a grouping set's other key is NULL; an aggregate's FILTER; an ordered string_agg
        "SELECT k, count(*) FILTER (x > 1) FROM _t GROUP BY ROLLUP (k) ORDER BY k NULLS LAST, 2": [
            ("a", 0),
            ("b", 1),
            ("c", 1),
            (None, 1),
            (None, 3),
        ],
        "SELECT string_agg(k, ',' ORDER BY x DESC) FROM _t WHERE k IS NOT NULL": [("c,b,a",)],
        # an outer join's missing side is NULL, not ''
        "SELECT a.k, b.k FROM _t a LEFT JOIN _t b ON b.x = a.x * 2 WHERE a.k IS NOT NULL ORDER BY a.k": [
            ("a", "b"),
            ("b", "c"),
            ("c", None),
        ],
    }
    for engine in (duckdb, clickhouse):
        engine.table_of("_t", columns, rows)
        for sql, expected in queries.items():
            assert engine.rows(sql) == expected, (engine.name, sql)


def test_report_from_a_folder_on_embedded_clickhouse(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    for name in ("events.jsonl", "outcomes.jsonl", "playbooks"):
        (folder / name).symlink_to(sample / name)
    monkeypatch.chdir(tmp_path)

    def report(*engine: str) -> dict[str, Any]:
        out = tmp_path / "r.json"
        done = CliRunner().invoke(app, ["report", "--from", "s", *engine, "--format", "json", "--out", str(out)])
        assert done.exit_code == 0, done.output
        return dict(comparable(json.loads(out.read_text())))

    on_clickhouse = report("--engine", "clickhouse")
    assert (folder / "analytics.chdb").is_dir()
    assert report("--engine", "clickhouse") == on_clickhouse  # read again from the data it loaded
    assert report() == on_clickhouse  # DuckDB's

    refused = CliRunner().invoke(app, ["report", "--engine", "clickhouse", "--sample"])
    assert refused.exit_code != 0 and "--from" in refused.output
