"""Where the metrics' SQL runs: the seam between `OnboardingAnalytics` and an analytical engine.

The metrics are written once, in DuckDB's dialect (`queries`). DuckDB runs them as written;
ClickHouse (embedded through chdb, or a server) runs them translated (`clickhouse/`). Both
engines answer with plain Python values: str, int, float, datetime (UTC), lists and None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import duckdb

from nudgeflow.orchestrator.analytics import snapshot

Row = tuple[Any, ...]
Params = Mapping[str, object] | None
Columns = Sequence[tuple[str, str]]  # (name, DuckDB type: VARCHAR, INTEGER, DOUBLE)


class SqlEngine(Protocol):
    """Runs the metrics' SQL: statements that build session tables, and queries that return rows."""

    name: str

    def execute(self, sql: str, params: Params = None) -> None:
        """One statement or several separated by `;` (they build the session's own tables)."""

    def rows(self, sql: str, params: Params = None) -> list[Row]:
        """The rows of one query."""

    def table_of(self, name: str, columns: Columns, rows: Sequence[Row]) -> None:
        """A session table holding `rows` (small: the playbooks' steps, audiences)."""

    def kept_snapshot(self) -> bool:
        """Whether the snapshot's per-user tables (`queries.SNAPSHOT`) are already there, kept with
        the records they cover, so the report need not build them."""

    def close(self) -> None:
        """Ends the session (chdb: one data directory per process at a time)."""


class DuckDBEngine:
    """The embedded default: the SQL runs as written, on one DuckDB connection."""

    name = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Params = None) -> None:
        self.connection.execute(sql, dict(params or {}))

    def rows(self, sql: str, params: Params = None) -> list[Row]:
        return self.connection.execute(sql, dict(params or {})).fetchall()

    def close(self) -> None:
        self.connection.close()

    def kept_snapshot(self) -> bool:
        """The file's copy (snapshot.py), when it covers exactly the stored records."""
        if snapshot.use_kept(self.connection):
            return True
        snapshot.clear(self.connection)
        return False

    def table_of(self, name: str, columns: Columns, rows: Sequence[Row]) -> None:
        self.connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({', '.join(f'{n} {t}' for n, t in columns)})")
        if rows:
            unnests = ", ".join(f"unnest(${n})" for n, _ in columns)
            values = {n: [r[i] for r in rows] for i, (n, _) in enumerate(columns)}
            self.connection.execute(f"INSERT INTO {name} SELECT {unnests}", values)
