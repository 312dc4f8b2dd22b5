"""Run the service under uvicorn in a subprocess on a free loopback port (for durability and browser tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0, hint: str = "") -> None:
    """Poll ``url/ready`` until it answers 200; raise if the process exits or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}; {hint}")
        try:
            if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the server at {url} was not ready after {timeout} s; {hint}")


@contextmanager
def serve_command(artifact: Path, tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``fusionrec serve ARTIFACT --workers 2`` (the installed console script) until the block ends; yields its URL."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "fusionrec"), "serve", str(artifact), "--port", str(port)]
    command += ["--workers", "2", "--store-url", f"sqlite:///{tmp_path / 'events.sqlite3'}", "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, process, hint="run the same command by hand to see why")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


class ServerProcess:
    """``uvicorn --factory fusionrec.serve.app:create_app_from_env`` with ``FUSIONREC_*`` settings."""

    def __init__(
        self, settings: dict[str, str], log: Path, port: int | None = None, log_level: str = "warning"
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **{f"FUSIONREC_{k.upper()}": v for k, v in settings.items()}}
        command = [sys.executable, "-m", "uvicorn", "--factory", "fusionrec.serve.app:create_app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", log_level]
        self._log = log.open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_until_ready(self.url, self.process, timeout, f"see {self._log.name}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
