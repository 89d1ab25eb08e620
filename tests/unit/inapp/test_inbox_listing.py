"""The inbox's views, pages and counts, and the merge that makes them the same on every replica:
records applied in any order (status changes from several API replicas, a replayed creation, a
snooze) leave one and the same row, and the unread count is always that of the listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudgeflow.channels.inapp.inbox import UserInbox
from nudgeflow.channels.inapp.listing import BadCursor, in_view, page, unread
from nudgeflow.rules.contracts.prompts import Prompt, PromptStatus

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def prompt(n: int, minutes: int = 0) -> Prompt:
    at = NOW + timedelta(minutes=minutes)
    return Prompt(
        delivery_id=f"d{n:02d}",
        user_id="ana",
        kind="nudge",
        title="t",
        body="b",
        playbook_id="p",
        playbook_version="v1",
        milestone_id="m",
        created_at=at,
        status_changed_at=at,
    )


def test_the_inbox_view_leaves_out_archived_and_snoozed_prompts_and_the_badge_counts_what_is_in_view() -> None:
    archived = prompt(1).with_status(PromptStatus.ARCHIVED, at=NOW)
    snoozed = prompt(2).snoozed(NOW + timedelta(hours=1), at=NOW)
    woken = prompt(3).snoozed(NOW - timedelta(minutes=1), at=NOW - timedelta(hours=1))
    plain = prompt(4)
    everything = [plain, woken, snoozed, archived]
    assert in_view(everything, now=NOW) == [plain, woken]
    assert in_view(everything, now=NOW, view="all") == everything
    assert unread(everything, NOW) == 2
    assert unread(everything, NOW + timedelta(hours=2)) == 3, "the snooze is over: it counts again"


def test_pages_follow_the_cursor_and_a_new_prompt_never_shifts_the_next_page() -> None:
    prompts = [prompt(n, minutes=n) for n in range(7)][::-1]  # newest first
    first, cursor = page(prompts, limit=3, cursor=None)
    assert [p.delivery_id for p in first] == ["d06", "d05", "d04"] and cursor
    newer = [prompt(9, minutes=60), *prompts]  # arrived while the user read the first page
    second, cursor = page(newer, limit=3, cursor=cursor)
    assert [p.delivery_id for p in second] == ["d03", "d02", "d01"]
    last, cursor = page(newer, limit=3, cursor=cursor)
    assert [p.delivery_id for p in last] == ["d00"] and cursor is None
    with pytest.raises(BadCursor):
        page(prompts, limit=3, cursor="not-ours!")


statuses = st.sampled_from(list(PromptStatus))
changes = st.lists(
    st.tuples(
        st.integers(0, 4),  # which prompt
        st.one_of(
            st.tuples(st.just("status"), statuses, st.integers(0, 600)),
            st.tuples(st.just("snooze"), st.none() | st.integers(-60, 600), st.integers(0, 600)),
            st.tuples(st.just("create"), st.none(), st.integers(0, 600)),
        ),
    ),
    max_size=30,
)


def record(n: int, change: tuple[str, object, int]) -> Prompt:
    kind, value, minutes = change
    at = NOW + timedelta(minutes=minutes)
    base = prompt(n)
    if kind == "status":
        assert isinstance(value, PromptStatus)
        return base.with_status(value, at=at)
    if kind == "snooze":
        until = None if value is None else NOW + timedelta(minutes=int(str(value)))
        return base.snoozed(until, at=at)
    return prompt(n, minutes=minutes)  # the creation, replayed later with a later time


@settings(max_examples=200, deadline=None)
@given(changes=changes, order=st.randoms(use_true_random=False), minutes=st.integers(0, 700))
def test_records_in_any_order_give_one_row_and_the_count_is_that_of_the_listing(changes, order, minutes) -> None:  # type: ignore[no-untyped-def]
    records = [prompt(n) for n in range(5)] + [record(n, change) for n, change in changes]
    shuffled = list(records)
    order.shuffle(shuffled)
    rows = []
    for sequence in (records, shuffled, records + shuffled):  # and everything read twice
        row = UserInbox(user_id="ana")
        for item in sequence:
            row.apply(item)
        rows.append(row.prompts)
    assert rows[0] == rows[1] == rows[2]
    now = NOW + timedelta(minutes=minutes)
    listed = in_view(UserInbox(user_id="ana", prompts=rows[0]).listing(), now=now)
    assert unread(rows[0].values(), now) == sum(1 for p in listed if p.status is PromptStatus.PENDING)
    for n in range(5):  # a status only ever moves forward: the row holds the furthest one written
        written = [r.status.rank for r in records if r.delivery_id == f"d{n:02d}"]
        assert rows[0][f"d{n:02d}"].status.rank == max(written)
