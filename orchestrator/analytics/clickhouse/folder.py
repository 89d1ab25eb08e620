"""A sample folder on embedded ClickHouse: `report --from DIR --engine clickhouse` loads the JSONL once
into `DIR/analytics.chdb` (chdb's data directory) and afterwards reads that, like the DuckDB path
keeps `DIR/analytics.duckdb` (`analytics/folder.py`). The directory remembers the size and
modification time of the JSONL it was built from and is rebuilt when they change. The data never
changes after its build, so the build also keeps the report's per-user tables (`queries.SNAPSHOT`)
as tables of its own, and a report reads them instead of rebuilding them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nudgeflow.orchestrator.analytics import queries
from nudgeflow.orchestrator.analytics.clickhouse import dialect
from nudgeflow.orchestrator.analytics.clickhouse.engine import ClickHouseEngine, EmbeddedClient
from nudgeflow.orchestrator.analytics.folder import fingerprint
from nudgeflow.orchestrator.analytics.sample import EVENTS_FILE, OUTCOMES_FILE

DATA_DIR = "analytics.chdb"
LOADED_FROM = "loaded_from"


def _source_of(engine: ClickHouseEngine) -> str | None:
    rows = engine.client.query(f"SELECT source FROM {LOADED_FROM}") if _has_table(engine, LOADED_FROM) else []
    return str(rows[0][0]) if rows else None


def _has_table(engine: ClickHouseEngine, name: str) -> bool:
    return bool(engine.client.query(f"EXISTS TABLE {name}")[0][0])


def keep_snapshot(engine: ClickHouseEngine) -> None:
    """The snapshot's tables as the data directory's own (MergeTree) tables, not session ones
    (replaced when there: built again after the data changed)."""
    for statement in dialect.to_clickhouse(queries.SNAPSHOT):
        kept = statement
        for name in queries.SNAPSHOT_TABLES:
            session_table = f"CREATE OR REPLACE TEMPORARY TABLE {name} AS"
            kept = kept.replace(session_table, f"CREATE OR REPLACE TABLE {name} ENGINE = MergeTree ORDER BY tuple() AS")
        if kept == statement:
            raise ValueError(f"not a snapshot table: {statement[:80]}")
        engine.client.command(kept)


def _reader(path: Path) -> ClickHouseEngine:
    """An engine on a built folder: its snapshot is kept, and its rows are stored once each (the
    load drops repeated ids), so reads skip `final`'s merge-on-read of repeated ids."""
    engine = ClickHouseEngine(EmbeddedClient(path), snapshot_kept=True)
    engine.client.command("SET final = 0")
    return engine


def open_folder(folder: Path) -> ClickHouseEngine:
    """An engine on the folder's ClickHouse data, (re)built first when the JSONL changed."""
    path, source = folder / DATA_DIR, fingerprint(folder)
    if path.exists():
        engine = _reader(path)
        if _source_of(engine) == source:
            return engine
        engine.close()
    building = folder / f".{DATA_DIR}.building"
    shutil.rmtree(building, ignore_errors=True)
    engine = ClickHouseEngine(EmbeddedClient(building))
    try:
        engine.create_tables()
        for table, name in (("events", EVENTS_FILE), ("outcomes", OUTCOMES_FILE)):
            if (folder / name).exists():
                engine.load_file(table, folder / name)
        keep_snapshot(engine)
        engine.client.command(f"CREATE TABLE {LOADED_FROM} (source String) ENGINE = MergeTree ORDER BY tuple()")
        engine.execute(f"INSERT INTO {LOADED_FROM} SELECT $source", {"source": source})
    finally:
        engine.close()  # chdb: one session per process at a time
    shutil.rmtree(path, ignore_errors=True)
    building.replace(path)
    return _reader(path)
