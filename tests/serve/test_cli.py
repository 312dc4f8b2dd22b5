"""``fusionrec serve`` and ``fusionrec verify-artifact`` from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from typer.testing import CliRunner

from fusionrec.cli import app
from tests.serve.server import free_port

runner = CliRunner()


def test_verify_artifact_prints_what_it_holds(artifact: Path) -> None:
    result = runner.invoke(app, ["verify-artifact", str(artifact)])
    assert result.exit_code == 0, result.output
    assert "ok (5 files verified)" in result.output
    assert "fusionrec.serve.demo:ContentFactors" in result.output


def test_verify_artifact_refuses_a_damaged_one(artifact: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(artifact, tmp_path / "copy"))
    (copy / "items.json").write_text("{}")
    result = runner.invoke(app, ["verify-artifact", str(copy)])
    assert result.exit_code == 1
    assert "items.json has sha256" in result.output


def test_serve_refuses_a_missing_artifact_before_starting(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", str(tmp_path / "nothing"), "--port", str(free_port())])
    assert result.exit_code == 1
    assert "is not a folder" in result.output


def test_serve_help_lists_host_port_workers_and_store() -> None:
    result = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "--store-url", "--api-key"):
        assert option in result.output


def test_the_serve_command_serves(artifact: Path, tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    port = free_port()
    executable = Path(sys.executable).parent / "fusionrec"  # the installed console script
    command = [str(executable), "serve", str(artifact), "--port", str(port), "--workers", "2"]
    command += ["--store-url", f"sqlite:///{tmp_path / 'events.sqlite3'}", "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status != 200:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert status == 200
        body = httpx.get(f"http://127.0.0.1:{port}/v1/users/u1/recommendations?k=3").json()
        assert len(body["items"]) == 3
    finally:
        process.terminate()
        process.wait(timeout=20)
