"""Runs the metrics on ClickHouse: embedded (chdb, a folder on disk) or a server (clickhouse-connect).

Every statement goes through the dialect (`dialect.py`). The session settings make ClickHouse
answer like SQL (and DuckDB) where its defaults differ:

- `join_use_nulls`: an outer join's missing side is NULL, not 0 or '';
- `group_by_use_nulls`: a grouping set's other keys are NULL (the queries tell the sets apart that way);
- `union_default_mode`: a bare UNION removes duplicates, as in SQL;
- `final`: a record delivered twice counts once even before its table merged the copies (schema.py);
- `session_timezone`: days and weeks are UTC ones, as in the DuckDB store.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlglot import exp

from nudgeflow.orchestrator.analytics.clickhouse import dialect, schema
from nudgeflow.orchestrator.analytics.engine import Columns, Params, Row

SETTINGS = {
    "join_use_nulls": 1,
    "group_by_use_nulls": 1,
    "union_default_mode": "DISTINCT",
    "final": 1,
    "session_timezone": "UTC",
}
TYPES = {"VARCHAR": "String", "INTEGER": "Int32", "BIGINT": "Int64", "DOUBLE": "Float64"}


class Client(Protocol):
    """What the engine needs of a ClickHouse connection."""

    def command(self, sql: str) -> None: ...

    def query(self, sql: str) -> list[Row]: ...

    def close(self) -> None: ...


class EmbeddedClient:
    """ClickHouse in this process (chdb), its tables in `path` (in memory when None)."""

    def __init__(self, path: Path | None = None) -> None:
        from chdb import session

        opened: Any = session.Session  # chdb ships no type information
        self._session = opened(str(path) if path is not None else "")
        for name, value in SETTINGS.items():
            self.command(f"SET {name} = {dialect.literal(value).sql('clickhouse')}")

    def command(self, sql: str) -> None:
        self._session.query(sql)

    def query(self, sql: str) -> list[Row]:
        table = self._session.query(sql, "ArrowTable")
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))

    def close(self) -> None:
        self._session.close()


class ServerClient:
    """A ClickHouse server, over HTTP (clickhouse-connect), in one session (the temporary tables live in it)."""

    def __init__(self, dsn: str) -> None:
        import clickhouse_connect

        self._client = clickhouse_connect.get_client(dsn=dsn, session_id=f"nudgeflow-{uuid.uuid4()}", settings=SETTINGS)

    def command(self, sql: str) -> None:
        self._client.command(sql)

    def query(self, sql: str) -> list[Row]:
        return [tuple(row) for row in self._client.query(sql).result_rows]

    def close(self) -> None:
        self._client.close()


class ClickHouseEngine:
    """The metrics' SQL, translated, on one ClickHouse session."""

    name = "clickhouse"

    def __init__(self, client: Client, *, snapshot_kept: bool = False) -> None:
        self.client = client
        self.snapshot_kept = snapshot_kept  # a sample folder's data keeps the snapshot (folder.py)

    def close(self) -> None:
        self.client.close()

    @classmethod
    def on_server(cls, dsn: str) -> ClickHouseEngine:
        """The engine on a ClickHouse server (`--clickhouse URL`)."""
        return cls(ServerClient(dsn))

    def create_tables(self) -> None:
        for statement in schema.table_statements():
            self.client.command(statement)

    def load_file(self, table: str, path: Path) -> int:
        """A JSONL file's records into `table`; how many were new."""
        return self._load(table, schema.file_source(path, table))

    def load_texts(self, table: str, texts: Sequence[str]) -> int:
        """Records as JSON texts (topic values) into `table`; how many were new. Unreadable ones are skipped."""
        self.client.command(schema.raw_table_sql(table))
        lines = "\n".join(t.replace("\n", " ").replace("\r", " ") for t in texts)
        self.client.command(
            f"INSERT INTO _raw_{table} SETTINGS input_format_allow_errors_ratio = 1 FORMAT JSONEachRow\n{lines}"
        )
        return self._load(table, f"_raw_{table}")

    def _load(self, table: str, source: str) -> int:
        stage, count, store = schema.load_sql(table, source)
        for statement in stage:
            self.client.command(statement)
        [(new, staged)] = self.client.query(count)
        if staged > new:
            self.client.command(f"INSERT INTO duplicates VALUES ('{table}', {int(staged) - int(new)})")
        for statement in store:
            self.client.command(statement)
        return int(new)

    def kept_snapshot(self) -> bool:
        return self.snapshot_kept

    def execute(self, sql: str, params: Params = None) -> None:
        for statement in dialect.to_clickhouse(sql, params):
            self.client.command(statement)

    def rows(self, sql: str, params: Params = None) -> list[Row]:
        [statement] = dialect.to_clickhouse(sql, params)
        return [tuple(_plain(v) for v in row) for row in self.client.query(statement)]

    def table_of(self, name: str, columns: Columns, rows: Sequence[Row]) -> None:
        declared = ", ".join(f"{n} Nullable({TYPES[t]})" for n, t in columns)
        self.client.command(f"CREATE OR REPLACE TEMPORARY TABLE {name} ({declared}) ENGINE = Memory")
        if rows:
            values = ", ".join(exp.Tuple(expressions=[dialect.literal(v) for v in r]).sql("clickhouse") for r in rows)
            self.client.command(f"INSERT INTO {name} VALUES {values}")


def _plain(value: Any) -> Any:
    """NaN (an average of nothing) is NULL, as DuckDB returns it."""
    return None if isinstance(value, float) and value != value else value
