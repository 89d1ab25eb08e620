"""`nudgeflow demo` headless for ~20 s: celebrations appear, and it leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.processes import tansu_pids


def test_demo_runs_headless_and_celebrates() -> None:
    before = tansu_pids()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGEFLOW_")}
    env["COLUMNS"] = "200"
    result = subprocess.run([sys.executable, "-m", "orchestrator", "demo", "--duration", "20", "--port", "0"],
                            capture_output=True, text=True, timeout=150, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert output.count("🎉") >= 1, output[-3000:]
    assert "Demo summary" in output
    assert "dead-lettered" in output
    assert tansu_pids() - before == set(), "the demo's broker is still running"
