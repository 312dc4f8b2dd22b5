"""deploy/entrypoint.sh: settings from the environment, secrets from files, and the real service under it.

The image runs this script as its entrypoint; here it runs as a process on
this machine (there is no container daemon), first against a stand-in
``fusionrec`` that records how it was called, then against the installed
``fusionrec`` serving a small artifact on loopback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fusionrec.models.artifact import save_artifact
from fusionrec.models.ease import EASE
from fusionrec.testing.datasets import checkerboard_split
from tests.deploy.files import ENTRYPOINT, HEALTHCHECK, tool
from tests.serve.server import free_port, wait_until_ready

USAGE_ERROR = 64
KEY = "a-test-key-of-some-length"
RECORDER = """#!{python}
import json, os, sys
env = {{name: value for name, value in os.environ.items() if name.startswith(("FUSIONREC_", "PGPASSWORD"))}}
json.dump({{"argv": sys.argv[1:], "env": env}}, open(os.environ["RECORD_TO"], "w"))
"""


def test_shellcheck_passes_the_entrypoint() -> None:
    result = subprocess.run([tool("shellcheck"), "--shell=sh", str(ENTRYPOINT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_entrypoint_is_executable() -> None:
    assert os.access(ENTRYPOINT, os.X_OK) and os.access(HEALTHCHECK, os.X_OK)


@pytest.fixture
def recorder(tmp_path: Path) -> Path:
    """A folder with a ``fusionrec`` that writes its arguments and settings to ``$RECORD_TO``."""
    folder = tmp_path / "bin"
    folder.mkdir()
    stand_in = folder / "fusionrec"
    stand_in.write_text(RECORDER.format(python=sys.executable))
    stand_in.chmod(0o755)
    return folder


def run_entrypoint(
    recorder: Path, tmp_path: Path, env: dict[str, str], *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    """Run the entrypoint with only ``env`` (and PATH) set; what the stand-in recorded, if it ran."""
    record = tmp_path / "record.json"
    full_env = {"PATH": f"{recorder}:/usr/bin:/bin", "RECORD_TO": str(record), **env}
    result = subprocess.run([str(ENTRYPOINT), *args], env=full_env, capture_output=True, text=True, timeout=60)
    return result, json.loads(record.read_text()) if record.exists() else None


def test_defaults_serve_the_artifact_on_all_interfaces(recorder: Path, tmp_path: Path) -> None:
    # an empty variable (`FUSIONREC_WORKERS=` in an env file) means its default, as an unset one
    env = {"FUSIONREC_ARTIFACT": str(tmp_path), "FUSIONREC_WORKERS": "", "FUSIONREC_PORT": ""}
    result, record = run_entrypoint(recorder, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert record is not None
    defaults = ["--host", "0.0.0.0", "--port", "8000", "--workers", "1", "--index", "auto", "--log-level", "info"]
    assert record["argv"] == ["serve", str(tmp_path), *defaults]


def test_settings_come_from_the_environment(recorder: Path, tmp_path: Path) -> None:
    env = {
        "FUSIONREC_ARTIFACT": str(tmp_path),
        "FUSIONREC_HOST": "127.0.0.1",
        "FUSIONREC_PORT": "9001",
        "FUSIONREC_WORKERS": "3",
        "FUSIONREC_INDEX": "hnsw",
        "FUSIONREC_LOG_LEVEL": "warning",
        "FUSIONREC_STORE_URL": "postgresql+psycopg://fusionrec@db:5432/fusionrec",
        "FUSIONREC_HNSW_EF_SEARCH": "256",
    }
    result, record = run_entrypoint(recorder, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert record is not None
    chosen = ["--host", "127.0.0.1", "--port", "9001", "--workers", "3", "--index", "hnsw", "--log-level", "warning"]
    assert record["argv"] == ["serve", str(tmp_path), *chosen]
    # the store URL and the index settings reach `fusionrec serve` and its workers through the environment
    assert record["env"]["FUSIONREC_STORE_URL"] == env["FUSIONREC_STORE_URL"]
    assert record["env"]["FUSIONREC_HNSW_EF_SEARCH"] == "256"


def test_the_key_and_the_password_are_read_from_mounted_files(recorder: Path, tmp_path: Path) -> None:
    (tmp_path / "api-key").write_text(KEY + "\n")
    (tmp_path / "db-password").write_text("pg-secret")
    env = {
        "FUSIONREC_ARTIFACT": str(tmp_path),
        "FUSIONREC_API_KEY_FILE": str(tmp_path / "api-key"),
        "PGPASSWORD_FILE": str(tmp_path / "db-password"),
    }
    result, record = run_entrypoint(recorder, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert record is not None
    assert record["env"]["FUSIONREC_API_KEY"] == KEY  # the file's trailing newline is not part of the key
    assert record["env"]["PGPASSWORD"] == "pg-secret"
    assert "FUSIONREC_API_KEY_FILE" not in record["env"] and KEY not in " ".join(record["argv"])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FUSIONREC_PORT": "80a"}, "FUSIONREC_PORT=80a is not a whole number; expected 1 to 65535"),
        ({"FUSIONREC_PORT": "70000"}, "FUSIONREC_PORT=70000 is out of range; expected 1 to 65535"),
        ({"FUSIONREC_PORT": "123456789012345678901"}, "is out of range"),
        ({"FUSIONREC_WORKERS": "0"}, "FUSIONREC_WORKERS=0 is out of range; expected 1 to 64"),
        ({"FUSIONREC_WORKERS": "two"}, "FUSIONREC_WORKERS=two is not a whole number"),
        ({"FUSIONREC_API_KEY": "replace-with-a-long-random-key"}, "the API key is still the placeholder"),
        ({"FUSIONREC_API_KEY": "k", "FUSIONREC_API_KEY_FILE": "/dev/null"}, "both FUSIONREC_API_KEY and"),
        ({"FUSIONREC_API_KEY_FILE": "/no/such/key"}, "FUSIONREC_API_KEY_FILE=/no/such/key is not a readable file"),
        ({"FUSIONREC_API_KEY_FILE": "/dev/null"}, "FUSIONREC_API_KEY_FILE=/dev/null is empty"),
        ({"PGPASSWORD_FILE": "/no/such/file"}, "PGPASSWORD_FILE=/no/such/file is not a readable file"),
    ],
)
def test_bad_settings_stop_it_with_the_reason(
    recorder: Path, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result, record = run_entrypoint(recorder, tmp_path, {"FUSIONREC_ARTIFACT": str(tmp_path), **env})
    assert result.returncode == USAGE_ERROR
    assert message in result.stderr
    assert record is None, "the service was started despite the bad setting"


def test_a_missing_artifact_is_named(recorder: Path, tmp_path: Path) -> None:
    result, record = run_entrypoint(recorder, tmp_path, {"FUSIONREC_ARTIFACT": str(tmp_path / "model")})
    assert result.returncode == USAGE_ERROR and record is None
    assert f"FUSIONREC_ARTIFACT={tmp_path / 'model'} is not a folder" in result.stderr


def test_arguments_run_instead_of_the_service_with_the_secrets_read(recorder: Path, tmp_path: Path) -> None:
    (tmp_path / "api-key").write_text(KEY)
    env = {"FUSIONREC_ARTIFACT": str(tmp_path / "absent"), "FUSIONREC_API_KEY_FILE": str(tmp_path / "api-key")}
    result, record = run_entrypoint(recorder, tmp_path, env, "fusionrec", "verify-artifact", "/artifacts/model")
    assert result.returncode == 0, result.stderr
    assert record == {"argv": ["verify-artifact", "/artifacts/model"], "env": record["env"]}  # type: ignore[index]
    assert record["env"]["FUSIONREC_API_KEY"] == KEY


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """EASE trained on the checkerboard data set, saved as the image would mount it."""
    model = EASE(l2=10.0).fit(checkerboard_split())
    return save_artifact(model, tmp_path_factory.mktemp("artifacts") / "model")


@pytest.fixture
def served(artifact: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """The entrypoint serving ``artifact`` with two workers on a free loopback port; (process, url, log)."""
    port = free_port()
    (tmp_path / "api-key").write_text(KEY + "\n")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "FUSIONREC_ARTIFACT": str(artifact),
        "FUSIONREC_STORE_URL": f"sqlite:///{tmp_path / 'events.sqlite3'}",
        "FUSIONREC_API_KEY_FILE": str(tmp_path / "api-key"),
        "FUSIONREC_HOST": "127.0.0.1",
        "FUSIONREC_PORT": str(port),
        "FUSIONREC_WORKERS": "2",
        "FUSIONREC_LOG_LEVEL": "warning",
        "TMPDIR": str(tmp_path),
    }
    env.pop("FUSIONREC_API_KEY", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen([str(ENTRYPOINT)], env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, timeout=120, hint=f"see {log}")
        yield process, url, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_the_entrypoint_serves_the_artifact_and_stops_cleanly_on_sigterm(
    served: tuple[subprocess.Popen[bytes], str, Path], tmp_path: Path
) -> None:
    process, url, log = served
    assert httpx.get(f"{url}/ready", timeout=10).json()["status"] == "ready"
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    body = httpx.get(f"{url}/v1/users/A00/recommendations", params={"k": 3}, timeout=10).json()
    assert [item["item_id"][0] for item in body["items"]] == ["A"] * 3  # the checkerboard's own half

    # the key from the file opens the write routes, and only that key
    event = {"user_id": "A00", "item_id": "A-item00", "type": "like"}
    assert httpx.post(f"{url}/v1/events", json=event, headers={"X-API-Key": KEY}, timeout=10).status_code == 201
    assert httpx.post(f"{url}/v1/events", json=event, headers={"X-API-Key": "wrong"}, timeout=10).status_code == 401

    # the image's HEALTHCHECK command, against the running service
    port_env = {**os.environ, "FUSIONREC_PORT": url.rsplit(":", 1)[1]}
    for path in ("/health", "/ready"):
        check = subprocess.run([sys.executable, str(HEALTHCHECK), path], env=port_env, capture_output=True, timeout=30)
        assert check.returncode == 0, check.stderr

    # exec: the process started is the server itself, so SIGTERM reaches it directly
    assert b"fusionrec" in Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[1]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, log.read_text()
    assert not list(tmp_path.glob("fusionrec-metrics-*")), "the workers' metrics folder was left behind"
    check = subprocess.run([sys.executable, str(HEALTHCHECK)], env=port_env, capture_output=True, text=True, timeout=30)
    assert check.returncode == 1 and "is unreachable" in check.stderr
