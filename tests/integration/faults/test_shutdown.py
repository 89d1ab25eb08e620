"""`nudgeflow worker` and `nudgeflow demo` stop within 10 s of SIGINT/SIGTERM in any state, a second
signal exits at once, and the embedded broker never outlives its parent (issue #14 item 7).

Each case runs the real command as a child process against a real broker. On the old code the
worker with a paused broker was still running 40 s after SIGTERM (aiokafka waits out its request
timeouts), a second signal changed nothing, and the demo died by SIGINT with a traceback once
its stdout pipe had closed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.orchestrator.broker.embedded import free_port
from tests.support.events import identify, track
from tests.support.kafka import eventually, produce
from tests.support.processes import WorkerProcess

pytestmark = pytest.mark.timeout(120)
PROMISE = 10.0  # seconds from the signal to the process being gone


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGEFLOW_")}
    return {**env, "COLUMNS": "200", **extra}


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    """Running or stopped; a zombie (dead, waiting to be reaped) or a missing pid is not alive."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def seconds_to_exit(process: subprocess.Popen[bytes], limit: float = 40.0) -> float:
    started = time.monotonic()
    try:
        process.wait(limit)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise AssertionError(f"still running {limit:.0f}s after the signal") from None
    return time.monotonic() - started


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready in {timeout:.0f}s: {log.read_text()[-2000:]}")


@pytest.fixture
def embedded_worker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`nudgeflow worker` with its own embedded broker, ready; yields (process, broker pid, log)."""
    port = free_port()
    log = tmp_path / "worker.log"
    env = clean_env(NUDGEFLOW_API_PORT=str(port), NUDGEFLOW_TABLE_DIR=str(tmp_path / "tables"))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nudgeflow.orchestrator", "worker"], env=env, stdout=out, stderr=out
        )
    broker = 0
    try:
        wait_ready(port, process, log)
        [broker] = children(process.pid)
        yield process, broker, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if broker and alive(broker):
            os.kill(broker, signal.SIGKILL)


def test_worker_stops_within_10s_with_its_broker_paused_and_the_broker_dies_with_it(
    embedded_worker: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, broker, log = embedded_worker
    os.kill(broker, signal.SIGSTOP)  # unreachable, not lost: the broker keeps its data
    process.send_signal(signal.SIGTERM)
    took = seconds_to_exit(process)
    assert took < PROMISE, f"took {took:.1f}s"
    # Either every service stopped in time (exit 0), or the stop was cut short and the log says so (exit 1):
    # cancelled at 3/4 of the grace period, or ended by the watchdog.
    assert process.returncode in (0, 1), log.read_text()[-2000:]
    if process.returncode == 1:
        text = log.read_text()
        assert "still stopping after 6s: cancelling" in text or "exiting without finishing shutdown" in text, text[
            -2000:
        ]
    deadline = time.monotonic() + 5
    while alive(broker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(broker), "the paused embedded broker outlived its worker"


def test_a_second_signal_exits_at_once(embedded_worker: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    process, broker, log = embedded_worker
    os.kill(broker, signal.SIGSTOP)  # so the first signal's orderly stop cannot finish
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while "stopping…" not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the orderly stop should still be waiting for the paused broker"
    process.send_signal(signal.SIGINT)
    took = seconds_to_exit(process)
    assert took < 2.0, f"took {took:.1f}s"
    assert process.returncode == 128 + signal.SIGINT
    assert "second SIGINT" in log.read_text()


def test_demo_stops_cleanly_after_its_stdout_pipe_closed(tmp_path: Path) -> None:
    errors = tmp_path / "demo.err"
    with errors.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "nudgeflow.orchestrator", "demo", "--port", "0"],
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        assert process.stdout is not None
        seen = b""
        deadline = time.monotonic() + 90
        while "🎉".encode() not in seen and time.monotonic() < deadline:  # readline blocks until a line
            line = process.stdout.readline()
            assert line, errors.read_text()[-2000:]
            seen += line
        assert "🎉".encode() in seen, seen.decode()[-2000:]
        broker = children(process.pid)
        process.stdout.close()  # the reader went away (`nudgeflow demo | head`)
        process.send_signal(signal.SIGINT)
        took = seconds_to_exit(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert took < PROMISE, f"took {took:.1f}s"
    assert process.returncode == 0, errors.read_text()[-3000:]
    assert "Traceback" not in errors.read_text()
    assert not [pid for pid in broker if alive(pid)], "the demo's broker is still running"


async def test_worker_stops_within_10s_while_a_provider_hangs(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An email send is stuck in SendGrid (the sync client runs in a thread that cannot be cancelled)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mail.yaml").write_text(
        "id: mail\nname: Mail\nmilestones:\n  - id: report\n    title: Report\n"
        "    when: {event: Report Created}\n    celebrate:\n"
        '      - {channel: email, title: "Report saved", body: "Well done."}\n'
    )
    async with SendGridStandIn() as sendgrid:
        sendgrid.delay(seconds=3600)  # answers nothing, like a provider in trouble
        settings = make_settings(rules, api_port=free_port(), sendgrid_api_key="SG.test", sendgrid_host=sendgrid.url)
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        await worker.start(timeout=90)
        try:
            await produce(
                settings.kafka_bootstrap_servers,
                settings.events_topic,
                [(b"ana", identify("ana", {"email": "ana@example.com"})), (b"ana", track("ana", "Report Created", {}))],
            )
            await eventually(lambda: sendgrid.requests, timeout=30)  # the send is in flight, and hangs
            assert worker.process is not None
            worker.process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            await eventually(lambda: worker.process is not None and worker.process.poll() is not None, timeout=40)
            took = time.monotonic() - started
        finally:
            worker.kill()
    assert took < PROMISE, f"took {took:.1f}s"
