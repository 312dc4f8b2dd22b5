"""The public API of fusionrec.data is pinned, and its docstring examples run."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest

import fusionrec.data
from fusionrec.data import Dataset, Interactions, Vocabulary

MODULES = [
    "fusionrec.data.catalog",
    "fusionrec.data.demo",
    "fusionrec.data.inspect",
    "fusionrec.data.splits",
    "fusionrec.data.validation",
    "fusionrec.data.vocabulary",
    "fusionrec.testing.datasets",
]


def test_public_names_are_pinned() -> None:
    assert sorted(fusionrec.data.__all__) == [
        "CatalogColumns",
        "Dataset",
        "Interactions",
        "Split",
        "SyntheticConfig",
        "UserContent",
        "Vocabulary",
        "cold_start_split",
        "demo_split",
        "generate_synthetic",
        "inspect_dataset",
        "leave_one_out_split",
        "make_demo_catalog",
        "random_split",
        "read_catalog",
        "read_mmrec",
        "split_from_file",
        "temporal_split",
        "validate_split",
        "write_mmrec",
        "write_synthetic",
    ]
    for name in fusionrec.data.__all__:
        assert getattr(fusionrec.data, name) is not None


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_all_feature_masks_gives_every_modality_a_mask_all_usable_where_none_was_given() -> None:
    from fusionrec.testing.datasets import image_only_split

    dataset = image_only_split(seed=1).dataset
    dataset.feature_masks["text"] = np.arange(dataset.n_items) % 2 == 0
    del dataset.feature_masks["image"]
    masks = dataset.all_feature_masks()
    assert sorted(masks) == ["image", "text"]
    assert masks["image"].all() and masks["image"].shape == (dataset.n_items,)
    np.testing.assert_array_equal(masks["text"], np.arange(dataset.n_items) % 2 == 0)


def test_with_modalities_keeps_the_named_features_and_leaves_the_original_alone() -> None:
    from fusionrec.errors import ConfigError
    from fusionrec.testing.datasets import image_only_split

    split = image_only_split(seed=1)
    split.dataset.feature_masks["text"] = np.arange(split.n_items) % 2 == 0
    image_only = split.with_modalities(["image"])
    assert image_only.dataset.modalities == ["image"] and set(image_only.dataset.feature_masks) == {"image"}
    assert image_only.dataset.features["image"] is split.dataset.features["image"]
    assert image_only.train is split.train
    assert split.dataset.modalities == ["image", "text"]
    assert split.with_modalities([]).dataset.features == {}
    with pytest.raises(ConfigError, match=r"no features for modalities \['audio'\]; it has \['image', 'text'\]"):
        split.with_modalities(["audio"])


def test_items_that_share_a_title_are_told_apart_by_their_id() -> None:
    table = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["Ice Storm", "Ice Storm", "Heat"]})
    dataset = Dataset(
        name="titles",
        users=Vocabulary.from_range(1, kind="user"),
        items=Vocabulary.from_ids(["a", "b", "c"], kind="item"),
        interactions=Interactions(np.array([0]), np.array([0]), 1, 3),
        item_table=table,
    )
    assert dataset.item_titles([0, 1, 2]) == ["Ice Storm [id a]", "Ice Storm [id b]", "Heat"]
