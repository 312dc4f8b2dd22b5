"""The benchmark runner: result contract, seeds, timings, saved files, dataset resolution."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np
import pytest

from fusionrec.config import load_config
from fusionrec.data import write_mmrec
from fusionrec.errors import ConfigError, DataFileError
from fusionrec.evaluation.benchmark import (
    load_split,
    resolve_dataset,
    run_benchmark,
    run_benchmark_grid,
    run_experiment,
)
from fusionrec.evaluation.beyond import BEYOND_METRICS
from fusionrec.evaluation.metrics import METRICS
from fusionrec.evaluation.ranking import Evaluation
from fusionrec.evaluation.significance import compare_files

KS = (5, 10)
QUIET_TRAIN = {
    "epochs": 6,
    "patience": 2,
    "batch_size": 64,
    "lr": 0.05,
    "valid_metric": "recall@10",
    "progress": False,
    "threads": 1,
}


def test_result_contract_for_a_non_torch_model(warm_split, noisy_popularity, tmp_path):
    result = run_benchmark(None, "tiny", noisy_popularity, seeds=[0, 1, 2], ks=KS, out_dir=tmp_path, split=warm_split)
    assert {"dataset", "model", "protocol", "seeds", "metrics", "valid", "timing", "config", "per_seed"} <= set(result)
    assert (result["dataset"], result["model"], result["protocol"], result["seeds"]) == (
        "tiny",
        "noisy_pop",
        "warm",
        [0, 1, 2],
    )
    assert set(result["metrics"]) == {f"{m}@{k}" for m in METRICS for k in KS}
    assert set(result["valid"]) == set(result["metrics"])
    per_seed = [run["test"]["recall@10"] for run in result["per_seed"]]
    assert result["metrics"]["recall@10"]["mean"] == pytest.approx(np.mean(per_seed))
    assert result["metrics"]["recall@10"]["std"] == pytest.approx(np.std(per_seed, ddof=1))
    timing = result["timing"]
    assert {"seconds_per_epoch", "epochs", "train_seconds", "eval_seconds", "peak_rss_mb"} <= set(timing)
    assert timing["epochs"] == 0 and timing["epochs_run"] == 0
    assert timing["train_seconds"] >= 0 and timing["eval_seconds"] > 0 and timing["peak_rss_mb"] > 0
    assert result["n_users"]["test"] == len(warm_split.test.users())
    json.dumps(result)  # JSON-ready


def test_beyond_values_sit_beside_the_metrics_for_test_valid_and_each_seed(warm_split, noisy_popularity, tiny_mf):
    result = run_benchmark(None, "tiny", noisy_popularity, seeds=[0, 1], ks=KS, split=warm_split)
    beyond = result["beyond"]
    names = {f"{m}@{k}" for m in BEYOND_METRICS if m != "ild" for k in KS}  # no content, no item vectors
    assert set(beyond["metrics"]) == names and set(beyond["valid"]) == names
    assert beyond["item_vectors"].startswith("none:")
    seeds = [run["beyond"]["test"]["gini@10"] for run in result["per_seed"]]
    assert beyond["metrics"]["gini@10"]["mean"] == pytest.approx(np.mean(seeds))
    assert beyond["metrics"]["gini@10"]["std"] == pytest.approx(np.std(seeds, ddof=1))
    assert set(result["metrics"]) == {f"{m}@{k}" for m in METRICS for k in KS}  # the accuracy keys are unchanged
    torch_run = run_benchmark(None, "tiny", tiny_mf, seeds=[0], ks=KS, split=warm_split, train=QUIET_TRAIN)
    assert "ild@10" in torch_run["beyond"]["metrics"] and torch_run["beyond"]["item_vectors"].startswith("model")
    json.dumps(result)


def test_seeds_reach_the_model_and_repeat_exactly(warm_split, noisy_popularity):
    first = run_benchmark(None, "tiny", noisy_popularity, seeds=[0, 1], ks=KS, split=warm_split)
    again = run_benchmark(None, "tiny", noisy_popularity, seeds=[0], ks=KS, split=warm_split)
    assert first["per_seed"][0]["test"] == again["per_seed"][0]["test"]
    assert first["per_seed"][0]["valid"] != first["per_seed"][1]["valid"]  # another seed, other noise
    assert again["metrics"]["ndcg@10"]["std"] == 0.0


def test_torch_model_stops_on_valid_and_reports_epochs(warm_split, tiny_mf):
    result = run_benchmark(None, "tiny", tiny_mf, seeds=[3], ks=KS, split=warm_split, train=QUIET_TRAIN)
    timing, run = result["timing"], result["per_seed"][0]
    assert 1 <= timing["epochs"] <= timing["epochs_run"] <= QUIET_TRAIN["epochs"]
    assert timing["seconds_per_epoch"] > 0 and timing["train_seconds"] > 0
    assert result["config"]["train"]["lr"] == QUIET_TRAIN["lr"]
    assert run["best_valid"] == pytest.approx(
        run["valid"]["recall@20"] if "recall@20" in run["valid"] else run["best_valid"]
    )
    repeat = run_benchmark(None, "tiny", tiny_mf, seeds=[3], ks=KS, split=warm_split, train=QUIET_TRAIN)
    assert repeat["metrics"] == result["metrics"]


def test_per_user_values_and_config_are_saved_for_significance(warm_split, noisy_popularity, tiny_mf, tmp_path):
    run_benchmark(None, "tiny", noisy_popularity, seeds=[0, 1], ks=KS, out_dir=tmp_path / "pop", split=warm_split)
    saved = Evaluation.load(tmp_path / "pop" / "tiny_noisy_pop_seed1_test.npz")
    np.testing.assert_array_equal(saved.users, warm_split.test.users())
    config = json.loads((tmp_path / "pop" / "config.json").read_text())
    assert config["seeds"] == [0, 1] and config["ks"] == list(KS) and config["model"] == "noisy_pop"
    assert json.loads((tmp_path / "pop" / "result.json").read_text())["model"] == "noisy_pop"
    run_benchmark(None, "tiny", tiny_mf, seeds=[0], ks=KS, out_dir=tmp_path / "mf", split=warm_split, train=QUIET_TRAIN)
    tests = compare_files(
        sorted((tmp_path / "pop").glob("*_test.npz")), tmp_path / "mf" / "tiny_tiny_mf_seed0_test.npz"
    )
    assert tests[0].n_users == len(saved.users)


def test_bad_settings_raise_config_error(warm_split, noisy_popularity, tiny_mf):
    with pytest.raises(ConfigError, match="seeds is empty"):
        run_benchmark(None, "tiny", noisy_popularity, seeds=[], split=warm_split)
    with pytest.raises(ConfigError, match=r"train\.lr: got -1"):
        run_benchmark(None, "tiny", tiny_mf, split=warm_split, train={"lr": -1})
    with pytest.raises(ConfigError, match="rejected parameters"):
        run_benchmark(None, "tiny", noisy_popularity, split=warm_split, params={"depth": 3})
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        run_benchmark(None, "tiny", "nope", split=warm_split)


@pytest.fixture
def data_folder(tmp_path, make_split):
    """Two MMRec datasets: warm/ (warm.inter) and family/ holding family.inter and family-cold.inter."""
    write_mmrec(make_split(seed=1), tmp_path / "warm", name="warm")
    write_mmrec(make_split(seed=2), tmp_path / "family", name="family")
    write_mmrec(make_split(seed=3, protocol="cold", per_user=10), tmp_path / "family", name="family-cold")
    return tmp_path


def test_datasets_resolve_to_folders_or_inter_stems(data_folder):
    assert resolve_dataset(data_folder, "warm") == (data_folder / "warm", "warm")
    assert resolve_dataset(data_folder, "family-cold") == (data_folder / "family", "family-cold")
    assert load_split(data_folder, "family-cold").protocol == "cold"
    assert load_split(data_folder, "family-cold", protocol="warm").protocol == "warm"
    with pytest.raises(DataFileError, match=r"no dataset 'baby'.*available: \['family', 'family-cold', 'warm'\]"):
        resolve_dataset(data_folder, "baby")


def test_grid_runs_every_model_on_every_dataset(data_folder, noisy_popularity, tiny_mf, tmp_path):
    results = run_benchmark_grid(
        data_folder,
        ["warm", "family-cold"],
        [noisy_popularity, tiny_mf],
        seeds=[0],
        params={"noisy_pop": {"noise": 0.1}},
        train=QUIET_TRAIN,
        ks=KS,
        out_dir=tmp_path / "runs",
    )
    assert [(r["dataset"], r["model"], r["protocol"]) for r in results] == [
        ("warm", "noisy_pop", "warm"),
        ("warm", "tiny_mf", "warm"),
        ("family-cold", "noisy_pop", "cold"),
        ("family-cold", "tiny_mf", "cold"),
    ]
    assert results[0]["config"]["params"] == {"noise": 0.1}
    assert results[1]["config"]["params"] == {}
    assert (tmp_path / "runs" / "family-cold" / "tiny_mf" / "family-cold_tiny_mf_seed0_test.npz").is_file()


def test_run_experiment_from_a_config(data_folder, tmp_path):
    config = load_config(
        None,
        {
            "data.dir": f'"{data_folder}"',
            "data.dataset": "warm",
            "model.name": "pop",
            "seeds": "[0]",
            "evaluation.ks": "[5, 10]",
            "output.dir": f'"{tmp_path / "out"}"',
        },
    )
    result = run_experiment(config)
    assert result["model"] == "pop" and result["dataset"] == "warm"
    assert set(result["metrics"]) == {f"{m}@{k}" for m in METRICS for k in KS}
    assert load_config(tmp_path / "out" / "experiment.json", {}) == config


@pytest.mark.realdata
def test_cold_ml100k_resolves_inside_its_catalog_folder(data_dir):
    folder, stem = resolve_dataset(data_dir, "ml100k-mm-cold")
    assert (folder.name, stem) == ("ml100k-mm", "ml100k-mm-cold")
    result = run_benchmark(data_dir, "ml100k-mm-cold", "pop", seeds=[0], ks=(20,))
    assert result["protocol"] == "cold"
    assert result["n_users"]["test"] > 0
    assert 0.0 <= result["metrics"]["recall@20"]["mean"] <= 1.0


@pytest.mark.parametrize(("kind", "protocol"), [("random", "warm"), ("temporal", "warm"), ("cold", "cold")])
def test_raw_catalog_settings_are_read_and_split(tmp_path, kind, protocol):
    import pandas as pd

    from fusionrec.config import DataSettings
    from fusionrec.evaluation.benchmark import split_from_settings

    rng = np.random.default_rng(0)
    rows = [
        (f"u{u}", f"i{i}", int(rng.integers(1, 6)), 1000 * u + i) for u in range(30) for i in rng.permutation(25)[:10]
    ]
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"]).to_csv(tmp_path / "r.csv", index=False)
    settings = DataSettings.model_validate(
        {"interactions": tmp_path / "r.csv", "min_rating": 2, "split": {"kind": kind, "ratios": [0.6, 0.2, 0.2]}}
    )
    split = split_from_settings(settings)
    kept = sum(1 for row in rows if row[2] >= 2)
    assert len(split.train) + len(split.valid) + len(split.test) == kept
    assert split.protocol == protocol and len(split.test) > 0
    with pytest.raises(ConfigError, match="neither was given"):
        split_from_settings(DataSettings())


def test_model_train_defaults_fill_only_the_keys_left_unset(warm_split, tiny_mf):
    from fusionrec.models.training import TrainConfig

    class PickyMF(tiny_mf):
        train_defaults: ClassVar[dict[str, Any]] = {"batch_size": 32, "lr": 0.02}

    quick = {"epochs": 1, "progress": False, "threads": 1, "valid_metric": "recall@10"}
    used = run_benchmark(None, "tiny", PickyMF, ks=KS, split=warm_split, train=quick)["config"]["train"]
    assert (used["batch_size"], used["lr"], used["epochs"]) == (32, 0.02, 1)
    mine = run_benchmark(None, "tiny", PickyMF, ks=KS, split=warm_split, train={**quick, "batch_size": 16})
    assert mine["config"]["train"]["batch_size"] == 16
    as_config = run_benchmark(None, "tiny", PickyMF, ks=KS, split=warm_split, train=TrainConfig(**quick))
    assert as_config["config"]["train"]["lr"] == 0.02  # fields the TrainConfig did not set stay the model's
    assert as_config["per_seed"][0]["seed"] == 0


@pytest.mark.parametrize(
    ("model", "params", "encoded"),
    [
        ("fusiongraph", {}, True),
        ("bpr", {}, False),
        ("llm-rerank", {"base": "fusiongraph"}, True),
        ("staged", {"base": "bpr"}, False),
    ],
)
def test_content_models_get_the_item_tables_content_encoded_by_default(
    model: str, params: dict[str, Any], encoded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    import fusionrec.evaluation.preparation
    from fusionrec.config import ExperimentConfig
    from fusionrec.evaluation.preparation import attach_encoded_features
    from fusionrec.testing.datasets import checkerboard_split

    split = checkerboard_split()
    split.dataset.features.clear()  # raw content only, as in a catalog that was never encoded
    split.dataset.feature_masks.clear()
    titles = [f"film {i}" for i in range(split.n_items)]
    split.dataset.item_table = pd.DataFrame({"title": titles, "overview": ["a story"] * split.n_items})
    calls: list[list[Any]] = []
    monkeypatch.setattr(
        fusionrec.evaluation.preparation, "encode_dataset", lambda dataset, specs: calls.append(specs) or _Report()
    )
    config = ExperimentConfig.model_validate({"model": {"name": model, "params": params}})
    specs = attach_encoded_features(split, config)
    assert bool(calls) is encoded
    assert [s.modality for s in specs] == (["text"] if encoded else [])


class _Report:
    def to_text(self) -> str:
        return ""


def test_a_wrapper_of_a_content_model_without_content_is_refused_and_its_base_may_opt_out() -> None:
    from fusionrec.config import ExperimentConfig
    from fusionrec.errors import ConfigError
    from fusionrec.evaluation.preparation import require_content
    from fusionrec.testing.datasets import checkerboard_split

    split = checkerboard_split()
    split.dataset.features.clear()
    split.dataset.feature_masks.clear()

    def config(params: dict[str, Any]) -> ExperimentConfig:
        return ExperimentConfig.model_validate({"model": {"name": "llm-rerank", "params": params}})

    with pytest.raises(ConfigError, match="reads item content"):
        require_content(split, config({"base": "fusiongraph"}))
    require_content(split, config({"base": "fusiongraph", "base_params": {"modalities": []}}))
    require_content(split, config({"base": "ease"}))
