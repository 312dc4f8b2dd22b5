"""A real two-node Ray cluster on loopback, started once for these tests and stopped after them.

``ray start --head`` and a second ``ray start --address=...`` node, one CPU
each, in a temporary folder; the driver joins it. At the end only the
processes of this cluster (found by its folder) are stopped, never another
Ray on the machine.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

# Token authentication for the test cluster; Ray reads these when it is imported, so they are set first.
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
os.environ.update(AUTH)

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'fusionrec[ray]')")

import fusionrec  # noqa: E402 - after the skip: without ray these tests do not run
from tests.distributed.posters import write_poster_catalog  # noqa: E402

SOURCE = Path(fusionrec.__file__).resolve().parents[1]
START_TIMEOUT = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ray_command() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else (shutil.which("ray") or "ray")


def _cluster_processes(folder: Path) -> set[int]:
    """Ids of the processes started for the cluster in ``folder`` (their command line names it) and of all
    their descendants (Ray's workers and agents)."""
    parents: dict[int, int] = {}
    ours: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if str(folder) in command:
            ours.add(int(entry.name))
    while children := {pid for pid, parent in parents.items() if parent in ours} - ours:
        ours |= children
    return ours


def _stop(folder: Path) -> None:
    """SIGTERM, then SIGKILL, to the cluster's whole process tree (collected first: orphans lose their parent)."""
    tree = _cluster_processes(folder)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        time.sleep(2)


@pytest.fixture(scope="package")
def ray_cluster() -> Iterator[str]:
    """The address of a running two-node cluster this process is connected to (token authentication on)."""
    folder = Path(tempfile.mkdtemp(prefix="fr-ray-"))  # short: Ray's socket paths have a length limit
    port = _free_port()
    env = {**os.environ, **AUTH, "PYTHONPATH": str(SOURCE)}
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    head = [_ray_command(), "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={folder}"]
    second = [_ray_command(), "start", f"--address=127.0.0.1:{port}"]
    try:
        for command in (head + common, second + common):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=START_TIMEOUT)
            if done.returncode:
                raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        worker_env = {"env_vars": {"PYTHONPATH": str(SOURCE)}}
        ray.init(address=f"127.0.0.1:{port}", log_to_driver=False, runtime_env=worker_env)
        _wait_for_nodes(2)
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_nodes(count: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while sum(1 for node in ray.nodes() if node["Alive"]) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray cluster did not reach {count} nodes: {ray.nodes()}")
        time.sleep(0.5)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Torch at one thread, as in an actor with one CPU; the previous count is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def poster_catalog(tmp_path: Path) -> Path:
    """A handful of Pillow posters (see :mod:`tests.distributed.posters`)."""
    return write_poster_catalog(tmp_path / "catalog")
