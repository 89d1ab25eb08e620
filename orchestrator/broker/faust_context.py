"""Make table reads and writes count as part of a given Faust event.

A Faust table picks the partition of a write (its changelog record, its RocksDB database) from
the *current event*, a context variable the stream sets while it hands out a record. An agent
that takes records in batches (`Stream.take_events`) handles them after the stream moved on, so
the handler sets each record's event as current while it reads and writes that user's state.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust import streams


@contextmanager
def as_current_event(event: Any) -> Iterator[None]:
    token = streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        streams._current_event.reset(token)
