"""``fusionrec serve`` and ``fusionrec verify-artifact`` from the command line."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from fusionrec.cli import app
from tests.serve.server import free_port, serve_command

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
    with serve_command(artifact, tmp_path) as url:
        body = httpx.get(f"{url}/v1/users/u1/recommendations?k=3").json()
        assert len(body["items"]) == 3


def route_total(metrics_text: str, route: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "fusionrec_http_requests_total" and sample.labels.get("route") == route
    )


def per_worker_totals(shared: Path, route: str, scratch: Path) -> list[float]:
    """The route's request count in each worker's own counter file."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    totals = []
    for file in sorted(shared.glob("counter_*.db")):
        alone = scratch / file.stem
        alone.mkdir(exist_ok=True)
        shutil.copyfile(file, alone / file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        totals.append(route_total(generate_latest(registry).decode(), route))
    return totals


def test_metrics_of_two_workers_count_every_request_once(artifact: Path, tmp_path: Path) -> None:
    """However the kernel spreads connections over the two workers, the counts add up to what was sent.

    Which worker takes a connection is the kernel's choice, so the test asks nothing of the spread;
    that counters of several processes add up is checked deterministically in
    ``test_counters_written_by_several_processes_add_up``.
    """
    import os

    temp, scratch = tmp_path / "tmp", tmp_path / "scratch"
    temp.mkdir()
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | {"TMPDIR": str(temp)}
    route, sent = "/v1/users/{user_id}/recommendations", 40
    with serve_command(artifact, tmp_path, env) as url:
        (shared,) = temp.glob("fusionrec-metrics-*")
        for i in range(sent):  # a new connection per request
            assert httpx.get(f"{url}/v1/users/u{i % 20}/recommendations").status_code == 200
        deadline = time.monotonic() + 30  # a hang guard: a worker counts a request once it has answered
        workers = per_worker_totals(shared, route, scratch)
        while sum(workers) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
            workers = per_worker_totals(shared, route, scratch)
        assert sum(workers) == sent, f"requests per worker: {workers}"
        for _ in range(4):  # whichever worker answers the scrape reports the total of all
            assert route_total(httpx.get(f"{url}/metrics").text, route) == sent
    assert not list(temp.iterdir()), "fusionrec serve left its metrics folder behind"


_COUNT_REQUESTS = """
import sys
from fusionrec.serve.metrics import ServiceMetrics
metrics = ServiceMetrics(lambda: 1)
for _ in range(int(sys.argv[1])):
    metrics.observe_request("GET", "/health", 200, 0.001)
"""


def test_counters_written_by_several_processes_add_up(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from fusionrec.serve.metrics import MULTIPROC_ENV

    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    for count in (3, 5):
        subprocess.run([sys.executable, "-c", _COUNT_REQUESTS, str(count)], env=env, check=True)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert per_worker_totals(tmp_path, "/health", scratch) in ([3.0, 5.0], [5.0, 3.0])
