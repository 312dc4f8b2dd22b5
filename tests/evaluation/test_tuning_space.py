"""The tuning search space of a model whose typed config has tables: dotted keys over nested parameters."""

from __future__ import annotations

import pytest

from fusionrec.models import build_model
from fusionrec.recipes import recipe_settings

tuning = pytest.importorskip("fusionrec.evaluation.tuning")


def test_the_flagships_space_names_keys_of_its_tables_and_the_recipe_is_its_first_point() -> None:
    space = tuning.search_space("fusiongraph")
    assert "item_graph.k" in space and "ease_channel.weight" in space
    recipe = recipe_settings("tiktok", "fusiongraph")["params"]
    point = tuning._current_point("fusiongraph", space, recipe, {"lr": 0.014})
    assert point["ease_channel.weight"] == 0.005 and point["item_graph.k"] == 10 and point["lr"] == 0.014


def test_a_trial_lays_its_values_over_the_base_settings_of_any_spelling() -> None:
    space = tuning.search_space("fusiongraph")
    base = tuning.canonical_params("fusiongraph", {"knn_k": 5, "ease_weight": 0.01, "members": 2})
    objective = tuning._Objective(None, "fusiongraph", space, 0, "recall@20", base, {})
    params, train = objective.settings({"item_graph.k": 20, "core.n_layers": 3, "lr": 0.02, "average_decay": 0.0})
    model = build_model("fusiongraph", **params)
    config = model.config  # type: ignore[attr-defined]
    assert config.item_graph.k == 20 and config.core.n_layers == 3 and config.ease_channel.weight == 0.01
    assert config.members.count == 2 and train["lr"] == 0.02 and train["average_decay"] is None
