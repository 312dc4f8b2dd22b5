"""``--ray-address`` on ``train`` and ``encode``, run against the two-node cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fusionrec.cli import app

pytestmark = [pytest.mark.ray, pytest.mark.slow]

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def catalog(tmp_path: Path) -> tuple[Path, Path]:
    ratings, items = tmp_path / "ratings.csv", tmp_path / "items.csv"
    rows = [f"u{u},i{(u * 7 + k) % 30},5" for u in range(40) for k in range(8)]
    ratings.write_text("uid,mid,stars\n" + "\n".join(rows) + "\n")
    items.write_text("mid,title\n" + "\n".join(f"i{i},Film {i}" for i in range(30)) + "\n")
    return ratings, items


def test_train_on_the_cluster_with_two_workers(ray_cluster: str, catalog: tuple[Path, Path], tmp_path: Path) -> None:
    ratings, items = catalog
    invoke("train", "--interactions", str(ratings), "--items", str(items), "--column", "user=uid",
           "--column", "item=mid", "--model", "lightgcn", "--set", "train.epochs=2", "--set", "train.progress=false",
           "--out-dir", str(tmp_path / "run"), "--ray-address", ray_cluster, "--ray-workers", "2")  # fmt: skip
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["timing"]["epochs_run"] == 2 and 0.0 <= result["metrics"]["recall@20"]["mean"] <= 1.0


def test_encode_on_the_cluster_writes_the_cache(ray_cluster: str, catalog: tuple[Path, Path], tmp_path: Path) -> None:
    items = tmp_path / "catalog" / "items.csv"
    items.parent.mkdir()
    items.write_text(catalog[1].read_text().replace("mid,title", "movie_id,title"))
    config = tmp_path / "encoders.toml"
    config.write_text('[[encoders]]\nmodality = "text"\nname = "minilm"\ntemplate = "{title}"\n')
    first = json.loads(invoke("encode", str(items), "--config", str(config), "--cache-dir", str(tmp_path / "cache"),
                              "--json", "--ray-address", ray_cluster))  # fmt: skip
    again = json.loads(invoke("encode", str(items), "--config", str(config), "--cache-dir", str(tmp_path / "cache"),
                              "--json"))  # fmt: skip
    assert first["modalities"][0]["n_encoded"] == 30
    assert again["modalities"][0]["n_cached"] == 30  # one process reads what the actors wrote
