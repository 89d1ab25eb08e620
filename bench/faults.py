"""Repeated takeover fault runs: `python -m bench.faults --runs 20 --workers 2 --workers 3`.

Each run (tests/integration/faults/takeover.py) starts N `nudgeflow worker` processes on one embedded
Tansu broker, produces ≥ 300 events/s for 300 users (celebrations and stall nudges), kills one worker
with SIGKILL at a random moment and never restarts it, then checks every user's prompts on the topic
and on a survivor's API. Writes a Markdown report (default docs/faults.md) and prints one line per run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from nudgeflow.orchestrator.broker.embedded import EmbeddedBroker
from nudgeflow.orchestrator.settings import Settings
from tests.integration.faults.takeover import PARTITIONS, STALL_SECONDS, TakeoverRun, run_takeover
from tests.support.inapp import TEST_SIGNING_SECRET

log = logging.getLogger("bench.faults")
HEADER = (
    "| workers | runs | runs not clean | prompts missing | outcome replays | early nudges | patch seek-backs "
    "| partitions unstuck | takeover p50 (s) | takeover max (s) | slowest load (events/s) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def fresh_settings(bootstrap: str, workdir: Path) -> Settings:
    """Topics and group unique to one run, as the test fixture does."""
    prefix = f"f{uuid.uuid4().hex[:8]}"
    return Settings(
        kafka_bootstrap_servers=bootstrap,
        broker_profile="tansu",
        app_id=prefix,
        events_topic=f"{prefix}.events",
        dead_letter_topic=f"{prefix}.dlq",
        outcomes_topic=f"{prefix}.outcomes",
        prompts_topic=f"{prefix}.prompts",
        deliveries_topic=f"{prefix}.deliveries",
        timers_topic=f"{prefix}.timers",
        preferences_topic=f"{prefix}.preferences",
        table_dir=workdir / "tables",
        api_port=0,
        inapp_signing_secret=TEST_SIGNING_SECRET,  # type: ignore[arg-type]
    )


async def repeat(
    runs: int, workers: list[int], users: int, rate: float, logs: Path | None = None
) -> dict[int, list[TakeoverRun]]:
    """`logs`: a folder that keeps the worker logs of every run that is not clean or needed the stall watch."""
    results: dict[int, list[TakeoverRun]] = {n: [] for n in workers}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="nudgeflow-faults-") as tmp:
        for n in workers:
            for i in range(runs):
                workdir = Path(tmp) / f"w{n}-run{i}"
                run = await run_takeover(
                    fresh_settings(broker.bootstrap_servers, workdir),
                    workdir,
                    workers=n,
                    users=users,
                    rate=rate,
                    seed=1000 * n + i,
                )
                results[n].append(run)
                print(line(i, run), flush=True)
                for where in run.lost_where:
                    print(f"    {where}", flush=True)
                if logs is not None and (not run.clean or run.unstuck):
                    kept = logs / f"w{n}-run{i}"
                    kept.mkdir(parents=True, exist_ok=True)
                    for log_file in workdir.glob("worker-*.log"):
                        shutil.copy(log_file, kept / log_file.name)
    return results


def line(i: int, run: TakeoverRun) -> str:
    takeover = f"{run.takeover_s:.1f}s" if run.takeover_s is not None else "never"
    return (
        f"workers={run.workers} run={i + 1:>2} rate={run.rate:.0f}/s killed_at={run.killed_after_s:.1f}s "
        f"takeover={takeover} missing={len(run.missing)} unexpected={len(run.unexpected)} "
        f"inbox_problems={len(run.inbox_problems)} double_completions={len(run.double_completions)} "
        f"outcome_replays={run.outcome_replays} "
        f"early_nudges={run.early_nudges} seek_backs={run.seek_backs} unstuck={run.unstuck} ({run.seconds:.0f}s)"
    )


def report(results: dict[int, list[TakeoverRun]], *, users: int, rate: float, commit: str, cpu_hogs: int = 0) -> str:
    rows = []
    for n, runs in results.items():
        takeovers = [r.takeover_s for r in runs if r.takeover_s is not None]
        p50 = f"{statistics.median(takeovers):.1f}" if takeovers else "—"
        worst = f"{max(takeovers):.1f}" if takeovers else "—"
        rows.append(
            f"| {n} | {len(runs)} | {sum(not r.clean for r in runs)} | {sum(len(r.missing) for r in runs)} | "
            f"{sum(r.outcome_replays for r in runs)} | {sum(r.early_nudges for r in runs)} | "
            f"{sum(r.seek_backs for r in runs)} in {sum(r.seek_backs > 0 for r in runs)} runs | "
            f"{sum(r.unstuck for r in runs)} in {sum(r.unstuck > 0 for r in runs)} runs | "
            f"{p50} | {worst} | {min(r.rate for r in runs):.0f} |"
        )
    runs_detail = "\n".join(line(i, run) for runs in results.values() for i, run in enumerate(runs))
    return f"""# Fault report: kill -9 of a worker under load

