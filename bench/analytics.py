"""Analytics benchmarks: `nudgeflow report` on a generated sample, and topic → DuckDB ingestion.

- report: `nudgeflow sample --users N` into a folder, then `nudgeflow report --from DIR --format
  json` as a child process, timed with its peak RSS (wait4's ru_maxrss). The first run loads the
  JSONL into DIR/analytics.duckdb ("cold"); the key figure is the next run, which reads that file
  the way `report --db` reads the ingester's ("warm").
- ingest: the sample's records produced to an events and an outcomes topic, then the ingester
  (`nudgeflow.orchestrator.analytics.ingest.Ingester`, in process) from offset 0 until every row is
  committed: rows / (last commit - start).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb

from bench import broker as b
from nudgeflow.orchestrator.analytics.ingest import Ingester
from nudgeflow.orchestrator.analytics.sample import EVENTS_FILE, OUTCOMES_FILE

NUDGEFLOW = [sys.executable, "-m", "nudgeflow.orchestrator"]


def label(users: int) -> str:
    if users % 1_000_000 == 0:
        return f"{users // 1_000_000}m"
    return f"{users // 1000}k" if users % 1000 == 0 else str(users)


def _timed(command: list[str], cwd: Path, timeout: float | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process (killed after `timeout`: TimeoutError)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait4 reaps the child and reads its peak RSS; Popen.wait would reap it first, so the timeout kills instead
    killer = threading.Timer(timeout, process.kill) if timeout is not None else None
    if killer is not None:
        killer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        if killer is not None:
            killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    seconds = time.perf_counter() - started
    if timeout is not None and seconds >= timeout and process.returncode < 0:
        raise TimeoutError(f"not done after {timeout:.0f} s (peak RSS {usage.ru_maxrss / 1024:,.0f} MB)")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def _megabytes(path: Path) -> float:
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 1e6


def report_costs(users: int, scratch: Path, engine: str = "duckdb") -> dict[str, Any]:
    """`report --from` on a sample of `users` (written once per scratch folder), cold then warm."""
    folder = scratch / f"sample-{users}"
    built = folder / ("analytics.chdb" if engine == "clickhouse" else "analytics.duckdb")
    if built.is_dir():  # a folder used before (--chdb-sample): the first run loads it again
        shutil.rmtree(built)
    built.unlink(missing_ok=True)
    sample_seconds = 0.0
    if not (folder / OUTCOMES_FILE).exists():
        sample_seconds, _ = _timed([*NUDGEFLOW, "sample", "--users", str(users), "--out", str(folder)], scratch)
    report = [*NUDGEFLOW, "report", "--from", str(folder), "--engine", engine, "--format", "json"]
    report += ["--out", str(scratch / f"r-{engine}.json")]
    cold_seconds, cold_rss = _timed(report, scratch)
    warm = [_timed(report, scratch) for _ in range(3)]
    seconds, rss = min(warm)  # best of three: the machine is shared
    return {
        "users": users,
        "engine": engine,
        "events": sum(1 for _ in (folder / EVENTS_FILE).open()),
        "outcomes": sum(1 for _ in (folder / OUTCOMES_FILE).open()),
        "jsonl_mb": ((folder / EVENTS_FILE).stat().st_size + (folder / OUTCOMES_FILE).stat().st_size) / 1e6,
        "duckdb_mb": _megabytes(folder / "analytics.duckdb") if engine == "duckdb" else None,
        "chdb_mb": _megabytes(folder / "analytics.chdb") if engine == "clickhouse" else None,
        "sample_seconds": sample_seconds,
        "cold_seconds": cold_seconds,
        "cold_peak_rss_mb": cold_rss,
        "seconds": seconds,
        "peak_rss_mb": rss,
        "warm_runs": [{"seconds": s, "peak_rss_mb": m} for s, m in warm],
        "folder": str(folder),
    }


def multiply_clickhouse(data_dir: Path, copies: int) -> None:
    """Make a loaded ClickHouse sample `copies` times larger: every row again under `copies - 1` new user
    ids (`<id>~<n>`, and new record ids), so users, rows and their distributions scale together. Run in
    a process of its own (chdb holds one data directory per process). The folder's kept snapshot is
    built again for the larger data, as loading the folder builds it."""
    from nudgeflow.orchestrator.analytics.clickhouse.engine import ClickHouseEngine, EmbeddedClient
    from nudgeflow.orchestrator.analytics.clickhouse.folder import keep_snapshot

    engine = ClickHouseEngine(EmbeddedClient(data_dir))
    try:
        for table, renamed in (("events", {"user_id", "message_id"}), ("outcomes", {"outcome_id", "user_id"})):
            listed = f"SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{table}'"
            columns = [str(r[0]) for r in engine.client.query(f"{listed} ORDER BY position")]
            select = ", ".join(f"concat({c}, '~', toString(n.number))" if c in renamed else c for c in columns)
            engine.client.command(
                f"INSERT INTO {table} SELECT {select} FROM {table} CROSS JOIN numbers(1, {copies - 1}) AS n"
            )
        keep_snapshot(engine)
    finally:
        engine.close()


def scaled_clickhouse_costs(base: dict[str, Any], scratch: Path, copies: int, timeout: float) -> dict[str, Any]:
    """The ClickHouse report on `copies` × the base sample's users (`multiply_clickhouse`): one run (minutes each)."""
    folder = scratch / f"sample-{base['users']}"
    data_dir = str(folder / "analytics.chdb")
    code = f"from bench.analytics import multiply_clickhouse; multiply_clickhouse(Path({data_dir!r}), {copies})"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"from pathlib import Path; {code}"], check=True, cwd=Path(__file__).parents[1]
    )
    multiply_seconds = time.perf_counter() - started
    report = [*NUDGEFLOW, "report", "--from", str(folder), "--engine", "clickhouse", "--format", "json"]
    report += ["--out", str(scratch / "r-scaled.json")]
    facts = {
        "users": base["users"] * copies,
        "copies_of": base["users"],
        "events": base["events"] * copies,
        "outcomes": base["outcomes"] * copies,
        "multiply_seconds": multiply_seconds,
        "chdb_mb": _megabytes(folder / "analytics.chdb"),
    }
    try:
        seconds, rss = _timed(report, scratch, timeout=timeout)
    except TimeoutError as exc:
        return facts | {"failed": str(exc)}
    return facts | {"seconds": seconds, "peak_rss_mb": rss}


