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


def test_metrics_add_up_the_requests_of_every_worker(artifact: Path, tmp_path: Path) -> None:
    import os
    from concurrent.futures import ThreadPoolExecutor

    temp, scratch = tmp_path / "tmp", tmp_path / "scratch"
    temp.mkdir()
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | {"TMPDIR": str(temp)}
    route, sent, workers = "/v1/users/{user_id}/recommendations", 0, [0.0]
    with serve_command(artifact, tmp_path, env) as url:
        (shared,) = temp.glob("fusionrec-metrics-*")
        with ThreadPoolExecutor(8) as pool:  # a new connection per request, so that both workers take some
            while (len(workers) < 2 or min(workers) == 0) and sent < 400:
                users = [f"u{i % 200}" for i in range(sent, sent + 40)]
                statuses = list(pool.map(lambda u: httpx.get(f"{url}/v1/users/{u}/recommendations").status_code, users))
                assert statuses == [200] * len(users)
                sent += len(users)
                workers = per_worker_totals(shared, route, scratch)
        assert len(workers) == 2 and min(workers) > 0, f"requests per worker: {workers}"
        deadline = time.monotonic() + 10
        while sum(workers) < sent and time.monotonic() < deadline:  # a worker counts a request once it has answered
            time.sleep(0.05)
            workers = per_worker_totals(shared, route, scratch)
        assert sum(workers) == sent
        for _ in range(4):  # whichever worker answers the scrape reports the total of both
            assert route_total(httpx.get(f"{url}/metrics").text, route) == sent
    assert not list(temp.iterdir()), "fusionrec serve left its metrics folder behind"
