"""A database file keeps the report's per-user tables; a report uses them only when they cover exactly
the stored records, so a report is the same whether they were kept, stale, or never kept."""

from __future__ import annotations

import json
from pathlib import Path

from nudgeflow.orchestrator.analytics import snapshot, store
from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics
from tests.support.analytics import PLAYBOOK, completed, identify, track


def _records(users: range) -> tuple[list[str], list[str]]:
    events, outcomes = [], []
    for n in users:
        events += [json.dumps(identify(f"u{n}", f"i{n}", 0, role="admin")), json.dumps(track(f"u{n}", f"t{n}", 1))]
        outcomes.append(json.dumps(completed(f"u{n}", 2 + n, "a")))
    return events, outcomes


def _report(path: Path | None, *batches: tuple[list[str], list[str]]) -> dict[str, object]:
    analytics = OnboardingAnalytics([PLAYBOOK], store.connect(path) if path else None)
    for events, outcomes in batches:
        analytics.add_texts(events, outcomes)
    return dict(analytics.report().model_dump(mode="json"))


def test_a_kept_snapshot_is_used_only_while_it_covers_every_record(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    connection = store.connect(path)
    store.add_texts(connection, *_records(range(0, 5)))
    snapshot.persist(connection)
    assert snapshot.use_kept(connection)
    kept = OnboardingAnalytics([PLAYBOOK], connection).report()
    assert kept.funnels[0].entered == 5 and kept.funnels[0].steps[0].reached == 5

    store.add_texts(connection, *_records(range(5, 8)))  # the ingester wrote more since
    assert not snapshot.use_kept(connection)
    later = OnboardingAnalytics([PLAYBOOK], connection).report()
    assert later.funnels[0].entered == 8  # rebuilt from the records, not the stale copy
    connection.close()

    fresh = _report(None, _records(range(0, 8)))
    reread = dict(OnboardingAnalytics([PLAYBOOK], store.connect(path, read_only=True)).report().model_dump(mode="json"))
    assert reread == fresh


def test_a_snapshot_kept_by_an_older_layout_is_rebuilt_not_read(tmp_path: Path) -> None:
    connection = store.connect(tmp_path / "a.duckdb")
    store.add_texts(connection, *_records(range(0, 3)))
    snapshot.persist(connection)
    connection.execute("ALTER TABLE snapshot_users DROP COLUMN active_days")  # as an older Nudgeflow kept it
    connection.execute(f"UPDATE snapshot_of SET layout = {snapshot.LAYOUT - 1}")
    assert not snapshot.use_kept(connection)
    report = OnboardingAnalytics([PLAYBOOK], connection).report()
    assert report.retention[-1].users == 3
    connection.close()
