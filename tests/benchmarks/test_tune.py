"""benchmarks/tune.py: the search space, the defaults as the first trial, workers sharing a study, confirm, summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fusionrec.data.mmrec import write_mmrec
from fusionrec.models import build_model
from fusionrec.testing.datasets import checkerboard_split
from tests.benchmarks import BENCHMARKS, benchmark_module

pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def tune() -> Any:
    return benchmark_module("tune")


@pytest.mark.parametrize("model", ["fusiongraph", "lightgcn"])
def test_the_defaults_are_a_point_of_the_search_space_that_rebuilds_the_default_model(tune: Any, model: str) -> None:
    flat = tune.defaults_trial("no-recipe-data", model)  # no recipe for this data set: the model's own defaults
    space = tune.search_space(model)
    assert set(flat) == set(space)
    for key, value in flat.items():
        choices = getattr(space[key], "choices", None)
        assert value in choices if choices else space[key].low <= value <= space[key].high, key
    params, train = tune.split_trial(flat)
    rebuilt = build_model(model, **params, train_config=train)
    default = build_model(model)
    assert rebuilt.params == default.params  # type: ignore[attr-defined]
    assert rebuilt.train_config == default.train_config  # type: ignore[attr-defined]


def test_tiktoks_recipe_is_a_point_of_the_search_space(tune: Any) -> None:
    flat = tune.defaults_trial("tiktok", "fusiongraph")
    space = tune.search_space("fusiongraph")
    for key, value in flat.items():
        choices = getattr(space[key], "choices", None)
        assert value in choices if choices else space[key].low <= value <= space[key].high, key
    _, train = tune.split_trial(flat)
    assert train["batch_size"] == 2048 and train["patience"] == 5 and train["average_decay"] == 0.94


def test_settings_tuned_for_a_dataset_start_its_study(tune: Any) -> None:
    flat = tune.defaults_trial("ml100k-mm-cold", "fusiongraph")
    assert flat["content_channel.weight"] == 4.0 and flat["loss.negatives"] == "all"
    assert tune.defaults_trial("ml100k-mm", "lightgcn")["reg_weight"] == 0.3


def test_search_then_confirm_then_summary_on_an_exported_dataset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_mmrec(checkerboard_split(), data / "tiktok", name="tiktok")
    out = tmp_path / "tuning"
    common = ["--dataset", "tiktok", "--data-dir", str(data), "--out", str(out), "--epochs", "3"]
    script = str(BENCHMARKS / "tune.py")
    subprocess.run([sys.executable, script, "search", *common, "--trials", "3", "--workers", "2"], check=True)
    subprocess.run(
        [sys.executable, script, "confirm", *common, "--top", "1", "--seeds", "1", "--workers", "2"], check=True
    )
    folder = out / "tiktok" / "fusiongraph"
    summary = (folder / "summary.md").read_text()
    assert "3 trials, 3 complete" in summary and "(defaults)" in summary
    confirmed = json.loads((folder / "confirm.json").read_text())
    assert any(row["defaults"] for row in confirmed)  # the defaults are always confirmed, as the reference
    assert all(set(row["valid"]) == {"0", "1"} for row in confirmed)
    assert (folder / "trials.png").stat().st_size > 0


def test_a_benchmark_without_a_data_folder_says_how_to_give_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FUSIONREC_DATA"}
    for script in ("tune.py", "multimodal.py", "ablation.py", "baselines.py"):
        arguments = ["search", "--dataset", "tiktok"] if script == "tune.py" else ["--out", str(tmp_path)]
        if script == "baselines.py":
            arguments = []
        done = subprocess.run(
            [sys.executable, str(BENCHMARKS / script), *arguments], env=env, capture_output=True, text=True
        )
        assert done.returncode == 2, (script, done.stderr)
        assert "pass --data-dir or set FUSIONREC_DATA" in done.stderr, script
