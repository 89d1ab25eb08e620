"""`nudgeflow demo` headless for ~24 s: celebrations appear, and it leaves no process behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support.processes import tansu_listening_on


def test_demo_runs_headless_and_celebrates() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGEFLOW_")}
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [sys.executable, "-m", "nudgeflow.orchestrator", "demo", "--duration", "24", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=150,
        env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert output.count("🎉") >= 1, output[-3000:]
    assert re.search(r"👋 fay .*Welcome, Fay", output), "the trial user is welcomed on entering"
    assert re.search(r"👉 fay .*Stuck connecting your data\?", output), "and nudged when she stalls 15 s"
    assert re.search(r"🖱\s+fay clicked Connect a source .*→ https://app\.example\.com/settings/sources", output), (
        "she follows the nudge's button, through the in-app API"
    )
    assert re.search(r"prompt buttons clicked \(recorded as link_clicked\)\s+│\s+1\s+│", output), output[-3000:]
    assert "📧 email to" in output, "email celebrations reach the SendGrid stand-in"
    assert "Demo summary" in output
    assert re.search(r"dead-lettered\s+│\s+1\s+│", output), "the story's one invalid record is counted"
    assert re.search(r"noise dropped before the rules \(pre-filter\)\s+│\s+[1-9]", output), output[-3000:]
    broker = re.search(r"broker 127\.0\.0\.1:(\d+)", output)
    assert broker, output[-3000:]
    assert tansu_listening_on(int(broker.group(1))) == [], "the demo's broker is still running"
