"""What a user runs is what was measured: recipes, one path for train and benchmark, settings that apply."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.config import load_config
from fusionrec.data import demo_split, read_mmrec, write_mmrec
from fusionrec.recipes import recipe_names

runner = CliRunner()
QUICK = ["--set", "train.epochs=2", "--set", "train.progress=false"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """<tmp>/demo: the demo split with features; <tmp>/plain: its interactions and item table, no features."""
    root = tmp_path_factory.mktemp("data")
    split = demo_split()
    write_mmrec(split, root / "demo", name="demo")
    plain = root / "plain"
    plain.mkdir()
    shutil.copy(root / "demo" / "demo.inter", plain / "plain.inter")
    shutil.copy(root / "demo" / "items.csv", plain / "items.csv")
    bare = root / "bare"
    bare.mkdir()
    shutil.copy(root / "demo" / "demo.inter", bare / "bare.inter")
    return root


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    return result.output


def test_recipes_lists_every_shipped_recipe() -> None:
    output = run("recipes")
    for name in ("tiktok", "ml100k-mm", "ml100k-mm-cold", "baby-lightgcn"):
        assert name in output


@pytest.mark.parametrize("name", recipe_names())
def test_every_recipe_is_a_valid_experiment_before_any_data_is_read(name: str) -> None:
    config = load_config(None, None, recipe=name)
    assert config.recipe == name and config.description and config.data.dataset


def test_set_changes_one_key_of_a_recipe() -> None:
    config = load_config(None, {"model.params.second_stage": "false"}, recipe="tiktok")
    assert config.model.params["second_stage"] is False and config.model.params["members"]["count"] == 2
    assert config.train.batch_size == 2048


def test_help_lists_the_models() -> None:
    output = run("train", "--help")
    for name in ("auto", "fusiongraph", "lightgcn", "ease", "content-knn", "random"):
        assert name in output


def test_content_knn_and_random_run_from_the_command_line(data_dir: Path, tmp_path: Path) -> None:
    for model in ("content-knn", "random"):
        out = tmp_path / f"{model}.json"
        run("benchmark", "--data-dir", str(data_dir), "--dataset", "demo", "--model", model, "--seeds", "1",
            "--json", str(out), "--out-dir", str(tmp_path / "runs"))  # fmt: skip
        assert json.loads(out.read_text())["model"] == model


def test_benchmark_applies_model_params_to_the_model_it_runs(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    run("benchmark", "--data-dir", str(data_dir), "--dataset", "demo", "--model", "lightgcn", "--seeds", "1",
        "--json", str(out), "--set", "model.params.reg_weight=0.5", *QUICK)  # fmt: skip
    assert json.loads(out.read_text())["config"]["params"] == {"reg_weight": 0.5}


def test_a_parameter_the_model_does_not_take_is_an_error_naming_it(data_dir: Path) -> None:
    result = runner.invoke(app, ["benchmark", "--data-dir", str(data_dir), "--dataset", "demo", "--model", "pop",
                                 "--set", "model.params.reg_weight=0.5"])  # fmt: skip
    assert result.exit_code == 2 and "model 'pop' got invalid parameters: reg_weight: unknown key" in result.output


def test_benchmark_reads_dataset_and_model_from_a_config_file(data_dir: Path, tmp_path: Path) -> None:
    experiment = tmp_path / "exp.toml"
    experiment.write_text(f'[data]\ndir = "{data_dir}"\ndataset = "demo"\n\n[model]\nname = "pop"\n')
    out = tmp_path / "r.json"
    run("benchmark", "-c", str(experiment), "--seeds", "1", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["model"] == "pop" and result["dataset"] == "demo"


def test_benchmark_encodes_content_like_train(data_dir: Path, tmp_path: Path) -> None:
    experiment = tmp_path / "exp.toml"
    experiment.write_text(
        f'[data]\ndir = "{data_dir}"\ndataset = "plain"\n\n[model]\nname = "content-knn"\n\n'
        '[[encoders]]\nmodality = "text"\nname = "tfidf"\ntemplate = "{title} | {genres} | {overview}"\n'
    )
    out = tmp_path / "r.json"
    run("benchmark", "-c", str(experiment), "--seeds", "1", "--json", str(out), "--out-dir", str(tmp_path / "runs"))
    result = json.loads(out.read_text())
    assert result["metrics"]["recall@20"]["mean"] > 0
    experiment_json = json.loads((tmp_path / "runs" / "plain" / "content-knn" / "experiment.json").read_text())
    assert [spec["modality"] for spec in experiment_json["encoders"]] == ["text"]


def test_a_content_model_without_content_is_an_error_naming_the_fix(data_dir: Path) -> None:
    result = runner.invoke(app, ["benchmark", "--data-dir", str(data_dir), "--dataset", "bare", "--model",
                                 "fusiongraph", "--seeds", "1"])  # fmt: skip
    assert result.exit_code == 2
    assert "reads item content" in result.output and "lightgcn" in result.output


def test_benchmark_encodes_an_item_tables_text_for_the_flagship_without_being_told(
    data_dir: Path, tmp_path: Path
) -> None:
    run("benchmark", "--data-dir", str(data_dir), "--dataset", "plain", "--model", "fusiongraph", "--seeds", "1",
        "--out-dir", str(tmp_path / "runs"), *QUICK)  # fmt: skip
    experiment = json.loads((tmp_path / "runs" / "plain" / "fusiongraph" / "experiment.json").read_text())
    assert [spec["modality"] for spec in experiment["encoders"]] == ["text"]  # never a silent ID-only run


def test_without_model_or_recipe_the_settings_are_chosen_on_valid(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    run("benchmark", "--data-dir", str(data_dir), "--dataset", "demo", "--seeds", "1", "--json", str(out),
        "--out-dir", str(tmp_path / "runs"), "--set", "train.epochs=2", "--set", "train.threads=1")  # fmt: skip
    auto = json.loads((tmp_path / "runs" / "demo" / "auto" / "auto.json").read_text())
    chosen = auto["chosen"]["model"]
    assert json.loads(out.read_text())["model"] == chosen
    assert {t["model"] for t in auto["trials"]} >= {"fusiongraph", "ease", "itemknn"}


def test_a_cold_split_written_by_the_cli_reads_back_as_cold(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    rows = [f"u{u},i{(u * 7 + k) % 30},{1 + (u + k) % 5},{1000 + k}" for u in range(40) for k in range(8)]
    ratings.write_text("user_id,item_id,rating,timestamp\n" + "\n".join(rows) + "\n")
    run("split", str(ratings), "--out", str(tmp_path / "out"), "--kind", "cold", "--name", "mine")
    assert read_mmrec(tmp_path / "out", name="mine").protocol == "cold"


def test_train_reports_what_benchmark_reports(data_dir: Path, tmp_path: Path) -> None:
    output = run("train", "--data-dir", str(data_dir), "--dataset", "demo", "--model", "bpr",
                 "--out-dir", str(tmp_path / "run"), *QUICK)  # fmt: skip
    for column in ("best epoch", "stop", "s/epoch", "peak MB", "recall@20"):
        assert column in output
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["timing"]["stop_reason"] == "epochs" and result["model"] == "bpr"


def test_raw_catalog_columns_threshold_and_unknown_items_are_options(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    rows = [f"u{u},i{(u * 7 + k) % 30},{1 + (u + k) % 5}" for u in range(40) for k in range(8)]
    ratings.write_text("uid,mid,stars\n" + "\n".join([*rows, "u1,ghost,5"]) + "\n")
    items = tmp_path / "items.csv"
    items.write_text("mid,title\n" + "\n".join(f"i{i},Film {i}" for i in range(30)) + "\n")
    args = ["train", "--interactions", str(ratings), "--items", str(items), "--model", "pop",
            "--column", "user=uid", "--column", "item=mid", "--column", "rating=stars", "--min-rating", "3",
            "--out-dir", str(tmp_path / "run")]  # fmt: skip
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "ghost" in refused.output
    run(*args, "--unknown-items", "drop")
    assert json.loads((tmp_path / "run" / "result.json").read_text())["model"] == "pop"


def test_compare_tests_two_results_and_plots_the_difference(data_dir: Path, tmp_path: Path) -> None:
    for model in ("pop", "itemknn"):
        run("benchmark", "--data-dir", str(data_dir), "--dataset", "demo", "--model", model, "--seeds", "2",
            "--out-dir", str(tmp_path / "runs"))  # fmt: skip
    a, b = tmp_path / "runs" / "demo" / "itemknn", tmp_path / "runs" / "demo" / "pop"
    output = run("compare", str(a), str(b), "--json", str(tmp_path / "tests.json"))
    assert "t-test p" in output and "Wilcoxon p" in output
    tests = json.loads((tmp_path / "tests.json").read_text())
    assert {t["metric"] for t in tests} >= {"recall@20", "ndcg@20"}
    assert (a / "compare-pop.png").read_bytes().startswith(b"\x89PNG")


def test_compare_refuses_a_folder_without_per_user_values(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2 and "holds no per-user values" in result.output


def test_ablation_runs_each_variant_with_the_same_settings(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ablation"
    output = run("ablation", "--data-dir", str(data_dir), "--dataset", "demo", "--seeds", "1", "--variant",
                 "behaviour only", "--out-dir", str(out), *QUICK)  # fmt: skip
    rows = json.loads((out / "ablation.json").read_text())
    assert [r["model"] for r in rows] == ["all", "behaviour only"] and "behaviour only" in output
    assert (out / "ablation.png").is_file() and (out / "ablation.md").is_file()


def test_tune_searches_on_valid_resumes_and_writes_a_runnable_experiment(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    args = ["tune", "--data-dir", str(data_dir), "--dataset", "demo", "--model", "ease", "--out-dir", str(out)]
    run(*args, "--trials", "2")
    first = json.loads((out / "tune.json").read_text())
    assert len(first["trials"]) == 2 and first["trials"][0]["params"] == {"l2": 200.0}  # the defaults come first
    run(*args, "--trials", "3")  # resumed: one more trial
    assert len(json.loads((out / "tune.json").read_text())["trials"]) == 3
    run("train", "-c", str(out / "best.toml"), "--out-dir", str(tmp_path / "run"))
    assert json.loads((tmp_path / "run" / "result.json").read_text())["model"] == "ease"


def test_check_compares_auto_with_tuned_baselines(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "check"
    output = run("check", str(data_dir / "demo"), "--seeds", "1", "--trials", "2", "--baseline", "ease",
                 "--baseline", "pop", "--out-dir", str(out), *QUICK)  # fmt: skip
    assert "auto" in output and "best baseline" in output
    report = json.loads((out / "check.json").read_text())
    assert [r["model"] for r in report["results"]] == ["ease", "pop", "auto"]
    assert {t["metric"] for t in report["tests"]["ease"]} == {"recall@20", "ndcg@20"}
    assert (out / "report.md").is_file() and (out / "check.png").is_file()


@pytest.mark.parametrize("name", recipe_names())
def test_every_recipe_round_trips_through_an_experiment_file(name: str, tmp_path: Path) -> None:
    from fusionrec.config import dump_toml

    config = load_config(None, None, recipe=name)
    loaded = load_config(dump_toml(config, tmp_path / "exp.toml"))
    assert loaded == config and loaded.train.model_fields_set == config.train.model_fields_set


def test_tune_workers_share_one_study_with_the_same_settings(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    run("tune", "--data-dir", str(data_dir), "--dataset", "demo", "--model", "ease", "--out-dir", str(out),
        "--trials", "3", "--workers", "2")  # fmt: skip
    study = json.loads((out / "tune.json").read_text())
    assert len(study["trials"]) >= 3 and all(t["state"] == "COMPLETE" for t in study["trials"])
    assert "lr" not in study["best"]["train"]  # a worker's unset settings stay unset (the model's defaults apply)
