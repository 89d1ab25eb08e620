"""The benchmark summary: headline figures, goals and `met` computed from one run's results."""

from __future__ import annotations

from typing import Any

import pytest

from bench import summary


def _results() -> dict[str, Any]:
    return {
        "summary": {"ingest_rows_per_s": 100_000},  # another phase's key, kept
        "throughput": [
            {"per_second": 100_000.0},
            {"per_second": 10_000.0},
            {"per_second": 7_000.0},
        ],
        "noisy": {"bare_per_second": 10_000.0, "pipeline_per_second": 15_000.0, "read_share": 0.1004},
        "latency": [
            {"p50_ms": 40.04, "p99_ms": 150.0, "offered_rate": 998.7, "sustained": False},
            {"p50_ms": 20.0, "p99_ms": 60.0, "offered_rate": 500.0, "sustained": True},
        ],
        "restart": {
            "users": 200_000,
            "restart_seconds": 12.34,
            "restore_records": 200_000,
            "restore_seconds": 8.0,
            "restart_rss_bytes": 300_000_000,
        },
        "engine": [
            {"milestones": 10, "playbooks": 1, "us_per_event": 50.0},
            {"milestones": 10_000, "playbooks": 100, "us_per_event": 90.0},
            {"milestones": 10_000, "playbooks": 1, "us_per_event": 500.0},
        ],
        "timer_lateness": {"late_p99_ms": 210.55, "armed": 1_000_000, "fired": 10_000},
        "soak": {"rss_growth_pct": 7.5, "seconds": 60.2, "warmup_seconds": 15.0, "offered_rate": 999.6},
    }


def test_headline_figures_are_the_ratios_the_issue_defines() -> None:
    values, _ = summary.build(_results())

    assert values["pipeline_vs_faust"] == 0.7
    assert values["noisy_mix_vs_faust"] == 1.5
    assert values["noisy_read_share"] == 0.1
    assert values["restore_records_per_s"] == 25_000
    assert values["rss_bytes_per_user_1m"] == 1_500
    assert values["engine_10k_vs_10"] == 1.8
    assert values["engine_10k_one_playbook_vs_10"] == 10.0


def test_latency_is_the_run_at_the_requested_rate_even_when_it_did_not_keep_up() -> None:
    values, goals = summary.build(_results())

    assert (values["latency_p50_ms"], values["latency_p99_ms"]) == (40.0, 150.0)
    assert values["latency_rate"] == 999
    assert values["latency_sustained"] is False
    assert goals["latency_p99_ms"]["met"] is False


def test_sizes_actually_used_travel_with_their_figures() -> None:
    values, _ = summary.build(_results())

    assert values["restart_ready_s_1m"] == 12.3
    assert values["restart_ready_users"] == 200_000
    assert values["rss_users"] == 200_000
    assert (values["timer_armed"], values["timer_fired"]) == (1_000_000, 10_000)
    assert (values["soak_seconds"], values["soak_warmup_seconds"], values["soak_rate"]) == (60, 15, 1000)


def test_met_compares_each_figure_with_its_goal_in_the_right_direction() -> None:
    results = _results()
    results["summary"] = {"report_seconds_200k": 3.5, "ingest_rows_per_s": 120_000}  # written by their phase
    _, goals = summary.build(results)

    met = {key: goal["met"] for key, goal in goals.items()}
    assert met == {
        "pipeline_vs_faust": True,  # 0.7 ≥ 0.6
        "noisy_mix_vs_faust": False,  # 1.5 < 2.0
        "latency_p99_ms": False,  # 150 > 100
        "restart_ready_s_1m": True,  # 12.3 ≤ 30
        "restore_records_per_s": False,  # 25,000 < 50,000
        "rss_bytes_per_user_1m": False,  # 1,500 > 1,000
        "engine_10k_vs_10": True,  # 1.8 ≤ 2
        "timer_late_p99_ms": True,  # 210 ≤ 1,000
        "soak_rss_growth_pct": False,  # 7.5 > 5
        "inbox_read_p99_ms": None,  # the inbox phase did not run
        "inbox_vs_bare_http": None,
        "inbox_forward_extra_ms": None,
        "inbox_rss_ratio": None,
        "report_seconds_200k": False,  # 3.5 > 2
        "report_peak_rss_mb_200k": None,
        "ingest_rows_per_s": True,  # 120,000 ≥ 100,000
        "report_seconds_10m_chdb": None,  # not measured at 10 M
    }
    assert goals["pipeline_vs_faust"] == {"op": ">=", "target": 0.6, "met": True}


@pytest.mark.parametrize(("value", "met"), [(0.6, True), (0.599, False)])
def test_a_figure_exactly_at_its_goal_meets_it(value: float, met: bool) -> None:
    results = _results()
    results["throughput"][2]["per_second"] = value * 10_000

    _, goals = summary.build(results)

    assert goals["pipeline_vs_faust"]["met"] is met


def test_a_phase_that_did_not_run_leaves_its_figures_out_and_met_unknown() -> None:
    results = _results()
    del results["soak"], results["restart"]

    values, goals = summary.build(results)

    assert "soak_rss_growth_pct" not in values and "restart_ready_s_1m" not in values
    assert goals["soak_rss_growth_pct"]["met"] is None
    assert goals["restore_records_per_s"]["met"] is None
    assert goals["pipeline_vs_faust"]["met"] is True


def test_apply_keeps_other_summary_keys_and_adds_goals() -> None:
    results = _results()

    summary.apply(results)

    assert results["summary"]["ingest_rows_per_s"] == 100_000
    assert results["summary"]["pipeline_vs_faust"] == 0.7
    assert set(results["goals"]) == set(summary.GOALS)


def _inbox() -> dict[str, Any]:
    return {
        "p50_ms": 8.04,
        "p99_ms": 25.06,
        "offered_rate": 180.4,
        "failures": 0,
        "inbox_reads_per_s": 400.0,
        "bare_reads_per_s": 1_600.0,
        "forwarded_p50_ms": 9.5,
        "local_p50_ms": 4.0,
        "rss_mb_per_replica": 150.0,
        "rss_mb_one_replica": 200.0,
        "rss_mb_empty": 130.0,
        "users": 10_000,
        "prompts": 30_000,
    }


def test_inbox_figures_are_the_ratios_and_differences_the_issue_defines() -> None:
    values, goals = summary.build({"inbox": _inbox()})

    assert values["inbox_read_p99_ms"] == 25.1
    assert values["inbox_vs_bare_http"] == 0.25
    assert values["inbox_forward_extra_ms"] == 5.5
    assert values["inbox_rss_ratio"] == 0.75
    assert values["inbox_rss_growth_ratio"] == round(20 / 70, 2), "over an empty worker's RSS"
    assert [goals[key]["met"] for key in ("inbox_read_p99_ms", "inbox_vs_bare_http", "inbox_forward_extra_ms")] == [
        False,
        False,
        False,
    ]
    assert goals["inbox_rss_ratio"]["met"] is False