def _lines(path: Path) -> list[tuple[bytes, bytes]]:
    return [(b"", line.rstrip(b"\n")) for line in path.open("rb")]


async def ingest_rate(bootstrap: str, folder: Path, db: Path) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    events_topic, outcomes_topic = f"bench-a-events-{run}", f"bench-a-outcomes-{run}"
    events, outcomes = _lines(folder / EVENTS_FILE), _lines(folder / OUTCOMES_FILE)
    for topic, records in ((events_topic, events), (outcomes_topic, outcomes)):
        await b.create_topic(bootstrap, topic)
        await b.produce_all(bootstrap, topic, records)
    total = len(events) + len(outcomes)
    commits: list[float] = []
    ingester = Ingester(
        db,
        events_topic=events_topic,
        outcomes_topic=outcomes_topic,
        kafka_options={"bootstrap_servers": bootstrap},
        flush_rows=100_000,
        flush_seconds=1.0,
    )

    def flushed(progress: dict[str, Any]) -> None:
        commits.append(time.perf_counter())
        if progress["read"] >= total:
            ingester.stop()

    ingester.on_flush = flushed
    started = time.perf_counter()
    await asyncio.wait_for(ingester.run(), timeout=600)
    seconds = commits[-1] - started
    with duckdb.connect(str(db), read_only=True) as connection:
        row = connection.execute("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM outcomes)").fetchone()
    stored = int(row[0]) if row else 0
    return {
        "records": total,
        "rows": stored,
        "seconds": seconds,
        "rows_per_s": stored / seconds,
        "flushes": len(commits),
        "write_seconds": ingester.totals["write_seconds"],
    }


def _report_keys(report: dict[str, Any], suffix: str = "") -> dict[str, Any]:
    size = label(report["users"])
    return {
        f"report_seconds_{size}{suffix}": round(report["seconds"], 2),
        f"report_peak_rss_mb_{size}{suffix}": round(report["peak_rss_mb"]),
        f"report_cold_seconds_{size}{suffix}": round(report["cold_seconds"], 2),
    }


def summary(report: dict[str, Any], ingest: dict[str, Any]) -> dict[str, Any]:
    return _report_keys(report) | {"ingest_rows_per_s": round(ingest["rows_per_s"])}


def clickhouse_summary(
    on_clickhouse: dict[str, Any], on_duckdb: dict[str, Any], scaled: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ClickHouse keys: the report on embedded ClickHouse, DuckDB on the same sample for scale, and
    ClickHouse on the sample multiplied (`report_seconds_10m_chdb` at 10 × 1 M)."""
    size = label(on_clickhouse["users"])
    keys = _report_keys(on_clickhouse, "_chdb") | {
        f"report_seconds_{size}_duckdb": round(on_duckdb["seconds"], 2),
        "chdb_users": on_clickhouse["users"],
    }
    if scaled is not None and "seconds" in scaled:
        big = label(scaled["users"])
        keys |= {
            f"report_seconds_{big}_chdb": round(scaled["seconds"], 2),
            f"report_peak_rss_mb_{big}_chdb": round(scaled["peak_rss_mb"]),
            "chdb_scaled_users": scaled["users"],
        }
    return keys
