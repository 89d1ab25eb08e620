"""A pass over one partition of a Faust table on RocksDB reads that partition's database only, decoded."""

from __future__ import annotations

from pathlib import Path

import faust

from nudgeflow.orchestrator.broker.table_partitions import partition_items


def test_one_partitions_rows_come_from_its_own_database_decoded(tmp_path: Path) -> None:
    app = faust.App("table-partitions-test", broker="kafka://127.0.0.1:1", store="rocksdb://", tabledir=tmp_path)
    table = app.Table("rows", partitions=2)
    store = table.data
    try:
        for partition in (0, 1):
            db = store._db_for_partition(partition)
            for n in range(3):
                db[store._encode_key(f"p{partition}-{n}")] = store._encode_value({"partition": partition, "n": n})
        assert sorted(partition_items(table, 1)) == [(f"p1-{n}", {"partition": 1, "n": n}) for n in range(3)]
        assert list(partition_items(table, 7)) == [], "a partition this worker does not hold has no rows"
    finally:
        for db in store._dbs.values():
            db.close()


def test_a_table_in_memory_yields_every_row_for_the_caller_to_check() -> None:
    rows = {"a": {"partition": 0}, "b": {"partition": 1}}
    assert dict(partition_items(rows, 1)) == rows
