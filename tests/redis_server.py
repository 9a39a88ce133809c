"""A real, throwaway ``redis-server`` for the tests that need one.

Debian's ``redis-server`` (``scripts/test`` installs it) runs on a free loopback port in
a temporary directory with persistence off, and is stopped at the end of the session.
:meth:`RedisServer.stop` and :meth:`RedisServer.start` let a test take it away and bring
it back on the same port, to see what its clients do meanwhile.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["RedisServer", "die_with_parent", "free_port", "redis_server_missing"]

_START_SECONDS = 15.0


def redis_server_missing() -> str | None:
    """Why no server can be started here, or ``None`` when one can."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed; scripts/test installs Debian's redis-server"
    return None


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def die_with_parent() -> None:
    """In a child process (as ``preexec_fn``): be sent SIGTERM when the parent dies."""
    # A test run that is killed must not leave a server behind on a shared machine.
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port``, data in ``directory``."""

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (again, on the same port) and wait until it answers PING."""
        if self.running:
            return
        log = self.directory / "redis.log"
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        command += ["--dir", str(self.directory), "--logfile", str(log)]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # preexec_fn runs between fork and exec; prctl is all it does.
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + _START_SECONDS
        while not self._answers_ping():
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self._process.returncode}; see {log}:\n"
                    + (log.read_text(errors="replace") if log.exists() else "")
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING within {_START_SECONDS}s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and wait for it to exit; its port stops answering."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False
