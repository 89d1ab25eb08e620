"""The issue's headline figures (`summary`), their goals and whether each was met, from one run's results.

Pure functions over the results dict `python -m bench` builds, so the arithmetic is unit-tested apart
from the (slow, broker-bound) measurements. A figure whose measurement is missing stays out of
`summary` and its goal is `met: None`, never a made-up number.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Goal:
    op: str  # ">=" or "<="
    target: float

    def met(self, value: float) -> bool:
        compare: Callable[[float, float], bool] = operator.ge if self.op == ">=" else operator.le
        return compare(value, self.target)


GOALS: dict[str, Goal] = {
    "pipeline_vs_faust": Goal(">=", 0.6),
    "noisy_mix_vs_faust": Goal(">=", 2.0),
    "latency_p99_ms": Goal("<=", 100.0),
    "restart_ready_s_1m": Goal("<=", 30.0),
    "restore_records_per_s": Goal(">=", 50_000.0),
    "rss_bytes_per_user_1m": Goal("<=", 1_000.0),
    "engine_10k_vs_10": Goal("<=", 2.0),
    "timer_late_p99_ms": Goal("<=", 1_000.0),
    "soak_rss_growth_pct": Goal("<=", 5.0),
    "inbox_read_p99_ms": Goal("<=", 20.0),
    "inbox_vs_bare_http": Goal(">=", 0.5),
    "inbox_forward_extra_ms": Goal("<=", 5.0),
    "inbox_rss_ratio": Goal("<=", 0.4),  # inbox_rss_mb_per_replica / inbox_rss_mb_one_replica
    # analytics (issue #12): bench/analytics.py writes these keys itself
    "report_seconds_200k": Goal("<=", 2.0),
    "report_peak_rss_mb_200k": Goal("<=", 500.0),
    "ingest_rows_per_s": Goal(">=", 100_000.0),
    "report_seconds_10m_chdb": Goal("<=", 30.0),
}


def _throughput(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "throughput" in r:
        _, bare, pipe = r["throughput"]
        out["pipeline_vs_faust"] = round(pipe["per_second"] / bare["per_second"], 3)
    if "noisy" in r:
        noisy = r["noisy"]
        out["noisy_mix_vs_faust"] = round(noisy["pipeline_per_second"] / noisy["bare_per_second"], 3)
        out["noisy_read_share"] = round(noisy["read_share"], 3)
    return out


def _latency(r: dict[str, Any]) -> dict[str, Any]:
    if not r.get("latency"):
        return {}
    first = r["latency"][0]  # the run at the requested rate, kept up or not
    return {
        "latency_p50_ms": round(first["p50_ms"], 1),
        "latency_p99_ms": round(first["p99_ms"], 1),
        "latency_rate": round(first["offered_rate"]),
        "latency_sustained": bool(first["sustained"]),
    }


def _restart(r: dict[str, Any]) -> dict[str, Any]:
    if "restart" not in r:
        return {}
    s = r["restart"]
    return {
        "restart_ready_s_1m": round(s["restart_seconds"], 1),
        "restart_ready_users": s["users"],
        "restore_records_per_s": round(s["restore_records"] / s["restore_seconds"]),
        "restore_records": s["restore_records"],
        "rss_bytes_per_user_1m": round(s["restart_rss_bytes"] / s["users"]),
        "rss_users": s["users"],
    }


def _engine(r: dict[str, Any]) -> dict[str, Any]:
    runs = r.get("engine", [])
    small = next((e for e in runs if e["milestones"] == 10), None)
    spread = next((e for e in runs if e["milestones"] == 10_000 and e["playbooks"] > 1), None)
    one = next((e for e in runs if e["milestones"] == 10_000 and e["playbooks"] == 1), None)
    out: dict[str, Any] = {}
    if small and spread:
        out["engine_10k_vs_10"] = round(spread["us_per_event"] / small["us_per_event"], 2)
        out["engine_10k_playbooks"] = spread["playbooks"]
    if small and one:
        out["engine_10k_one_playbook_vs_10"] = round(one["us_per_event"] / small["us_per_event"], 2)
    return out


def _timers(r: dict[str, Any]) -> dict[str, Any]:
    if "timer_lateness" not in r:
        return {}
    t = r["timer_lateness"]
    return {
        "timer_late_p99_ms": round(t["late_p99_ms"], 1),
        "timer_armed": t["armed"],
        "timer_fired": t["fired"],
        "timer_store": "RocksDB" if "store" in t else "memory",  # runs before the RocksDB index: a heap
    }


def _soak(r: dict[str, Any]) -> dict[str, Any]:
    if "soak" not in r:
        return {}
    s = r["soak"]
    return {
        "soak_rss_growth_pct": round(s["rss_growth_pct"], 2),
        "soak_seconds": round(s["seconds"]),
        "soak_warmup_seconds": round(s["warmup_seconds"]),
        "soak_rate": round(s["offered_rate"]),
    }


def inbox_keys(i: dict[str, Any]) -> dict[str, Any]:
    """The inbox keys of bench/last-run.json's `summary`."""
    return {
        "inbox_read_p99_ms": round(i["p99_ms"], 1),
        "inbox_read_p50_ms": round(i["p50_ms"], 1),
        "inbox_read_rate": round(i["offered_rate"]),
        "inbox_read_failures": i["failures"],
        "inbox_vs_bare_http": round(i["inbox_reads_per_s"] / i["bare_reads_per_s"], 3),
        "inbox_reads_per_s": round(i["inbox_reads_per_s"]),
        "inbox_bare_http_reads_per_s": round(i["bare_reads_per_s"]),
        "inbox_forward_extra_ms": round(i["forwarded_p50_ms"] - i["local_p50_ms"], 2),
        "inbox_rss_mb_per_replica": round(i["rss_mb_per_replica"], 1),
        "inbox_rss_mb_one_replica": round(i["rss_mb_one_replica"], 1),
        "inbox_rss_ratio": round(i["rss_mb_per_replica"] / i["rss_mb_one_replica"], 2),
        "inbox_rss_growth_ratio": _growth_ratio(i),
        "inbox_users": i["users"],
        "inbox_prompts": i["prompts"],
    }


def _growth_ratio(i: dict[str, Any]) -> float | None:
    """What the prompts add to a replica of three / to one replica holding all, each over an empty
    worker's RSS (the fixed cost of Python, Faust and the API that any replica pays)."""
    if "rss_mb_empty" not in i:
        return None
    one = i["rss_mb_one_replica"] - i["rss_mb_empty"]
    return round((i["rss_mb_per_replica"] - i["rss_mb_empty"]) / one, 2) if one > 0 else None


def _inbox(r: dict[str, Any]) -> dict[str, Any]:
    return inbox_keys(r["inbox"]) if "inbox" in r else {}


def build(results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(summary, goals): the summary's headline keys with their companion fields (sizes actually
    used), and per goal its operator, target and `met` (None when the figure was not measured)."""
    summary: dict[str, Any] = {}
    for part in (_throughput, _latency, _restart, _engine, _timers, _soak, _inbox):
        summary.update(part(results))
    known = {**results.get("summary", {}), **summary}  # with the keys phases wrote themselves
    goals = {
        key: {"op": goal.op, "target": goal.target, "met": goal.met(known[key]) if key in known else None}
        for key, goal in GOALS.items()
    }
    return summary, goals


def apply(results: dict[str, Any]) -> None:
    """Merges the headline keys into results["summary"] (which may already hold other phases' keys)
    and sets results["goals"]."""
    summary, goals = build(results)
    results.setdefault("summary", {}).update(summary)
    results["goals"] = goals
