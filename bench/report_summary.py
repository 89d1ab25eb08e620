"""The summary section of docs/benchmarks.md: issue #10's headline keys against their goals, and what
limits each one, from the figures of the same run."""

from __future__ import annotations

from typing import Any


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


_COMPANIONS = {
    "noisy_mix_vs_faust": lambda s: f"{s.get('noisy_read_share', 0):.0%} of events read by a rule",
    "latency_p50_ms": lambda s: f"at {_n(s.get('latency_rate', 0))} events/s offered",
    "latency_p99_ms": lambda s: (
        f"at {_n(s.get('latency_rate', 0))} events/s offered, "
        + ("kept up" if s.get("latency_sustained") else "**did not keep up**")
    ),
    "restart_ready_s_1m": lambda s: f"{_n(s.get('restart_ready_users', 0))} users",
    "restore_records_per_s": lambda s: f"{_n(s.get('restore_records', 0))} records restored",
    "rss_bytes_per_user_1m": lambda s: f"{_n(s.get('rss_users', 0))} users",
    "engine_10k_vs_10": lambda s: (
        f"10,000 in {s.get('engine_10k_playbooks', '?')} playbooks; "
        f"in one playbook: {s.get('engine_10k_one_playbook_vs_10', float('nan')):.1f}"
    ),
    "timer_late_p99_ms": lambda s: (
        f"{_n(s.get('timer_armed', 0))} armed in {s.get('timer_store', 'memory')}, {_n(s.get('timer_fired', 0))} fired"
    ),
    "soak_rss_growth_pct": lambda s: (
        f"{_n(s.get('soak_seconds', 0))} s after {_n(s.get('soak_warmup_seconds', 0))} s "
        f"warm-up at {_n(s.get('soak_rate', 0))} events/s"
    ),
}
HEADLINE = [
    "pipeline_vs_faust",
    "noisy_mix_vs_faust",
    "latency_p50_ms",
    "latency_p99_ms",
    "restart_ready_s_1m",
    "restore_records_per_s",
    "rss_bytes_per_user_1m",
    "engine_10k_vs_10",
    "timer_late_p99_ms",
    "soak_rss_growth_pct",
]


def summary_table(r: dict[str, Any]) -> str:
    """The issue's headline keys: value, goal, met, and the size it was measured at."""
    summary, goals = r.get("summary", {}), r.get("goals", {})
    rows = ["| key | value | goal | met | measured at |", "|---|---|---|---|---|"]
    for key in HEADLINE:
        value = summary.get(key)
        goal = goals.get(key)
        shown = "not measured" if value is None else (f"{value:,.3g}" if abs(value) < 10 else _n(value))
        target = f"{'≥' if goal['op'] == '>=' else '≤'} {goal['target']:,g}" if goal else "—"
        met = "—" if not goal or goal["met"] is None else ("yes" if goal["met"] else "**no**")
        where = _COMPANIONS[key](summary) if key in _COMPANIONS else ""
        rows.append(f"| `{key}` | **{shown}** | {target} | {met} | {where} |")
    return "\n".join(rows) + "\n"


def _top(frames: list[Any], count: int = 4) -> str:
    return ", ".join(f"`{name}` {share:.0%}" for name, _, share in frames[:count])


def _stall(samples: list[Any]) -> str:
    """', and took no record after N s' when the handled count stopped moving before the end."""
    handled = [h for _, _, h in samples]
    if len(handled) < 3 or handled[-1] != handled[-3]:
        return ""
    first_flat = next(i for i in range(len(handled)) if handled[i] == handled[-1])
    return f", and handled no record after {samples[first_flat][0]:,.0f} s"


