"""The service started as a subprocess on a free loopback port, for the load benchmarks.

``load.py``, ``store_faults.py`` and ``serve_startup.py`` run it under uvicorn,
``serve_load.py`` through ``fusionrec serve``; all start it the same way (its
output appended to a log file), wait for ``/ready`` the same way and stop it
the same way, which is what this holds.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

READY_TIMEOUT_S = 1800.0
"""How long a server may take to answer ``/ready`` (a large catalog's index can take minutes)."""


def uvicorn_command(port: int, *options: str) -> list[str]:
    """``python -m uvicorn`` on the service's factory (settings from ``FUSIONREC_*``) at 127.0.0.1:``port``."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "fusionrec.serve.app:create_app_from_env"]
    return [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *options]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``command`` (serving on ``port``) in a subprocess whose output is appended to ``log``.

    Args:
        command: the command line; it must serve on 127.0.0.1 at ``port``.
        env: the subprocess's environment.
        log: the file its stdout and stderr are appended to.
        port: the port the command serves on (see :func:`free_port`).
    """

    def __init__(self, command: list[str], env: dict[str, str], log: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log.open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S, poll_s: float = 0.5, request_s: float = 2.0) -> float:
        """Seconds until ``/ready`` answers 200; raises if the process exits or ``timeout_s`` passes first.

        Args:
            timeout_s: the longest wait.
            poll_s: the pause between two asks (short where the wait itself is the figure measured).
            request_s: the longest wait for one answer.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=request_s).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(poll_s)
        raise TimeoutError(f"server not ready after {timeout_s} s; see {self.log.name}")

    def stop(self) -> None:
        """Terminate the server (kill it if it has not exited in 30 s) and close its log."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
