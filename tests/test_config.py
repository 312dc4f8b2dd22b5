"""Experiment configuration: defaults < file < overrides, strict keys, clear errors, round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionrec.config import (
    DATA_ENV,
    DataSettings,
    ExperimentConfig,
    dump_config,
    load_config,
    parse_value,
)
from fusionrec.errors import ConfigError
from fusionrec.models.training import TrainConfig

EXPERIMENT = """
seeds = [0, 1, 2]

[data]
dir = "/data/bench"
dataset = "baby"
protocol = "warm"

[model]
name = "lightgcn"
params = { n_layers = 2, embedding_dim = 32 }

[train]
lr = 0.005
epochs = 40

[evaluation]
ks = [10, 20]
valid_metric = "ndcg@20"

[output]
dir = "runs/baby"
"""


@pytest.fixture
def experiment_file(tmp_path: Path) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(EXPERIMENT)
    return path


@pytest.fixture(autouse=True)
def no_data_env(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)


def test_defaults_without_file_or_overrides():
    config = load_config(None, {})
    assert config == ExperimentConfig()
    assert config.seeds == [0]
    assert config.train == TrainConfig()
    assert config.evaluation.ks == (10, 20, 50)
    assert config.data.dir is None


def test_file_values_override_defaults(experiment_file):
    config = load_config(experiment_file, {})
    assert config.seeds == [0, 1, 2]
    assert config.data.dataset == "baby"
    assert config.data.dir == Path("/data/bench")
    assert config.model.name == "lightgcn"
    assert config.model.params == {"n_layers": 2, "embedding_dim": 32}
    assert config.train.lr == 0.005
    assert config.train.epochs == 40
    assert config.train.batch_size == TrainConfig().batch_size  # untouched keys keep their defaults
    assert config.evaluation.ks == (10, 20)
    assert config.output.dir == Path("runs/baby")


def test_overrides_win_over_the_file(experiment_file):
    config = load_config(
        experiment_file,
        {"train.lr": "0.01", "model.params.n_layers": "3", "model.params.reg_weight": "0.5", "seeds": "[7]"},
    )
    assert config.train.lr == 0.01
    assert config.model.params == {"n_layers": 3, "embedding_dim": 32, "reg_weight": 0.5}
    assert config.seeds == [7]
    assert config.train.epochs == 40  # from the file


def test_override_values_are_parsed_as_toml():
    assert parse_value("3") == 3
    assert parse_value("0.5") == 0.5
    assert parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value('"3"') == "3"
    assert parse_value("bpr") == "bpr"  # not TOML: kept as text
    assert load_config(None, {"model.name": "pop"}).model.name == "pop"


def test_the_train_section_is_the_models_train_config(experiment_file):
    config = load_config(experiment_file, {})
    assert isinstance(config.train, TrainConfig)
    assert set(config.train.model_dump()) == set(TrainConfig.model_fields)


def test_valid_metric_is_shared_by_evaluation_and_train(experiment_file):
    assert load_config(experiment_file, {}).train.valid_metric == "ndcg@20"
    assert load_config(None, {"train.valid_metric": "mrr@10"}).evaluation.valid_metric == "mrr@10"
    with pytest.raises(ConfigError, match=r"evaluation\.valid_metric is 'ndcg@20' but train\.valid_metric is 'hr@10'"):
        load_config(experiment_file, {"train.valid_metric": "hr@10"})


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"train.lrr": "0.1"}, r"train\.lrr \(override\): unknown key; allowed keys here: average_decay, .*lr"),
        (
            {"typo": "1"},
            r"typo \(override\): unknown key; allowed keys here: data, description, encoders, evaluation, "
            r"item_profiles, model",
        ),
        ({"data.split.kinds": "1"}, r"data\.split\.kinds .*allowed keys here: kind, min_interactions, ratios, seed"),
        ({"train.lr": "fast"}, r"train\.lr \(override\): got 'fast'; Input should be a valid number"),
        ({"train.epochs": "0"}, r"train\.epochs \(override\): got 0; Input should be greater than or equal to 1"),
        (
            {"model.name": "bprr"},
            r"model\.name \(override\): got 'bprr'; expected 'auto' or a registered model name.*'bpr'",
        ),
        ({"evaluation.valid_metric": "recal@20"}, r"got 'recal@20'; expected '<metric>@<k>'"),
        ({"evaluation.ks": "[0, 10]"}, r"evaluation\.ks .*got \[0, 10\]; expected a non-empty list of positive"),
        ({"evaluation.metrics": '["auc"]'}, r"got \['auc'\]; expected a non-empty list of metric names"),
        ({"seeds": "[1, 1]"}, r"seeds \(override\): got \[1, 1\]; expected a non-empty list of distinct"),
        ({"data.protocol": "lukewarm"}, r"data\.protocol \(override\): got 'lukewarm'; Input should be 'warm' or"),
        ({"data.split.ratios": "[0.5, 0.1, 0.1]"}, r"summing to 1"),
        ({"data.dataset": "baby", "data.interactions": "r.csv"}, r"either dataset .* or interactions"),
        (
            {"model.name": "ease", "model.params.l3": "5"},
            r"model 'ease' got invalid parameters: l3: unknown key; allowed here: l2, max_items",
        ),
        (
            {"model.name": "ease", "model.params.l2": "-1"},
            r"model 'ease' got invalid parameters: l2: got -1; Input should be greater than 0",
        ),
        ({"model.name": "auto", "model.params.l2": "5"}, r"model.params \['l2'\] were given with model.name = 'auto'"),
    ],
)
def test_invalid_values_name_key_value_and_expectation(override, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(None, override)


def test_errors_from_the_file_name_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nlr = -1\n")
    with pytest.raises(ConfigError, match=rf"train\.lr \(from {path}\): got -1; Input should be greater than 0"):
        load_config(path, {})


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError, match=r"\(2 problems\)") as caught:
        load_config(None, {"train.lr": "x", "train.batch": "1"})
    assert "train.lr" in str(caught.value) and "train.batch" in str(caught.value)


def test_override_into_a_value_is_refused():
    with pytest.raises(ConfigError, match=r"override 'seeds.first': seeds is a value"):
        load_config(None, {"seeds": "[1]", "seeds.first": "1"})
    with pytest.raises(ConfigError, match="malformed"):
        load_config(None, {"train..lr": "1"})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", {})
    broken = tmp_path / "broken.toml"
    broken.write_text("[train\nlr = 1\n")
    with pytest.raises(ConfigError, match=r"broken\.toml is not valid TOML"):
        load_config(broken, {})


def test_data_dir_falls_back_to_the_environment(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match=DATA_ENV):
        DataSettings().resolved_dir()
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert DataSettings().resolved_dir() == tmp_path
    assert load_config(None, {}).data.dir == tmp_path
    assert load_config(None, {"data.dir": '"/elsewhere"'}).data.dir == Path("/elsewhere")


def test_dump_then_load_gives_the_same_config(experiment_file, tmp_path):
    config = load_config(experiment_file, {"model.params.n_layers": "4"})
    path = dump_config(config, tmp_path / "out" / "config.json")
    assert json.loads(path.read_text())["model"]["params"]["n_layers"] == 4
    assert load_config(path, {}) == config


def test_raw_catalog_section(tmp_path):
    config = load_config(
        None,
        {
            "data.interactions": f'"{tmp_path / "ratings.csv"}"',
            "data.items": f'"{tmp_path / "items.csv"}"',
            "data.min_rating": "4",
            "data.columns.item": "movie_id",
            "data.split.kind": "cold",
            "data.split.ratios": "[0.7, 0.1, 0.2]",
            "data.split.seed": "3",
        },
    )
    assert config.data.interactions == tmp_path / "ratings.csv"
    assert config.data.min_rating == 4.0
    assert config.data.columns.item == "movie_id"
    assert (config.data.split.kind, config.data.split.ratios, config.data.split.seed) == ("cold", (0.7, 0.1, 0.2), 3)
