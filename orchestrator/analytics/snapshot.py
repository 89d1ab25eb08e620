"""The report's per-user tables, kept in the DuckDB file so a report reads them instead of rebuilding them.

Every report starts from three tables built from all events and outcomes (`queries.SNAPSHOT`: per
user; per user, playbook and milestone; per user and experiment): at 200,000 users, a third of a
report's time. They depend only on the records, so whoever writes the file keeps a copy
(`snapshot_*` tables) with the row counts it was built from: the folder loader once, the ingester
when it is idle (at most every `NUDGEFLOW_ANALYTICS_SNAPSHOT_SECONDS`). The stores only ever add
rows, so equal counts mean the same records: a report uses the copy only then (and only if it has
this version's `LAYOUT`), and otherwise builds its own, as before. A copy is never stale, only
sometimes unused.
"""

from __future__ import annotations

import duckdb

from nudgeflow.orchestrator.analytics import queries

# Bumped when the snapshot's tables change shape: a copy kept by an older Nudgeflow is then unused.
LAYOUT = 2
VERSION = (
    f"SELECT {LAYOUT} AS layout, (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM outcomes) AS outcomes"
)


def _kept(name: str) -> str:
    return f"snapshot{name}"  # _facts -> snapshot_facts


def persist(connection: duckdb.DuckDBPyConnection) -> None:
    """Build the snapshot and keep it in the file, with the counts it covers (one transaction)."""
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.execute(queries.SNAPSHOT)
        for name in queries.SNAPSHOT_TABLES:
            connection.execute(f"CREATE OR REPLACE TABLE {_kept(name)} AS SELECT * FROM {name}")
        connection.execute(f"CREATE OR REPLACE TABLE snapshot_of AS {VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def use_kept(connection: duckdb.DuckDBPyConnection) -> bool:
    """Point the report's tables at the kept snapshot if it covers exactly the stored records."""
    try:
        kept = connection.execute("SELECT * FROM snapshot_of").fetchone()
    except duckdb.CatalogException:
        return False
    if kept is None or kept != connection.execute(VERSION).fetchone():
        return False
    clear(connection)
    for name in queries.SNAPSHOT_TABLES:
        connection.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {_kept(name)}")
    return True


def clear(connection: duckdb.DuckDBPyConnection) -> None:
    """Drop this session's snapshot tables or views (an earlier report's), whichever they are."""
    found = connection.execute(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE temporary AND list_contains($names, table_name) "
        "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE temporary AND list_contains($names, view_name)",
        {"names": list(queries.SNAPSHOT_TABLES)},
    ).fetchall()
    for name, kind in found:
        connection.execute(f"DROP {kind} {name}")
