"""Every registered model's typed config refuses unknown keys and bad values, naming the key, before data is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.config import load_config
from fusionrec.errors import ConfigError
from fusionrec.models import MODEL_REGISTRY, build_model, canonical_params, check_model_params, model_class
from fusionrec.models.base import Recommender
from fusionrec.models.model_config import config_of

BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "random": ({"seed": -1}, r"seed: got -1; Input should be greater than or equal to 0"),
    "itemknn": ({"k": 0}, r"k: got 0; Input should be greater than or equal to 1"),
    "ease": ({"l2": 0.0}, r"l2: got 0.0; Input should be greater than 0"),
    "bpr": ({"embedding_dim": 0}, r"embedding_dim: got 0"),
    "lightgcn": ({"n_layers": -1}, r"n_layers: got -1"),
    "vbpr": ({"reg_weight": -1.0}, r"reg_weight: got -1.0"),
    "freedom": ({"edge_dropout": 1.0}, r"edge_dropout: got 1.0; Input should be less than 1"),
    "bm3": ({"dropout": 1.5}, r"dropout: got 1.5"),
    "fusiongraph": ({"core": {"embedding_dim": 0}}, r"core.embedding_dim: got 0"),
    "staged": ({"base": "pop", "candidates": 1}, r"candidates: got 1"),
    "ease-channel": ({"base": "pop", "l2": 0.0}, r"l2: got 0.0"),
    "content-channel": ({"base": "pop", "prior": -1.0}, r"prior: got -1.0"),
    "llm-rerank": ({"base": "pop", "repeats": 0}, r"repeats: got 0"),
    "ensemble": ({"base": "bpr", "count": 1}, r"count: got 1"),
    "pop": ({"seed": 1}, r"seed: unknown key; allowed here: none"),  # no settings at all
    "content-knn": ({"k": 5}, r"k: unknown key; allowed here: none"),
}
"""A value each model refuses and the start of the message naming it (models with no settings: any key)."""


def test_every_registered_model_declares_its_own_config() -> None:
    undeclared = [name for name in MODEL_REGISTRY if getattr(model_class(name), "config_type", None) is None]
    assert undeclared == []


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_an_unknown_key_is_refused_naming_it_and_the_closest_key(name: str) -> None:
    known = sorted(config_of(model_class(name)).model_fields)
    typo = f"{known[0]}x" if known else "weight"
    hint = rf" \(did you mean '{known[0]}'\?\)" if known else ""
    with pytest.raises(ConfigError, match=rf"model '{name}' got invalid parameters: {typo}: unknown key{hint}"):
        check_model_params(name, {typo: 1})
    with pytest.raises(ConfigError, match=rf"{typo}: unknown key"):
        build_model(name, **{typo: 1})


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_a_bad_value_is_refused_naming_the_key_and_the_value(name: str) -> None:
    params, expected = BAD_VALUES[name]
    with pytest.raises(ConfigError, match=rf"model '{name}' got invalid parameters: .*{expected}"):
        check_model_params(name, params)
    with pytest.raises(ConfigError, match=expected):
        build_model(name, **params)


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_the_config_holds_what_the_model_was_built_with(name: str) -> None:
    model = build_model(name)
    params = {key: value for key, value in model.get_params().items() if key != "train_config"}
    config = config_of(model_class(name)).model_validate(params)
    assert build_model(name, **config.model_dump(exclude_none=True)).get_params() == model.get_params()
    assert canonical_params(name, params) == {}  # the defaults, as the config writes them


def test_an_add_on_checks_its_base_and_the_base_parameters() -> None:
    with pytest.raises(ConfigError, match=r"'ease-channel' model's base cannot itself be 'ease-channel'"):
        check_model_params("ease-channel", {"base": "ease-channel"})
    with pytest.raises(ConfigError, match=r"model 'lightgcn' got invalid parameters: n_layer: unknown key"):
        check_model_params("content-channel", {"base": "lightgcn", "base_params": {"n_layer": 2}})
    with pytest.raises(ConfigError, match=r"unknown model 'lightgcm'"):
        check_model_params("staged", {"base": "lightgcm"})


def test_freedom_constraints_match_its_constructor() -> None:
    check_model_params("freedom", {"modality_weights": {"image": 1.0}, "edge_dropout": 0.0})
    with pytest.raises(ConfigError, match=r"modality_weights.image: got 'heavy'"):
        check_model_params("freedom", {"modality_weights": {"image": "heavy"}})
    with pytest.raises(ConfigError, match=r"modality_weights.text: got -1.0; Input should be greater than or equal"):
        check_model_params("freedom", {"modality_weights": {"image": 1.0, "text": -1.0}})


@pytest.mark.parametrize(("name", "key"), [("ease", "l2"), ("lightgcn", "reg_weight"), ("itemknn", "shrinkage")])
def test_a_non_finite_number_is_refused(name: str, key: str) -> None:
    for value in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match=rf"{key}: got {value}; Input should be a finite number"):
            check_model_params(name, {key: value})


class _PlugIn(Recommender):
    """A registered model without a declared config (a plug-in)."""

    name: ClassVar[str] = "test-plug-in"

    def __init__(self, size: int = 3) -> None:
        super().__init__(size=size)

    def _fit(self, split: Any) -> None:
        pass

    def score_users(self, user_index: Any) -> Any:
        raise NotImplementedError


def test_a_plug_in_without_a_config_gets_one_from_its_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODEL_REGISTRY, "test-plug-in", f"{__name__}:_PlugIn")
    assert list(config_of(_PlugIn).model_fields) == ["size"]
    check_model_params("test-plug-in", {"size": 5})
    with pytest.raises(ConfigError, match=r"sise: unknown key \(did you mean 'size'\?\); allowed here: size"):
        check_model_params("test-plug-in", {"sise": 5})


def _experiment(tmp_path: Path, model: str, params: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(
        f'[data]\ndataset = "nowhere"\ndir = "/no/such/folder"\n\n[model]\nname = "{model}"\n\n'
        f"[model.params]\n{params}\n"
    )
    return path


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        ("lightgcn", "n_layer = 2", r"n_layer: unknown key \(did you mean 'n_layers'\?\)"),
        ("ease", "l2 = -5.0", r"l2: got -5.0; Input should be greater than 0"),
        ("staged", 'base = "ease"\nbase_params = { l3 = 1 }', r"model 'ease' got invalid parameters: l3: unknown key"),
    ],
)
def test_an_experiment_file_with_a_bad_model_key_fails_before_any_data_is_read(
    tmp_path: Path, model: str, params: str, expected: str
) -> None:
    path = _experiment(tmp_path, model, params)  # the data folder does not exist: reading it would fail differently
    with pytest.raises(ConfigError, match=expected):
        load_config(path)
    result = CliRunner().invoke(app, ["train", "-c", str(path), "--out-dir", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "/no/such/folder" not in result.output and "model" in result.output
    assert not (tmp_path / "run").exists()