def limits(r: dict[str, Any]) -> list[str]:
    """One line per headline figure: what the same run's other figures say limits it."""
    s, out = r.get("summary", {}), []
    if "throughput" in r:
        _, bare, pipe = r["throughput"]
        p = r.get("profile", {})
        comp = p.get("components", {})
        ours = p.get("ours", [])
        faust = comp.get("faust", 0) + comp.get("mode (faust services)", 0) + comp.get("aiokafka", 0)
        out.append(
            f"`pipeline_vs_faust`: the pipeline spends {1e6 / pipe['per_second'] - 1e6 / bare['per_second']:,.0f} µs "
            f"per event on top of bare Faust's {1e6 / bare['per_second']:,.0f} µs. Profile (pyinstrument, "
            f"{_n(p.get('events', 0))} events): top self-time frames {_top(p.get('top', []))}; by component "
            f"Faust + mode + aiokafka {faust:.0%}, asyncio {comp.get('asyncio', 0):.0%}, our code "
            f"{sum(v for k, v in comp.items() if k.startswith('nudgeflow')):.0%} self time; our agent's body "
            f"(`{ours[0][0] if ours else '?'}`) is {ours[0][1] if ours else 0:.0%} of the samples including what it "
            f"calls; were it free, the remaining {(1 - (ours[0][1] if ours else 0)) * 1e6 / pipe['per_second']:,.0f} "
            f"µs per event would still give a ratio of "
            f"{pipe['per_second'] / (1 - (ours[0][1] if ours else 0)) / bare['per_second']:.2f}. "
            "The agent handles records in batches (one wait for the broker's acks per batch) and producers batch, "
            "so what remains is per-record work in the stages one worker process runs for every event: the ingest "
            "stage (aiokafka read, decode, forward by user), the event agent (Faust's per-message path, rules, "
            "outputs, the user's record to RocksDB and its changelog), the inbox agent (every prompt read back and "
            "stored, with its changelog) and the outbox (deliveries to the providers, outcomes). Bare Faust is one "
            "such hop doing nothing; scale-out is by partitions and worker processes. "
            f"For the goal the pipeline would have to cost ≤ {1e6 / (0.6 * bare['per_second']):,.0f} µs per event "
            "in all."
        )
    if "noisy" in r:
        n = r["noisy"]
        out.append(
            f"`noisy_mix_vs_faust`: on the noisy mix bare Faust decodes {_n(n['bare_per_second'])} events/s and the "
            f"pipeline handles {_n(n['pipeline_per_second'])}/s. The ingest stage judges each record by its type, "
            "user and event name (an orjson parse, ~1 µs; `read_call` in orchestrator/ingest/decode.py) and drops "
            "the unread 90% there, before validation and before Faust; decoding a record fully cost 15.6 µs before "
            "this split. What remains is the read 10%: each pays the whole pipeline"
            + (
                f" (on the milestone mix {1e6 / r['throughput'][2]['per_second']:,.0f} µs per event, so "
                f"~{n['read_share'] * 1e6 / r['throughput'][2]['per_second']:,.0f} µs per event of this mix"
                f" against bare Faust's {1e6 / n['bare_per_second']:,.0f})"
                if "throughput" in r and n.get("read_share")
                else ""
            )
            + ", plus aiokafka's fetch and record parsing of every record in the stage. 2× bare Faust needs the "
            "read events' path itself to get cheaper (`pipeline_vs_faust`), not more filtering."
        )
    lat = r.get("latency", [])
    if lat:
        hop = {str(k): v for k, v in r.get("hop_ms", {}).items()}
        out.append(
            f"`latency_p99_ms`: at {_n(lat[0]['offered_rate'])} events/s p50 {lat[0]['p50_ms']:,.0f} ms, p99 "
            f"{lat[0]['p99_ms']:,.0f} ms, {'kept up' if lat[0]['sustained'] else 'the worker fell behind'}. An "
            "event crosses the broker three times (events → by-user → prompts → inbox); on Tansu one idle hop takes "
            f"{hop.get('1500', 0):,.0f} ms with Faust's fixed 1,500 ms fetch wait and {hop.get('500', 0):,.0f} ms "
            f"with the inbox consumer's 500 ms (only {hop.get('20', 0):,.0f} ms at 20 ms): Tansu answers a fetch "
            "when the wait expires, not when data arrives. The worker's consumers wait 20 ms on this profile, so the "
            "floor is three such waits plus the agent's batch window (5 ms); p99 adds the batches that queue behind "
            "a busy one. Apache Kafka answers at once. "
            + ("" if lat[0]["sustained"] else "Below the worker's throughput on this mix the backlog adds the rest.")
        )
    if "restart" in r:
        x = r["restart"]
        per_record = x["restore_seconds"] / x["restore_records"]
        note = (
            ""
            if x["users"] >= 1_000_000
            else f" (measured at {_n(x['users'])} users, not 1 M: at this rate the 1 M restore that must precede a "
            f"1 M restart would take ~{per_record * 1e6 / 60:,.0f} min of this shared machine)"
        )
        out.append(
            f"`restart_ready_s_1m` / `restore_records_per_s` / `rss_bytes_per_user_1m`{note}: with local RocksDB "
            f"state the worker was ready in {x['restart_seconds']:.1f} s; with it wiped, restoring "
            f"{_n(x['restore_records'])} records took {x['restore_seconds']:.1f} s (start-up included). The "
            "changelog is read in bulk (orchestrator/broker/bulk_restore.py: large fetches, one RocksDB write batch "
            "per fetch) instead of through Faust's per-record recovery, which cost ~830 µs a record (1,208 "
            "records/s at 200,000 in the previous run). Restore profile, top self-time frames: "
            f"{_top(x.get('restore_profile', []), 6)}: the worker mostly waits for fetches. Tansu answers a fetch "
            "with what its memory store gathered when the wait expires, and seeking into a large partition is "
            "slow there: reading this changelog alone with aiokafka ran at ~51,000 records/s at 1 M records of "
            "~1 KB and ~136,000/s at 300,000 (the bulk step itself ran at 44,000/s with a 200 ms wait, 16,000/s "
            "with 20 ms). On Apache Kafka a fetch returns as soon as its bytes are there. "
            "RSS once ready "
            f"{x['restart_rss_bytes'] / 2**20:,.0f} MiB after the restart, {x['restore_rss_bytes'] / 2**20:,.0f} MiB "
            f"after the restore; the records live on disk ({x['table_dir_bytes'] / 2**20:,.0f} MiB of table_dir), "
            "so RSS is mostly the fixed cost of a started worker (interpreter, Faust, RocksDB caches) rather than "
            "per user"
            + (
                f" (the memory store held {r['state']['table_bytes_per_user']:,.0f} B per user in RAM)."
                if "state" in r
                else "."
            )
        )
    if "engine_10k_vs_10" in s:
        out.append(
            f"`engine_10k_vs_10`: {s['engine_10k_vs_10']:.2f} with 10,000 milestones in "
            f"{s.get('engine_10k_playbooks')} playbooks"
            + (
                f", {s['engine_10k_one_playbook_vs_10']:.2f} in one playbook of 10,000"
                if "engine_10k_one_playbook_vs_10" in s
                else ""
            )
            + ": matching is by event name and progress is copied on write, so the cost no longer grows with "
            "the ruleset (below 1: the 10-milestone run costs more per event than the 10,000 one; not profiled)."
        )
    if "timer_lateness" in r:
        t = r["timer_lateness"]
        out.append(
            f"`timer_late_p99_ms`: {_n(t['due_in_window'])} of {_n(t['armed'])} armed timers came due over "
            f"{t['window_seconds']:.0f} s; late p50 {t['late_p50_ms']:.0f} ms, p99 {t['late_p99_ms']:.0f} ms, max "
            f"{t['late_max_ms']:.0f} ms. "
            + (
                f"The timers are in the worker's timer index ({t['store']}; armed through `TimerIndex.sync` in "
                f"{t['arm_seconds']:.1f} s): the firing loop sleeps until the next due timer (at most 200 ms), reads "
                "each owned partition from its head and publishes each command with the worker's `TimerPublisher` "
                f"(ack awaited, p50 {t['publish_p50_ms']:.1f} ms); a consumer standing in for the agent deleted "
                f"{_n(t['deleted'])} fired entries ({t['delete_lag_p50_ms']:.0f} ms after the publish, p50). A pass "
                f"after a rebalance's `reset()`, over their tombstones, took {t['rescan_after_reset_ms']:.1f} ms."
                if "store" in t
                else "The firing loop sleeps until the next due timer (at most 200 ms) and pops from a heap "
                "(an older run: the timers were in memory then)."
            )
        )
    if "soak" in r:
        k = r["soak"]
        series = " → ".join(
            f"{sec:.0f} s {rss / 2**20:,.0f}" for sec, rss, _ in k["samples"][:: max(1, len(k["samples"]) // 8)]
        )
        out.append(
            f"`soak_rss_growth_pct`: {k['seconds']:.0f} s at {_n(k['offered_rate'])} events/s over "
            f"{_n(k['users'])} users after {k['warmup_seconds']:.0f} s warm-up: RSS "
            f"{k['rss_after_warmup_bytes'] / 2**20:,.0f} → {k['rss_end_bytes'] / 2**20:,.0f} MiB; handled "
            f"{_n(k['handled'])} of {_n(k['sent'])} sent. RSS over time (MiB): {series}."
            + (
                f" The worker handled {k['handled'] / (k['seconds'] + k['warmup_seconds']):,.0f} events/s of the "
                f"{_n(k['offered_rate'])} offered{_stall(k['samples'])}."
                if k["handled"] < 0.95 * k["sent"]
                else " The worker kept up with the offered rate."
            )
            + SOAK_MEMORY
            + SOAK_PROFILE
        )
    return out


SOAK_MEMORY = (
    " Session 10 found and fixed the growth (a helper's probe, 2026-11-29: every 60 s the gc's objects by type"
    " and the largest containers, then `gc.get_referrers` on what grew; and RSS by mapping, glibc's mallinfo2,"
    " pymalloc's arenas and RocksDB's figures every 10 s). (1) A leak: each email/Slack lane kept a heap entry"
    " per queued job with its deadline (a day ahead), dropped only while the provider's breaker held sends"
    " back, so every delivery a lane ever sent stayed in memory with its request (~2.2 KB each, +12,721 jobs"
    " and requests in 550 s; orchestrator/outbox/lanes.py now rebuilds a heap once stale entries outnumber the"
    " waiting jobs). (2) The outbox prune listed every row of the table (a week of deliveries, decoded) four"
    " times a minute: a transient copy growing with the table, whose memory pymalloc kept (arenas 89 → 121 MiB"
    " with live objects flat); it now reads one partition's RocksDB database row by row"
    " (broker/table_partitions.py). With both fixes the helper's 600 s run grew +18.5 % from 120 s where the"
    " code before grew +52.6 %, and the remaining growth is the bounded caches filling: the worker's one RocksDB"
    " block cache reaches its 64 MiB cap ~180 s in, memtables settle at 30–40 MiB, the glibc heap is flat after"
    " ~240 s. The baseline is therefore taken after 300 s (`--soak-warmup`); in this run RSS was 260 MiB at"
    " 120 s, 306 MiB at 240 s, 312 MiB at 1,040 s and 313 MiB from 1,300 s to the end. The last Python"
    " structure that grows is the outbox's finished-id set, bounded at 100,000 ids (~15 MiB; 20,000 after"
    " 30 min here)."
)
SOAK_PROFILE = (
    " The soak's producer batches for 100 ms (bench/soak.py). With 5 ms, three earlier runs at 500/s stalled "
    "after ~180,000 events, and a profile (2026-11-29) put the stall in the embedded broker: the same traffic "
    "with plain aiokafka clients and no Nudgeflow (a producer at 500/s, a consumer re-publishing each record, "
    "a second one writing one more) stopped consuming the input topic after ~180,000 records too (lag 20 s, "
    "then 51 s; producing stayed fast; Tansu at one core), while the re-published topic, written in large "
    "batches, kept a ~40 ms lag. In the Nudgeflow run py-spy found the worker's event loop 86% idle in the "
    "slow phase (31% when healthy), and a fresh client's read of the events topic's tail took 5.4 s (other "
    "topics 16–53 ms). `python -m bench.tansu_batches`: reading a partition's last 20 records took 7, 9 and "
    "51 ms at 5,000, 10,000 and 20,000 one-record batches (2 ms in large batches), and writing 20,000 more "
    "did not finish in 400 s. Tansu's memory store pays per batch it holds; Apache Kafka indexes its log by "
    "offset. docs/deploy.md says so."
)


CLICKHOUSE_NOTE = (
    "`report_seconds_10m_chdb` (goal ≤ 30 s at 10,000,000 users) is not met: 147.9 s on this 2-core machine,"
    " 12.6 GB peak RSS (session 9: no run finished; stopped after 300 s at 14 GB). The 10 M users are the"
    " 1 M-user sample's rows copied (`bench/analytics.py` `multiply_clickhouse`: every row again under 9 new"
    " user ids and record ids, so users, rows, per-user histories and time distributions scale together;"
    " accounts are shared by the copies), because writing a 10 M-user sample with `nudgeflow sample` takes"
    " ~40 min and ~39 GB here; the copy then builds the folder's kept per-user tables again (458 s in all,"
    " not part of the report's time, as loading a folder is not). What changed (session 10): the folder keeps"
    " the per-user tables (`_facts`, `_users`, `_exposures`) as MergeTree tables built once at load, so a"
    " report no longer rebuilds them from every record; reads of a loaded folder skip `final` (the load stores"
    " each id once); inner joins name the larger table first, because ClickHouse hashes the right-hand side as"
    " written (DuckDB chooses for itself); adoption's unlocks are a session table (ClickHouse computes a CTE"
    " once per reference); the nudge effect's correlated EXISTS is a join. At 1 M users the report went from"
    " 47.0 s to 13.4–18.8 s (two runs), at 200 k (in process, both under load) from 8.2 to 3.5 s."
    " A per-query profile at 10 M users"
    " (2026-11-29, before the join reordering, with a soak running beside it: 367 s in all): the nudge effect"
    " 117 s (it hashed `_facts`, ~50 M rows, the reason for the reordering), adoption 86 s (its unlocks 44 s,"
    " the semi join with 35 M track events 41 s), experiments 41 s, the ladder table 29 s, members 19 s,"
    " repeat usage 18 s. Each is a hash join or aggregation over tens of millions of rows with string keys"
    " on 2 cores. The way to 30 s: keep the per-member ladder table and the unlocks in the data as well"
    " (AggregatingMergeTree materialized views updated as rows arrive, so a report reads one row per member"
    " and step instead of joining facts again), integer user keys instead of strings, and a server with the"
    " cores ClickHouse is meant for; on this machine DuckDB reads the same 1 M folder in 13.7 s."
)


def summary_section(r: dict[str, Any]) -> str:
    if "goals" not in r:
        return ""
    lines = "\n".join(f"- {line}" for line in limits(r))
    load = r.get("machine", {})
    return f"""## Summary: issue #10's goals

`summary` and `goals` in bench/last-run.json (bench/summary.py). Figures named `_1m` say in "measured at"
the size actually used. Load average (1/5/15 min) at the start of the last phase run:
{", ".join(f"{x:.1f}" for x in load.get("load_average_at_start", []))}; at its end:
{", ".join(f"{x:.1f}" for x in load.get("load_average_at_end", []))} (2 cores shared with other processes).

{summary_table(r)}
### What limits each figure

{lines}
"""
