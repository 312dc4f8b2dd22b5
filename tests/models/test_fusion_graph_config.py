"""The flagship's typed config: tables, flat keys of earlier versions, rules between options, old artifacts."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.config import load_config
from fusionrec.errors import ConfigError
from fusionrec.models import build_model, canonical_params, check_model_params, dotted, with_dotted
from fusionrec.models.artifact import load_artifact
from fusionrec.models.fusion_graph import FusionGraph
from fusionrec.models.fusion_graph_config import FLAT_KEYS, FusionGraphConfig, fusion_graph_config, merge_params
from fusionrec.models.fusion_graph_net import FusionGraphNet, GraphInputs
from fusionrec.models.graph import SparseOperator, normalized_adjacency
from fusionrec.testing.datasets import checkerboard_split

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = Path(__file__).parents[2] / "src" / "fusionrec" / "models"
TINY = {"epochs": 2, "batch_size": 8, "progress": False, "seed": 7, "threads": 1}
FLAT_VALUES = {
    "embedding_dim": 16,
    "n_layers": 3,
    "init_std": 0.05,
    "id_dropout": 0.2,
    "embedding_noise": 0.0,
    "edge_dropout": 0.1,
    "unit_layer0": True,
    "item_ids": True,
    "min_batches": 2,
    "temperature": 0.3,
    "negatives": "all",
    "bf16_scores": False,
    "modalities": ["image"],
    "fusion": "gated",
    "fusion_params": {"hidden": 8},
    "content_dropout": 0.3,
    "content_prior": 5.0,
    "align_weight": 0.1,
    "knn_k": 4,
    "item_graph_weight": 0.5,
    "item_graph_boost": 2.0,
    "item_graph_prior": 4.0,
    "n_item_graph_layers": 2,
    "modality_weights": {"image": 1.0},
    "graph_whitening": ["image"],
    "content_similarity_weight": 0.0,
    "content_similarity_prior": 3.0,
    "ease_weight": 0.01,
    "ease_l2": 50.0,
    "member_training": "apart",
}


def test_every_flat_key_of_earlier_versions_lands_in_its_table() -> None:
    assert set(FLAT_VALUES) == set(FLAT_KEYS)
    config = fusion_graph_config({**FLAT_VALUES, "members": 3, "second_stage": True})
    for flat, (table, key) in FLAT_KEYS.items():
        assert getattr(getattr(config, table), key) == FLAT_VALUES[flat], flat
    assert config.members.count == 3 and config.second_stage is True
    nested = fusion_graph_config(config.params())
    assert nested == config


def test_flat_and_nested_settings_build_the_same_model_with_the_same_scores() -> None:
    split = checkerboard_split(n_users=12, n_items=10, seed=3)
    flat = FusionGraph(embedding_dim=4, knn_k=2, ease_weight=0.05, train_config=TINY)
    nested = FusionGraph(
        core={"embedding_dim": 4}, item_graph={"k": 2}, ease_channel={"weight": 0.05}, train_config=TINY
    )
    assert flat.get_params() == nested.get_params()
    users = np.arange(split.n_users)
    np.testing.assert_array_equal(flat.fit(split).score_users(users), nested.fit(split).score_users(users))


def test_get_params_is_the_nested_tables_and_rebuilds_the_model() -> None:
    model = FusionGraph(knn_k=5, members=2, train_config=TINY)
    params = model.get_params()
    assert params["item_graph"]["k"] == 5 and params["members"] == {"count": 2, "training": "joint"}
    assert "knn_k" not in params and "modalities" not in params["content"]  # unset (None) options are left out
    assert FusionGraph(**params).get_params() == params


def test_an_option_given_flat_and_in_its_table_is_an_error_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"item_graph.k is given twice.*knn_k=20.*keep only item_graph.k"):
        FusionGraph(knn_k=20, item_graph={"k": 10})


def test_an_unknown_key_is_an_error_naming_it_and_the_closest_key() -> None:
    with pytest.raises(ConfigError, match=r"core.embedding_dimm: unknown key \(did you mean 'embedding_dim'\?\)"):
        FusionGraph(core={"embedding_dimm": 8})
    with pytest.raises(ConfigError, match=r"knn_kk: unknown key \(did you mean 'knn_k'\?\)"):
        FusionGraph(knn_kk=8)
    with pytest.raises(ConfigError, match=r"members: got 'two'"):
        FusionGraph(members="two")


def test_a_misspelt_flat_key_in_an_experiment_file_gets_the_flat_and_the_nested_key(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text('[data]\ndir = "/no/such/folder"\n\n[model]\nname = "fusiongraph"\n\n[model.params]\nknn_kk = 20\n')
    hint = r"knn_kk: unknown key \(did you mean 'knn_k'\?\), the flat spelling of 'item_graph.k'"
    with pytest.raises(ConfigError, match=hint):
        load_config(path)
    hint = r"temperture: unknown key \(did you mean 'temperature'\?\), the flat spelling of 'loss.temperature'"
    with pytest.raises(ConfigError, match=hint):
        check_model_params("fusiongraph", {"temperture": 0.1, "core": {}})
    with pytest.raises(ConfigError, match=r"core.n_layer: unknown key \(did you mean 'n_layers'\?\); allowed"):
        check_model_params("fusiongraph", {"core": {"n_layer": 2}})  # inside a table: its keys only
    result = CliRunner().invoke(app, ["train", "-c", str(path), "--out-dir", str(tmp_path / "run")])
    assert result.exit_code != 0 and "did you mean 'knn_k'?" in result.output and "'item_graph.k'" in result.output
    assert not (tmp_path / "run").exists()


def test_combinations_the_docs_forbid_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"unit_layer0=True does not work with core.item_ids=False.*set core"):
        FusionGraph(core={"unit_layer0": True, "item_ids": False})
    with pytest.raises(ConfigError, match=r"unit_layer0=True does not work"):
        FusionGraph(unit_layer0=True, item_ids=False)  # the flat spelling too
    with pytest.raises(ConfigError, match=r"item_graph.boost=2.0 raises .* item_graph.weight=0 turns off"):
        FusionGraph(item_graph={"boost": 2.0, "weight": 0.0})
    with pytest.raises(ConfigError, match=r"no weight for the chosen modalities \['text'\]"):
        FusionGraph(content={"modalities": ["image", "text"]}, item_graph={"modality_weights": {"image": 1.0}})
    with pytest.raises(ConfigError, match=r"fusion_params must not set 'dropout'; set content.dropout instead"):
        FusionGraph(content={"fusion_params": {"dropout": 0.1}})
    with pytest.raises(ConfigError, match=r"loss.name: got 'hinge'; expected a registered loss"):
        FusionGraph(loss={"name": "hinge"})
    with pytest.raises(ConfigError, match=r"item_graph.builder: got 'faiss'; expected a registered item-graph builder"):
        FusionGraph(item_graph={"builder": "faiss"})


def test_an_experiment_file_is_checked_before_any_data_is_read(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(
        '[data]\ndataset = "nowhere"\ndir = "/no/such/folder"\n\n[model]\nname = "fusiongraph"\n\n'
        "[model.params.core]\nunit_layer0 = true\nitem_ids = false\n"
    )
    with pytest.raises(ConfigError, match=r"model.*unit_layer0=True does not work with core.item_ids=False"):
        load_config(path)
    path.write_text('[model]\nname = "fusiongraph"\n\n[model.params.item_graph]\nk = 20\nboost = 2.0\n')
    config = load_config(path)
    assert fusion_graph_config(config.model.params).item_graph.k == 20


def test_a_recipe_override_in_the_flat_spelling_names_the_table_to_use() -> None:
    with pytest.raises(ConfigError, match=r"members.training is given twice.*keep only members.training"):
        load_config(None, {"model.params.member_training": "joint"}, recipe="tiktok")
    config = load_config(None, {"model.params.members.count": "3"}, recipe="tiktok")
    assert fusion_graph_config(config.model.params).members.count == 3


def test_check_model_params_and_the_parameter_helpers_speak_tables() -> None:
    check_model_params("fusiongraph", {"core": {"n_layers": 3}, "ease_weight": 0.01})
    with pytest.raises(ConfigError, match=r"ease_channel.l2: got 0"):
        check_model_params("fusiongraph", {"ease_channel": {"l2": 0}})
    canonical = canonical_params("fusiongraph", {"knn_k": 5, "core": {"n_layers": 2}})  # 2 is the default
    assert canonical == {"item_graph": {"k": 5}}
    assert with_dotted(canonical, {"item_graph.weight": 0.5}) == {"item_graph": {"k": 5, "weight": 0.5}}
    assert dotted({"item_graph": {"k": 5}, "second_stage": True}) == {"item_graph.k": 5, "second_stage": True}
    assert merge_params({"ease_weight": 0.01}, {"ease_channel": {"l2": 9.0}}) == {
        "ease_channel": {"weight": 0.01, "l2": 9.0}
    }


def test_the_network_is_built_from_its_config() -> None:
    config = FusionGraphConfig.model_validate({"core": {"embedding_dim": 6, "n_layers": 3, "unit_layer0": True}})
    split = checkerboard_split(n_users=12, n_items=10, seed=3)
    graph = SparseOperator(normalized_adjacency(split.train.to_csr()))
    inputs = GraphInputs(split.n_users, split.n_items, {}, {}, torch.ones(split.n_items, dtype=torch.bool), graph)
    net = FusionGraphNet(config.core, config.item_graph, inputs, None)
    assert net.user_embedding.shape == (12, 6) and net.item_embedding.shape == (10, 6)
    assert net.n_layers == 3 and net.unit_layer0 and net.perturbation is not None and net.item_graph is None
    users, items = net()
    assert users.shape == (12, 6) and items.shape == (10, 6)


def test_an_artifact_saved_with_flat_parameters_loads_with_its_scores(tmp_path: Path) -> None:
    folder = shutil.copytree(FIXTURES / "fusiongraph-flat-params", tmp_path / "artifact")
    loaded = load_artifact(folder)
    assert "knn_k" in loaded.manifest["params"]  # written by a version whose parameters were flat
    model = loaded.model
    assert isinstance(model, FusionGraph) and model.config.members.count == 2 and model.config.second_stage
    expected = np.load(FIXTURES / "fusiongraph-flat-params-scores.npy")
    np.testing.assert_allclose(model.score_users(np.arange(len(expected))), expected, rtol=1e-6, atol=1e-6)


def test_the_flagship_and_its_apart_training_do_not_import_each_other() -> None:
    def imported(module: str) -> set[str]:
        tree = ast.parse((MODELS / f"{module}.py").read_text())
        return {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert "fusionrec.models.fusion_graph" not in imported("fusion_graph_apart")
    assert "fusionrec.models.fusion_graph_apart" in imported("fusion_graph")


def test_no_model_module_is_over_400_lines() -> None:
    long = {path.name: n for path in MODELS.rglob("*.py") if (n := len(path.read_text().splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"


def test_no_component_of_the_flagship_has_more_than_twelve_options() -> None:
    tables = [
        FusionGraphConfig,
        *(FusionGraphConfig.model_fields[name].annotation for name in FusionGraphConfig.model_fields),
    ]
    sizes = {table.__name__: len(table.model_fields) for table in tables if hasattr(table, "model_fields")}
    assert max(sizes.values()) <= 12, sizes


def test_a_default_model_and_a_flat_one_are_built_by_name() -> None:
    assert build_model("fusiongraph").get_params()["core"]["embedding_dim"] == 128
