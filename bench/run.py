"""`python -m bench`: every benchmark in one run on one embedded Tansu broker → docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import analytics, inbox_serving, inproc
from bench import broker as b
from bench.report import render
from bench.soak import run_child as soak_child
from bench.state import state_costs
from bench.summary import apply as apply_summary
from bench.timer_lateness import timer_lateness
from bench.workload import noisy_events, read_share, segment_events
from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "benchmarks.md"


def _component(path: str) -> str:
    for marker, label in (
        ("/faust/", "faust"),
        ("/mode/", "mode (faust services)"),
        ("/aiokafka/", "aiokafka"),
        ("/pydantic", "pydantic"),
        ("/jinja2/", "jinja2"),
        ("/asyncio/", "asyncio"),
        ("/json/", "json"),
        ("/rules/", "nudgeflow rules"),
        ("/orchestrator/", "nudgeflow orchestrator"),
        ("/channels/", "nudgeflow channels"),
        ("/events/", "nudgeflow events"),
        ("/prometheus_client/", "prometheus_client"),
        ("/copy.py", "copy (deepcopy)"),
    ):
        if marker in path:
            return label
    return "other (stdlib, builtins)"


async def _broker_phases(args: argparse.Namespace, results: dict[str, Any]) -> None:
    rules_path = REPO / "playbooks"
    with EmbeddedBroker() as tansu, tempfile.TemporaryDirectory() as scratch:
        bootstrap = tansu.bootstrap_servers
        topic = f"bench-events-{uuid.uuid4().hex[:6]}"
        records = segment_events(args.events)
        await b.create_topic(bootstrap, topic)
        results["produce_seconds"] = await b.produce_all(bootstrap, topic, records)
        print(f"produced {len(records):,} events in {results['produce_seconds']:.1f}s", flush=True)

        raw = await b.raw_consume(bootstrap, topic, args.events)
        print(f"(a) {raw.name}: {raw.per_second:,.0f}/s", flush=True)
        bare = await b.bare_faust(bootstrap, topic, args.events, Path(scratch) / "bare")
        print(f"(b) {bare.name}: {bare.per_second:,.0f}/s", flush=True)
        pipe = await b.pipeline(bootstrap, topic, args.events, rules_path)
        print(f"(c) {pipe.name}: {pipe.per_second:,.0f}/s {pipe.extra}", flush=True)
        results["throughput"] = [asdict(t) | {"per_second": t.per_second} for t in (raw, bare, pipe)]

        noisy_topic = f"bench-noisy-{uuid.uuid4().hex[:6]}"
        noisy_records = noisy_events(args.noisy_events)
        await b.create_topic(bootstrap, noisy_topic)
        await b.produce_all(bootstrap, noisy_topic, noisy_records)
        noisy_bare = await b.bare_faust(bootstrap, noisy_topic, args.noisy_events, Path(scratch) / "bare-noisy")
        noisy_pipe = await b.pipeline(bootstrap, noisy_topic, args.noisy_events, rules_path)
        results["noisy"] = {
            "events": args.noisy_events,
            "read_share": read_share(noisy_records),
            "bare_per_second": noisy_bare.per_second,
            "pipeline_per_second": noisy_pipe.per_second,
            "pipeline_extra": noisy_pipe.extra,
        }
        print(
            f"(c') noisy mix ({results['noisy']['read_share']:.0%} read by a rule): bare Faust "
            f"{noisy_bare.per_second:,.0f}/s, pipeline {noisy_pipe.per_second:,.0f}/s",
            flush=True,
        )

        if not args.skip_profile:
            from pyinstrument import Profiler

            profile_topic = f"bench-profile-{uuid.uuid4().hex[:6]}"
            await b.create_topic(bootstrap, profile_topic)
            await b.produce_all(bootstrap, profile_topic, segment_events(args.profile_events, seed=99))
            profiler = Profiler(interval=0.001, async_mode="disabled")
            profiled = await b.pipeline(bootstrap, profile_topic, args.profile_events, rules_path, profiler)
            costs, total = b.top_costs(profiler)
            ours = ("/orchestrator/", "/rules/", "/channels/", "/events/")
            results["profile"] = {
                "events": args.profile_events,
                "per_second": profiled.per_second,
                "seconds": total,
                "top": costs,
                "ours": b.inclusive_costs(profiler, lambda p: any(m in p for m in ours)),
                "components": b.module_costs(profiler, _component),
            }
            tree = profiler.output_text(unicode=False, color=False, show_all=False)
            results["profile_tree"] = "\n".join(tree.splitlines()[:60])
            print(f"profiled {args.profile_events:,} events", flush=True)

        results["hop_ms"] = await b.fetch_hop_latency(bootstrap)
        print(f"broker hop latency by fetch_max_wait_ms: {results['hop_ms']}", flush=True)
        # (f) at the requested rate; if the pipeline falls behind, again at half the rate, and so on.
        results["latency"] = []
        rate = args.latency_rate
        while True:
            latency = await b.prompt_latency(bootstrap, rules_path, rate=rate, seconds=args.latency_seconds)
            sustained = latency.sustained
            results["latency"].append(asdict(latency) | {"requested_rate": rate, "sustained": sustained})
            print(
                f"(f) latency at {latency.offered_rate:,.0f}/s: p50 {latency.p50_ms:.1f} ms, "
                f"p99 {latency.p99_ms:.1f} ms, sustained: {sustained}",
                flush=True,
            )
            if sustained or rate <= 100 or len(results["latency"]) >= (1 if args.quick else 3):
                break
            rate = max(100.0, rate / 2)

        lateness = await timer_lateness(bootstrap, args.timers, due=args.timer_due, window=args.timer_window)
        results["timer_lateness"] = asdict(lateness)
        print(
            f"(e') timers firing with {lateness.armed:,} armed in RocksDB (armed in {lateness.arm_seconds:.1f}s): "
            f"late p50 {lateness.late_p50_ms:.0f} ms, p99 {lateness.late_p99_ms:.0f} ms, "
            f"max {lateness.late_max_ms:.0f} ms; {lateness.deleted:,} entries deleted",
            flush=True,
        )


def _analytics_phase(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """report_seconds_*, report_peak_rss_mb_* and ingest_rows_per_s (bench/analytics.py)."""
    with tempfile.TemporaryDirectory() as scratch, EmbeddedBroker() as tansu:
        report = analytics.report_costs(args.analytics_users, Path(scratch))
        print(f"analytics report ({report['users']:,} users): {report['seconds']:.2f}s, {report['peak_rss_mb']:.0f} MB")
        folder = Path(report["folder"])
        if args.ingest_users != args.analytics_users:
            folder = Path(scratch) / "ingest-sample"
            command = [*analytics.NUDGEFLOW, "sample", "--users", str(args.ingest_users), "--out", str(folder)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        ingest = asyncio.run(analytics.ingest_rate(tansu.bootstrap_servers, folder, Path(scratch) / "ingest.duckdb"))
        print(f"analytics ingest: {ingest['rows_per_s']:,.0f} rows/s", flush=True)
    results["analytics"] = {"report": report, "ingest": ingest}
    results.setdefault("summary", {}).update(analytics.summary(report, ingest))


def _clickhouse_phase(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """report_seconds_<size>_chdb: the same report on embedded ClickHouse, and on DuckDB for scale."""
    with tempfile.TemporaryDirectory() as scratch:
        if args.chdb_sample is not None:  # a sample written before: `sample-<users>` in the scratch folder
            (Path(scratch) / f"sample-{args.chdb_users}").symlink_to(args.chdb_sample.resolve())
        on_clickhouse = analytics.report_costs(args.chdb_users, Path(scratch), engine="clickhouse")
        on_clickhouse["chdb_version"] = metadata.version("chdb")
        on_duckdb = analytics.report_costs(args.chdb_users, Path(scratch), engine="duckdb")
        print(
            f"analytics on ClickHouse ({on_clickhouse['users']:,} users): {on_clickhouse['seconds']:.2f}s "
            f"(DuckDB {on_duckdb['seconds']:.2f}s)",
            flush=True,
        )
        scaled = None
        if args.chdb_copies > 1:
            scaled = analytics.scaled_clickhouse_costs(
                on_clickhouse, Path(scratch), args.chdb_copies, timeout=args.chdb_scaled_timeout
            )
            print(f"analytics on ClickHouse ({scaled['users']:,} users): {scaled.get('seconds', scaled.get('failed'))}")
    results["clickhouse"] = {"clickhouse": on_clickhouse, "duckdb": on_duckdb, "scaled": scaled}
    results.setdefault("summary", {}).update(analytics.clickhouse_summary(on_clickhouse, on_duckdb, scaled))


def _engine_phase(args: argparse.Namespace, results: dict[str, Any]) -> None:
    layouts = [(10, 100), (10_000, 100)] + ([] if args.quick else [(10_000, 10_000)])  # one big playbook: slow load
    results["engine"] = [
        asdict(inproc.engine_throughput(m, per_playbook=per, events=args.engine_events)) for m, per in layouts
    ]
    print(
        "(d) engine: "
        + ", ".join(
            f"{r['milestones']} in {r['playbooks']}: {r['events_per_second']:,.0f}/s" for r in results["engine"]
        ),
        flush=True,
    )
    results["timers"] = timers = asdict(inproc.timer_index(args.timers))
    print(
        f"(e) {timers['timers']:,} timers in RocksDB: armed in {timers['arm_seconds']:.1f}s, RSS "
        f"+{timers['rss_mib']:.0f} MiB, disk {timers['disk_mib']:.0f} MiB, due() pass p50 "
        f"{timers['pass_p50_us']:.0f} µs (nothing due), {timers['due_p50_us']:.0f} µs ({timers['due_per_pass']} due)",
        flush=True,
    )


def _state_phase(args: argparse.Namespace, results: dict[str, Any]) -> None:
    with EmbeddedBroker() as tansu, tempfile.TemporaryDirectory() as scratch:
        memory, restart = state_costs(
            tansu.bootstrap_servers,
            args.state_users,
            args.restart_users,
            REPO / "playbooks",
            Path(scratch),
            profile=not args.skip_profile,
        )
    results["state"], results["restart"] = asdict(memory), asdict(restart)
    print(
        f"(g) state: {memory.table_bytes_per_user:,.0f} B/user in memory; {restart.users:,} users on RocksDB: "
        f"restore {restart.restore_records:,} in {restart.restore_seconds:.1f}s, restart ready in "
        f"{restart.restart_seconds:.1f}s, worker RSS {restart.restart_rss_bytes / 2**20:,.0f} MiB",
        flush=True,
    )


def _soak_phase(args: argparse.Namespace, results: dict[str, Any]) -> None:
    with EmbeddedBroker() as tansu:
        soak = soak_child(
            tansu.bootstrap_servers,
            REPO / "playbooks",
            rate=args.soak_rate,
            warmup=args.soak_warmup,
            seconds=args.soak_seconds,
            users=args.soak_users,
        )
    results["soak"] = asdict(soak)
    print(
        f"(h) soak {soak.seconds:.0f}s after {soak.warmup_seconds:.0f}s warm-up at {soak.offered_rate:,.0f}/s: "
        f"RSS {soak.rss_after_warmup_bytes / 2**20:,.0f} → {soak.rss_end_bytes / 2**20:,.0f} MiB "
        f"({soak.rss_growth_pct:+.1f}%)",
        flush=True,
    )


def _inbox_phase(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """inbox_* keys: the in-app inbox read by three worker processes (bench/inbox_serving.py)."""
    results["inbox"] = inbox_serving.inbox_serving(
        args.inbox_users, args.inbox_per_user, args.inbox_rate, args.inbox_seconds, args.inbox_probes
    )


PHASES = {
    "broker": lambda args, results: asyncio.run(_broker_phases(args, results)),
    "engine": _engine_phase,
    "state": _state_phase,
    "soak": _soak_phase,
    "analytics": _analytics_phase,
    "clickhouse": _clickhouse_phase,
    "inbox": _inbox_phase,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events for (a), (b), (c)")
    parser.add_argument("--noisy-events", type=int, default=100_000, help="events of the 90%%-noise mix (c')")
    parser.add_argument("--profile-events", type=int, default=20_000)
    parser.add_argument("--engine-events", type=int, default=10_000)
    parser.add_argument("--timers", type=int, default=1_000_000, help="armed timers for (e) and (e')")
    parser.add_argument("--timer-due", type=int, default=10_000, help="of those, due during the (e') window")
    parser.add_argument("--timer-window", type=float, default=20.0, help="seconds over which they come due")
    parser.add_argument("--latency-rate", type=float, default=1000.0, help="offered events/s for (f)")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--state-users", type=int, default=100_000, help="users for (g) memory")
    parser.add_argument("--restart-users", type=int, default=1_000_000, help="users for (g) restore and restart")
    parser.add_argument("--soak-seconds", type=float, default=1800.0, help="(h) soak length after warm-up")
    parser.add_argument(
        "--soak-warmup",
        type=float,
        default=300.0,
        help="(h) warm-up before the RSS baseline, until the bounded caches are full (block cache: ~180 s at 1,000/s)",
    )
    parser.add_argument("--soak-rate", type=float, default=1000.0, help="(h) offered events/s")
    parser.add_argument("--soak-users", type=int, default=20_000, help="(h) user population")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--analytics-users", type=int, default=200_000, help="users of the sample `report` reads")
    parser.add_argument(
        "--chdb-users", type=int, default=1_000_000, help="users of the sample the ClickHouse report reads"
    )
    parser.add_argument(
        "--chdb-copies", type=int, default=10, help="then the ClickHouse report on the sample's rows × this many"
    )
    parser.add_argument("--chdb-sample", type=Path, default=None, help="a `nudgeflow sample` folder of --chdb-users")
    parser.add_argument(
        "--chdb-scaled-timeout", type=float, default=900.0, help="give up the multiplied report after this long"
    )
    parser.add_argument("--ingest-users", type=int, default=50_000, help="users whose records the ingester reads")
    parser.add_argument("--inbox-users", type=int, default=10_000, help="users whose inboxes are read")
    parser.add_argument("--inbox-per-user", type=int, default=3, help="prompts in each of those inboxes")
    parser.add_argument("--inbox-rate", type=float, default=2000.0, help="offered reads/s (capped at half capacity)")
    parser.add_argument("--inbox-seconds", type=float, default=15.0, help="length of each inbox read measurement")
    parser.add_argument("--inbox-probes", type=int, default=500, help="one-at-a-time reads, local and forwarded each")
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated phases ({', '.join(PHASES)}) to run and merge into the --json file "
        "(default bench/last-run.json); the summary and the report are rebuilt from the merged results",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run (< 3 min)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown report to write")
    parser.add_argument("--json", type=Path, default=None, help="also write raw results as JSON")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="only re-render the report from a JSON written by --json",
    )
    args = parser.parse_args(argv)
    if args.render:
        loaded = json.loads(args.render.read_text())
        apply_summary(loaded)
        args.out.write_text(render(loaded))
        print(f"wrote {args.out}")
        return 0
    if args.quick:
        args.events, args.noisy_events, args.profile_events, args.engine_events = 5_000, 5_000, 2_000, 1_000
        args.timers, args.timer_due, args.timer_window = 100_000, 2_000, 5.0
        args.latency_seconds, args.state_users, args.restart_users = 5.0, 5_000, 5_000
        args.soak_seconds, args.soak_warmup, args.soak_users = 40.0, 10.0, 2_000
        args.analytics_users, args.ingest_users, args.chdb_users = 5_000, 2_000, 5_000
        args.inbox_users, args.inbox_seconds, args.inbox_probes = 1_000, 4.0, 150
    phases = list(PHASES) if args.only is None else args.only.split(",")
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    results: dict[str, Any] = {}
    if args.only is not None:
        args.json = args.json or REPO / "bench" / "last-run.json"
        results = json.loads(args.json.read_text()) if args.json.exists() else {}
    with b.quiet_logs():
        started = time.perf_counter()
        results |= {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "python": sys.version.split()[0],
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "load_average_at_start": os.getloadavg(),
            },
        }
        results.setdefault("args", {}).update({k: str(v) for k, v in vars(args).items()})
        results.setdefault("phase_seconds", {})
        results.setdefault("phase_started_at", {})
        for phase in phases:
            phase_started = time.perf_counter()
            results["phase_started_at"][phase] = datetime.now(UTC).isoformat(timespec="seconds")
            PHASES[phase](args, results)
            results["phase_seconds"][phase] = time.perf_counter() - phase_started
        results["machine"]["load_average_at_end"] = os.getloadavg()
        results["total_seconds"] = time.perf_counter() - started
        apply_summary(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({"summary": results["summary"], "goals": results["goals"]}, indent=2))
    if all(key in results for key in ("throughput", "engine", "timers", "latency")):
        args.out.write_text(render(results))
        print(f"wrote {args.out} in {results['total_seconds']:.0f}s")
    return 0
