"""The command line end to end, in-process, on small data written to a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.data import demo_split, write_mmrec

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo catalog's split written in MMRec layout as <tmp>/demo/demo.inter."""
    root = tmp_path_factory.mktemp("data")
    write_mmrec(demo_split(), root / "demo", name="demo")
    return root


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout  # log lines go to standard error


def test_help_lists_every_command() -> None:
    output = invoke("--help")
    for command in ("inspect", "split", "train", "evaluate", "benchmark", "demo", "encode", "serve"):
        assert command in output


def test_inspect_reports_counts_and_problems(demo_folder: Path) -> None:
    report = json.loads(invoke("inspect", str(demo_folder / "demo"), "--json"))
    assert report["users"] == 600
    assert report["interactions"]["train"] > report["interactions"]["test"] > 0
    assert "image" in report["modalities"]


def test_inspect_of_a_missing_folder_is_a_clean_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(tmp_path / "nowhere.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_split_writes_a_reproducible_mmrec_file(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    rows = [f"u{u},i{(u * 7 + k) % 30},{1 + (u + k) % 5},{1000 + k}" for u in range(40) for k in range(8)]
    ratings.write_text("user_id,item_id,rating,timestamp\n" + "\n".join(rows) + "\n")
    for out in ("a", "b"):
        invoke("split", str(ratings), "--out", str(tmp_path / out), "--kind", "temporal", "--name", "s")
    first, second = (tmp_path / "a" / "s.inter").read_text(), (tmp_path / "b" / "s.inter").read_text()
    assert first == second
    assert first.splitlines()[0].split("\t") == ["userID", "itemID", "x_label"]


def test_split_rejects_bad_ratios(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user_id,item_id\nu1,i1\n")
    result = runner.invoke(app, ["split", str(ratings), "--out", str(tmp_path), "--ratios", "0.8,0.2"])
    assert result.exit_code != 0
    assert "0.8,0.2" in result.output


def test_benchmark_writes_the_contract_json(demo_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    invoke(
        "benchmark", "--data-dir", str(demo_folder), "--dataset", "demo", "--model", "bpr",
        "--seeds", "2", "--json", str(out), "--set", "train.epochs=3", "--set", "train.progress=false",
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["dataset"] == "demo" and result["model"] == "bpr" and result["seeds"] == [0, 1]
    for metric in ("recall@10", "recall@20", "ndcg@10", "ndcg@20"):
        assert set(result["metrics"][metric]) == {"mean", "std"}
    assert set(result["valid"]["recall@20"]) == {"mean", "std"}
    assert {"seconds_per_epoch", "epochs", "train_seconds", "eval_seconds", "peak_rss_mb"} <= set(result["timing"])
    assert result["config"]
    assert (tmp_path / "result" / "demo" / "bpr" / "experiment.json").is_file()


def test_benchmark_grid_prints_one_row_per_model(demo_folder: Path) -> None:
    output = invoke("benchmark", "--data-dir", str(demo_folder), "--dataset", "demo", "--model", "pop",
                    "--model", "itemknn", "--seeds", "1", "--out-dir", str(demo_folder / "runs"))  # fmt: skip
    assert "pop" in output and "itemknn" in output


def test_unknown_setting_names_the_key(demo_folder: Path) -> None:
    args = ["benchmark", "--data-dir", str(demo_folder), "--dataset", "demo", "--model", "pop"]
    result = runner.invoke(app, [*args, "--set", "train.lrr=1"])
    assert result.exit_code == 2
    assert "lrr" in result.output


def test_train_saves_an_artifact_that_evaluate_reads(demo_folder: Path, tmp_path: Path) -> None:
    artifact = tmp_path / "artifact"
    invoke("train", "--data-dir", str(demo_folder), "--dataset", "demo", "--model", "itemknn",
           "--save", str(artifact), "--out-dir", str(tmp_path / "run"))  # fmt: skip
    assert (artifact / "manifest.json").is_file() and (artifact / "experiment.json").is_file()
    trained = json.loads((tmp_path / "run" / "result.json").read_text())
    evaluated = invoke("evaluate", str(artifact), "--data-dir", str(demo_folder), "--dataset", "demo")
    test_row = next(line for line in evaluated.splitlines() if "test" in line)
    assert f"{trained['metrics']['recall@20']['mean']:.4f}" in test_row


@pytest.mark.parametrize("command", ["train", "benchmark"])
def test_a_bad_ray_split_is_refused_before_data_is_read(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--dataset", "nowhere", "--ray-split", "sideways"])
    assert result.exit_code == 2 and "--ray-split is 'sideways'; expected 'batch' or 'alternate'" in result.output
