"""A sample folder (`nudgeflow sample`) as a DuckDB file: `report --from DIR` loads the JSONL once
into `DIR/analytics.duckdb` and afterwards reads that file, like it reads the ingester's.

The file remembers the size and modification time of the JSONL it was built from and is rebuilt
when they change. A folder that cannot be written to is loaded into memory instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from nudgeflow.orchestrator.analytics import snapshot, store
from nudgeflow.orchestrator.analytics.sample import EVENTS_FILE, OUTCOMES_FILE

DATABASE_FILE = "analytics.duckdb"


def fingerprint(folder: Path) -> str:
    """What the folder's database was built from: the JSONL files' names, sizes and modification
    times, and the snapshot's layout (a newer Nudgeflow rebuilds a file an older one wrote)."""
    files = [folder / EVENTS_FILE, folder / OUTCOMES_FILE]
    built = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] if f.exists() else [f.name] for f in files]
    return json.dumps([*built, ["snapshot", snapshot.LAYOUT]])


def _source_of(path: Path) -> str | None:
    try:
        connection = store.connect(path, read_only=True)
    except duckdb.Error:
        return None
    try:
        row = connection.execute("SELECT source FROM loaded_from").fetchone()
        return str(row[0]) if row else None
    except duckdb.Error:
        return None
    finally:
        connection.close()


def _load(connection: duckdb.DuckDBPyConnection, folder: Path) -> None:
    events, outcomes = folder / EVENTS_FILE, folder / OUTCOMES_FILE
    store.add_files(connection, events if events.exists() else None, outcomes if outcomes.exists() else None)


def open_folder(folder: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the folder's database, (re)built first when the JSONL changed."""
    path, source = folder / DATABASE_FILE, fingerprint(folder)
    if _source_of(path) != source:
        building = folder / f".{DATABASE_FILE}.building"
        try:
            building.unlink(missing_ok=True)
            connection = store.connect(building)
        except (OSError, duckdb.Error):  # a read-only folder: load into memory
            connection = store.connect()
            _load(connection, folder)
            return connection
        try:
            connection.execute(f"SET memory_limit = '{store.READER_MEMORY}'")  # a file database: spills, not grows
            connection.execute("SET preserve_insertion_order = false")
            _load(connection, folder)
            snapshot.persist(connection)
            connection.execute("CREATE TABLE loaded_from AS SELECT $source AS source", {"source": source})
        finally:
            connection.close()
        building.replace(path)  # readers see the old file or the complete new one
    return store.connect(path, read_only=True)