Generated by `python -m bench.faults` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (commit {commit}), one
embedded Tansu broker, {PARTITIONS} partitions, on the project's shared 2-core machine{_hogs(cpu_hogs)}.

Each run starts N `nudgeflow worker` processes in one group, produces the events of {users} users at
{rate:.0f} events/s (identify, noise, a failed and a successful connection, a producer retry of it,
then for two thirds of the users an invite gated `after:` the connection; the other third stalls and
gets a nudge {STALL_SECONDS} s after connecting), kills one worker with SIGKILL at a random moment
(1 s to 70% into the load) and never restarts it. Afterwards every user's prompts are checked on the
prompts topic and over a surviving worker's API: each celebration and stall nudge present, none twice.

{HEADER}
{chr(10).join(rows)}

- **prompts missing**: expected prompts (celebrations, stall nudges) absent after the run: lost events.
- **outcome replays**: outcome records repeated with an already-seen `outcome_id` (re-processing after
  the kill; consumers drop them by id, docs/architecture.md "Delivery guarantees"). The inbox never
  shows a prompt twice: a duplicate there makes a run "not clean".
- **early nudges**: finishers nudged because the takeover held their invite longer than the
  {STALL_SECONDS} s stall window; correct behaviour (the invite was not processed yet), counted for context.
- **patch seek-backs**: records of a batch fetched before a seek that the Faust patch
  (orchestrator/broker/faust_patches.py) abandoned and fetched again; at each of them Faust 0.15.3's
  own drain would have recorded a gap and could commit past unprocessed records.
- **partitions unstuck**: partitions the stall watch (orchestrator/broker/stall_watch.py) found
  assigned, with records waiting and no read for `partition_stall_seconds`, and read again from their
  next offset; without it those runs lose the partition's events until the next rebalance.
- **takeover**: from the kill to the moment every partition published an outcome again (the group's
  session timeout, the rebalance and table recovery).

## Runs

```
{runs_detail}
```
"""


def _hogs(count: int) -> str:
    if not count:
        return ""
    plural = "es" if count > 1 else ""
    return f", with {count} busy-loop process{plural} beside it (CPU contention, as on a loaded CI runner)"


@contextlib.contextmanager
def cpu_hogs(count: int) -> Iterator[None]:
    """`count` processes spinning on a core each, for the whole run: contention widens the races."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, action="append", choices=[2, 3])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--report", type=Path, default=Path("docs/faults.md"))
    parser.add_argument("--json", type=Path, default=None, help="also write every run as JSON")
    parser.add_argument("--cpu-hogs", type=int, default=0, help="busy-loop processes to run beside (contention)")
    parser.add_argument("--logs", type=Path, default=None, help="keep the worker logs of runs not clean or unstuck")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    with cpu_hogs(args.cpu_hogs):
        results = asyncio.run(repeat(args.runs, args.workers or [2, 3], args.users, args.rate, args.logs))
    commit = _commit()
    args.report.write_text(report(results, users=args.users, rate=args.rate, commit=commit, cpu_hogs=args.cpu_hogs))
    if args.json:
        args.json.write_text(json.dumps({n: [asdict(r) for r in runs] for n, runs in results.items()}, indent=1))
    print(f"report: {args.report} ({time.monotonic() - started:.0f}s)")


def _commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
