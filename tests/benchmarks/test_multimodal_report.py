"""benchmarks/multimodal.py and ablation.py: per-model result folders, the report, its paired tests, reuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fusionrec.recipes import recipe_settings
from fusionrec.testing.datasets import checkerboard_split
from tests.benchmarks import benchmark_module

QUICK = {"train": {"epochs": 5, "patience": 2}}


@pytest.fixture(scope="module")
def multimodal() -> Any:
    return benchmark_module("multimodal")


@pytest.fixture(scope="module")
def results(multimodal: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    out = tmp_path_factory.mktemp("multimodal")
    split = checkerboard_split()
    patch = pytest.MonkeyPatch()
    patch.setattr(multimodal, "load_dataset", lambda data_dir, dataset: split)
    patch.setattr(multimodal, "recipe_settings", lambda dataset, model: QUICK)
    try:
        runs = [
            multimodal.run_one(out, "tiny", model, 2, out, 1, {})
            for model in (multimodal.FLAGSHIP, "freedom", "lightgcn", "pop")
        ]
    finally:
        patch.undo()
    return runs, out


def test_each_model_writes_a_result_with_seeds_timings_and_memory(results: Any) -> None:
    runs, out = results
    stored = json.loads((out / "tiny" / "fusiongraph" / "result.json").read_text())
    assert stored["seeds"] == [0, 1] and stored["model"] == "fusiongraph"
    for run in runs:
        assert {"seconds_per_epoch", "epochs", "train_seconds", "peak_rss_mb"} <= set(run["timing"])
        assert 0.0 <= run["metrics"]["recall@20"]["mean"] <= 1.0


def test_report_tests_the_flagship_against_the_strongest_model_and_the_strongest_id_model(
    multimodal: Any, results: Any
) -> None:
    runs, out = results
    multimodal.write_report(runs, out, ["tiny"])
    report = (out / "report.md").read_text()
    for model in ("fusiongraph", "freedom", "lightgcn", "pop"):
        assert f"| {model} |" in report
    id_rival = max(
        (r for r in runs if r["model"] in ("lightgcn", "pop")), key=lambda r: r["valid"]["recall@20"]["mean"]
    )
    assert f"vs {id_rival['model']} (" in report and "strongest ID-only model on valid)" in report
    assert "strongest other model" in report and "paired t p =" in report
    assert report.count("Paired tests") == (1 if "strongest other model and strongest ID-only" in report else 2)
    assert (out / "recall_ndcg.png").stat().st_size > 0
    assert report.count("Machine: ") == 1 and "training product, torch" in report


def test_report_gives_every_models_beyond_accuracy_values(multimodal: Any, results: Any) -> None:
    runs, out = results
    multimodal.write_report(runs, out, ["tiny"])
    report = (out / "report.md").read_text()
    table = report[report.index("Beyond accuracy") :].splitlines()
    assert table[2].startswith("| dataset | model | coverage@20 | gini@20 | popularity@20 | novelty@20 | ild@20 |")
    for run in runs:
        assert 0.0 < run["beyond"]["metrics"]["coverage@20"]["mean"] <= 1.0
        assert run["beyond"]["item_vectors"].startswith("content: image+text")  # the checkerboard's features
        assert any(line.startswith(f"| tiny | {run['model']} | ") and "–" not in line for line in table)
    stored = json.loads((out / "results.json").read_text())
    assert all("ild@20" in r["beyond"]["metrics"] for r in stored)


def test_report_warns_when_results_come_from_more_than_one_kind_of_machine(multimodal: Any, results: Any) -> None:
    runs, _ = results
    other = {**runs[0], "machine": {**runs[0]["machine"], "cpu": "another CPU"}}
    lines = multimodal.machine_lines([runs[0], other])
    assert lines[0].startswith("These results ran on more than one kind of machine")
    assert sum(line.startswith("Machine: ") for line in lines) == 2


def test_stored_results_are_read_back_and_a_missing_one_is_named(multimodal: Any, results: Any) -> None:
    runs, out = results
    assert multimodal._stored(out, "tiny", "pop") == json.loads(json.dumps(runs[-1], default=str))
    with pytest.raises(SystemExit, match="vbpr"):
        multimodal._stored(out, "tiny", "vbpr")


def test_ablation_reuses_the_benchmarks_flagship_run_only_for_the_same_seeds(multimodal: Any, results: Any) -> None:
    _, out = results
    ablation = benchmark_module("ablation")
    assert ablation.reused_full_run(out, "tiny", 2)["model"] == "fusiongraph"
    assert ablation.reused_full_run(out, "tiny", 3) is None
    assert ablation.reused_full_run(None, "tiny", 2) is None


def test_ablation_does_not_reuse_a_run_from_another_kind_of_machine(multimodal: Any, results: Any) -> None:
    _, out = results
    ablation = benchmark_module("ablation")
    recorded = json.loads((out / "tiny" / "fusiongraph" / "result.json").read_text())["machine"]
    assert ablation.reused_full_run(out, "tiny", 2, machine=recorded) is not None
    other = {**recorded, "bf16_product": not recorded["bf16_product"]}
    assert ablation.reused_full_run(out, "tiny", 2, machine=other) is None


def test_ablation_report_gives_each_variant_its_change_against_all(tmp_path: Path) -> None:
    ablation = benchmark_module("ablation")

    def row(dataset: str, variant: str, recall: float, modalities: list[str]) -> dict[str, Any]:
        metrics = {"recall@20": {"mean": recall, "std": 0.001}, "ndcg@20": {"mean": recall / 2, "std": 0.001}}
        return {"dataset": dataset, "model": variant, "metrics": metrics, "valid": metrics, "modalities": modalities}

    results = [
        row("a", "all", 0.30, ["image", "text"]),
        row("a", "-image", 0.28, ["text"]),
        row("b", "all", 0.10, ["audio"]),
        row("b", "behaviour only", 0.11, []),
    ]
    ablation.write_ablation(results, tmp_path)
    table = (tmp_path / "ablation.md").read_text()
    assert "| a | -image | text |" in table and "| -0.0200 | -0.0100 |" in table
    assert "| b | behaviour only | none |" in table and "| +0.0100 | +0.0050 |" in table
    assert "Machine: " not in table  # these rows record no machine
    assert (tmp_path / "ablation.png").stat().st_size > 0


def test_ablation_removes_each_modality_and_the_channels_only_where_the_flagship_uses_them() -> None:
    ablation = benchmark_module("ablation")
    split = checkerboard_split()
    modalities = split.dataset.modalities
    labels = [label for label, _, _ in ablation.variants(split, channel=False)]
    assert labels == ["all", *[f"-{m}" for m in modalities], "content only", "behaviour only"]
    with_channels = {label: params for label, _, params in ablation.variants(split, channel=True, ease=True)}
    assert with_channels["no content channel"] == {"content_channel": {"weight": 0.0}}
    assert with_channels["no EASE channel"] == {"ease_channel": {"weight": 0.0}}
    content_only = {"core": {"item_ids": False, "unit_layer0": False}, "ease_channel": {"weight": 0.0}}
    assert with_channels["content only"] == content_only  # EASE reads item identities; unit_layer0 needs IDs
    assert ablation._uses_channel("tiktok") and not ablation._uses_channel("ml100k-mm")
    assert ablation._uses_ease("tiktok") and not ablation._uses_ease("ml100k-mm")
    staged = {label: params for label, _, params in ablation.variants(split, stage=True)}
    assert staged["no second stage"] == {"second_stage": False} and "no second stage" not in with_channels
    assert ablation._uses_second_stage("tiktok") and not ablation._uses_second_stage("ml100k-mm")


def test_command_line_settings_are_json_where_they_parse_and_strings_elsewhere() -> None:
    startup = benchmark_module("startup")
    parsed = startup.settings(["patience=15", "lr=1e-3", "fusion=gated", 'modalities=["audio"]', "bf16_scores=false"])
    assert parsed == {"patience": 15, "lr": 1e-3, "fusion": "gated", "modalities": ["audio"], "bf16_scores": False}


def test_ablation_training_overrides_apply_over_the_tuned_schedule() -> None:
    ablation = benchmark_module("ablation")
    tuned = ablation.training_settings("tiktok", 1, [])
    assert tuned["patience"] == recipe_settings("tiktok", "fusiongraph")["train"]["patience"]
    changed = ablation.training_settings("tiktok", 1, ["patience=15"])
    assert changed == {**tuned, "patience": 15}
    assert ablation.training_settings("ml100k-mm", 2, []) == {"progress": False, "threads": 2}


def test_ablation_run_over_some_datasets_keeps_the_rows_of_the_others(tmp_path: Path) -> None:
    ablation = benchmark_module("ablation")
    assert ablation.kept_rows(tmp_path, ["a"]) == []
    rows = [{"dataset": "a", "model": "all"}, {"dataset": "b", "model": "all"}, {"dataset": "b", "model": "-x"}]
    (tmp_path / "ablation.json").write_text(json.dumps(rows))
    assert ablation.kept_rows(tmp_path, ["a"]) == rows[1:]
    assert ablation.kept_rows(tmp_path, ["a", "b"]) == []


def test_each_dataset_is_prepared_in_its_own_process_before_any_model_runs(
    multimodal: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[str, ...]] = []

    def record(command: list[str], check: bool) -> None:
        calls.append(("prepare", command[command.index("--prepare") + 1]) if "--prepare" in command else ("run",))

    monkeypatch.setattr(multimodal.subprocess, "run", record)
    monkeypatch.setattr(multimodal, "_in_subprocess", lambda data_dir, dataset, model, args: calls.append(("run",)))
    monkeypatch.setattr(multimodal, "write_report", lambda results, out, datasets: (out / "report.md").write_text(""))
    argv = ["multimodal.py", "--data-dir", str(tmp_path), "--out", str(tmp_path), "--datasets", "ml100k-mm"]
    monkeypatch.setattr(multimodal.sys, "argv", [*argv, "--models", "pop", "bpr"])
    assert multimodal.main() == 0
    assert calls == [("prepare", "ml100k-mm"), ("run",), ("run",)]
