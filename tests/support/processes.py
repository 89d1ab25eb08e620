"""Run `nudgeflow` as a real child process, the way an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from pydantic import SecretStr

from nudgeflow.orchestrator.settings import Settings
from tests.support.kafka import eventually


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that reproduce `settings` in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGEFLOW_")}
    for name, value in settings.model_dump(mode="json").items():
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):
            value = secret.get_secret_value()
        if value is not None:
            env[f"NUDGEFLOW_{name.upper()}"] = str(value)
    return env


def tansu_listening_on(port: int) -> list[int]:
    """Pids of Tansu brokers started for this port (none once a broker was stopped cleanly)."""
    needle = f"tcp://127.0.0.1:{port}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.split(b"\0")[0].endswith(b"/tansu") and needle in command:
                pids.append(int(entry.name))
    return pids


STARTED: list[WorkerProcess] = []
"""Worker processes started by the running test: a failing test's report carries their log tails
(tests/integration/conftest.py), since a worker that died says why only in its log."""


class WorkerProcess:
    """`python -m orchestrator worker` with the given settings; the API port must be fixed."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        assert settings.api_port, "give the worker process a fixed API port"
        # Each worker keeps its state in its own directory (RocksDB locks it), named after its log;
        # restarting the same WorkerProcess resumes from that local state.
        self.settings = settings.model_copy(update={"table_dir": settings.table_dir / log_path.stem})
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def log_tail(self, chars: int = 4000) -> str:
        alive = self.process is not None and self.process.poll() is None
        status = "running" if alive else f"exited {self.process.returncode if self.process else None}"
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"[{status}] {self.api_url}\n{text[-chars:]}"

    async def diagnosis(self) -> str:
        """Consumer lag per partition and the supervised tasks, as the worker reports them: for a
        failing test's message (which partition stopped, which task died)."""
        try:
            async with httpx.AsyncClient(base_url=self.api_url, timeout=5) as client:
                metrics = (await client.get("/metrics")).text
                health = (await client.get("/healthz")).text
        except httpx.HTTPError as exc:
            return f"worker API unreachable: {exc!r}"
        lag = [line for line in metrics.splitlines() if line.startswith("nudgeflow_consumer_lag_records{")]
        return "\n".join([*lag, health])

    async def start(self, timeout: float = 60.0) -> None:
        STARTED.append(self)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nudgeflow.orchestrator", "worker"],
            env=settings_env(self.settings),
            stdout=log,
            stderr=log,
        )

        async def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited: {self.log_path.read_text()[-2000:]}")
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"{self.api_url}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, timeout=timeout, interval=0.2)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final commit."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode if self.process else None
