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
