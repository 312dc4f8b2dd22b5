"""The reusable contract suite, applied to the ID baselines and the add-ons that wrap them on the checkerboard split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fusionrec.data.dataset import Split
from fusionrec.models.base import Recommender
from fusionrec.testing.contracts import CONTRACT_CHECKS, ModelFactory, check_save_load_identical
from fusionrec.testing.datasets import checkerboard_split

TINY_TRAINING = {"epochs": 3, "batch_size": 16, "progress": False, "seed": 7, "threads": 1}


def _factories() -> dict[str, ModelFactory]:
    from fusionrec.models.bpr import BPRMF
    from fusionrec.models.channels import ContentChanneled, EaseChanneled
    from fusionrec.models.ease import EASE
    from fusionrec.models.ensemble import Ensemble
    from fusionrec.models.itemknn import ItemKNN
    from fusionrec.models.lightgcn import LightGCN
    from fusionrec.models.popularity import Popularity
    from fusionrec.models.staged import Staged

    return {
        "pop": Popularity,
        "itemknn": lambda: ItemKNN(k=5, shrinkage=1.0, chunk_size=7),
        "ease": lambda: EASE(l2=5.0),
        "bpr": lambda: BPRMF(embedding_dim=8, train_config=TINY_TRAINING),
        "lightgcn": lambda: LightGCN(embedding_dim=8, n_layers=2, train_config=TINY_TRAINING),
        "staged": lambda: Staged(base="itemknn", base_params={"k": 5}, candidates=8, trees=10, min_leaf=2),
        "staged-lightgcn": lambda: Staged(
            base="lightgcn",
            base_params={"embedding_dim": 8},
            candidates=8,
            trees=5,
            min_leaf=2,
            train_config=TINY_TRAINING,
        ),
        "ease-channel-lightgcn": lambda: EaseChanneled(
            base="lightgcn", base_params={"embedding_dim": 8}, weight=0.05, l2=5.0, train_config=TINY_TRAINING
        ),
        "content-channel-itemknn": lambda: ContentChanneled(base="itemknn", base_params={"k": 5}, weight=0.5),
        "staged-ease-channel": lambda: Staged(
            base="ease-channel",
            base_params={"base": "itemknn", "base_params": {"k": 5}, "l2": 5.0},
            candidates=8,
            trees=5,
            min_leaf=2,
        ),
        "ensemble-bpr": lambda: Ensemble(base="bpr", base_params={"embedding_dim": 8}, train_config=TINY_TRAINING),
        "ensemble-lightgcn-standardised": lambda: Ensemble(
            base="lightgcn",
            base_params={"embedding_dim": 8},
            count=3,
            combine="standardised",
            train_config=TINY_TRAINING,
        ),
        "staged-ensemble-lightgcn": lambda: Staged(
            base="ensemble",
            base_params={"base": "lightgcn", "base_params": {"embedding_dim": 8}},
            candidates=8,
            trees=5,
            min_leaf=2,
            train_config=TINY_TRAINING,
        ),
    }


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=20, n_items=20, seed=3)


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize(
    "model",
    [
        "pop",
        "itemknn",
        "ease",
        "bpr",
        "lightgcn",
        "staged",
        "staged-lightgcn",
        "ease-channel-lightgcn",
        "content-channel-itemknn",
        "staged-ease-channel",
        "ensemble-bpr",
        "ensemble-lightgcn-standardised",
        "staged-ensemble-lightgcn",
    ],
)
def test_baseline_meets_contract(model: str, check: Callable[[ModelFactory, Split], None], split: Split) -> None:
    check(_factories()[model], split)


def test_a_broken_save_is_caught(split: Split) -> None:
    """The suite can fail: a model whose loaded state differs is reported."""
    from fusionrec.models.popularity import Popularity

    class Forgetful(Popularity):
        def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
            super().load_state_arrays(split, {"item_counts": np.zeros_like(arrays["item_counts"])})

    with pytest.raises(AssertionError, match="scores changed after save/load"):
        check_save_load_identical(Forgetful, split)


def test_a_model_that_recommends_seen_items_is_caught(split: Split) -> None:
    from fusionrec.testing.contracts import check_recommend_excludes_seen

    class Leaky(Recommender):
        name = "leaky"

        def _fit(self, split: Split) -> None:
            pass

        def score_users(self, user_index: np.ndarray) -> np.ndarray:
            assert self.train_matrix_ is not None
            return np.asarray(self.train_matrix_[user_index].toarray(), dtype=np.float32)

        def recommend(self, user_ids: list[str], k: int = 10, exclude_seen: bool = True) -> list:
            return super().recommend(user_ids, k, exclude_seen=False)

    with pytest.raises(AssertionError, match="recommended training items"):
        check_recommend_excludes_seen(Leaky, split)
