"""What the DuckDB store keeps from topic values: valid records once, bad ones skipped."""

from __future__ import annotations

import json

from nudgeflow.orchestrator.analytics import store
from tests.support.analytics import completed, identify, track


def test_bad_values_are_skipped_and_good_ones_kept_once() -> None:
    connection = store.connect()
    good = [track("u1", "m1", 1, "A Done", note="first\nline é"), identify("u1", "m2", 0, role="admin")]
    events = [
        json.dumps(good[0], indent=2),  # pretty-printed: newlines between tokens
        json.dumps(good[1]),
        json.dumps(good[1]),  # the same messageId again
        "not json",
        "",
        "[1, 2]",
        json.dumps({**good[0], "messageId": "m3", "timestamp": "yesterday"}),  # unreadable time
        json.dumps({**good[0], "messageId": "m4", "type": "alias"}),  # not a call Nudgeflow reads
        json.dumps({**good[1], "messageId": "m6", "type": "page", "name": "Pricing"}),  # read as Page Viewed
        json.dumps({k: v for k, v in good[0].items() if k != "event"} | {"messageId": "m5"}),  # track without event
    ]
    outcomes = [json.dumps(completed("u1", 2, "a")), json.dumps({"kind": "milestone_completed"}), "{"]
    assert store.add_texts(connection, events, outcomes) == (3, 1)
    assert store.add_texts(connection, events[:1], outcomes[:1]) == (0, 0)  # a replay adds nothing
    assert connection.execute("SELECT coalesce(sum(n), 0) FROM duplicates").fetchone() == (3,)
    rows = connection.execute("SELECT message_id, type, event FROM events ORDER BY message_id").fetchall()
    assert rows == [("m1", "track", "A Done"), ("m2", "identify", None), ("m6", "track", "Page Viewed")]


def test_a_database_written_before_survey_answers_gets_their_columns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE TABLE outcomes (outcome_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, user_id VARCHAR NOT NULL, "
        "occurred_at TIMESTAMPTZ NOT NULL, playbook_id VARCHAR, milestone_id VARCHAR, delivery_kind VARCHAR, "
        "reason VARCHAR, due_at TIMESTAMPTZ, experiment VARCHAR, variant VARCHAR)"
    )
    old.close()
    connection = store.connect(path)
    answer = completed("u1", 2, "a") | {"outcome_id": "s1", "kind": "survey_answered"}
    answer["attributes"] = {"rating": 4, "scale": 5, "comment": "Nice"}
    assert store.add_texts(connection, [], [json.dumps(answer)]) == (0, 1)
    assert connection.execute("SELECT rating, scale, comment FROM outcomes").fetchall() == [(4, 5, "Nice")]
