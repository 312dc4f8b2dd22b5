"""A language model reorders any scorer's top candidates: only those move, failures keep the base order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fusionrec.data import Dataset, Interactions, Split, Vocabulary
from fusionrec.errors import ConfigError, ModelError
from fusionrec.llm import Generation, GenerationRequest, Generator
from fusionrec.models import build_model, check_model_params, reads_content
from fusionrec.models.base import mask_seen
from fusionrec.models.llm_rerank import LLMReranked
from fusionrec.testing.contracts import CONTRACT_CHECKS, ModelFactory
from fusionrec.testing.datasets import checkerboard_split
from tests.llm.conftest import FakeServer, chat

N_ITEMS = 12


def titled_split() -> Split:
    """Four users, twelve titled items; user u0 took items 0, 1, 2 at times 30, 10, 20."""
    users = Vocabulary.from_ids(["u0", "u1", "u2", "u3"], kind="user")
    items = Vocabulary.from_ids([f"i{i}" for i in range(N_ITEMS)], kind="item")
    table = pd.DataFrame({"item_id": items.ids, "title": [f"Film {chr(65 + i)} (199{i % 10})" for i in range(N_ITEMS)]})
    train_u = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 3])
    train_i = np.array([0, 1, 2, 0, 3, 4, 5, 6, 7, 0])
    when = np.array([30, 10, 20, 1, 2, 1, 2, 1, 2, 3])
    train = Interactions(train_u, train_i, 4, N_ITEMS, timestamp=when)
    held = Interactions(np.array([0, 1, 2, 3]), np.array([11, 10, 9, 8]), 4, N_ITEMS)
    dataset = Dataset(name="titled", users=users, items=items, interactions=train, item_table=table)
    return Split(dataset, train, held, held)


def shown(request: GenerationRequest) -> dict[str, str]:
    return dict(json.loads(request.prompt.split("<candidates>", 1)[1].split("</candidates>", 1)[0]))


class TitleRanker(Generator):
    """Ranks the shown titles in reverse alphabetical order; fails for users in ``failing``."""

    model_id = "title-ranker"

    def __init__(self, failing: Sequence[str] = ()) -> None:
        self.failing, self.requests = set(failing), []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.requests.extend(requests)
        out = []
        for request in requests:
            if request.key.split(":")[0] in self.failing:
                out.append(Generation(request.key, error="HTTP 503 (after 4 tries)", tries=4))
                continue
            ranking = [int(n) for n, _ in sorted(shown(request).items(), key=lambda pair: pair[1], reverse=True)]
            out.append(Generation(request.key, json.dumps({"ranking": ranking}), {"ranking": ranking}, tries=1))
        return out


def fitted(generator: Generator, **settings: Any) -> tuple[LLMReranked, Split]:
    split = titled_split()
    model = LLMReranked(base="pop", llm_weight=1.0, **settings).fit(split).use_generator(generator)
    return model, split


def ranking(scores: np.ndarray, split: Split, users: np.ndarray) -> np.ndarray:
    masked = scores.copy()
    mask_seen(masked, split.train.to_csr(), users)
    return np.argsort(-masked, axis=1, kind="stable")


def test_only_the_top_candidates_move_and_seen_items_stay_where_they_were() -> None:
    model, split = fitted(TitleRanker(), n_candidates=4, repeats=2)
    users = np.arange(4)
    base, reranked = model.base_.score_users(users), model.score_users(users)
    before, after = ranking(base, split, users), ranking(reranked, split, users)
    seen = split.train.to_csr()
    for user in users:
        n_unseen = N_ITEMS - seen[user].nnz
        top_before, top_after = before[user][:4], after[user][:4]
        assert sorted(top_before) == sorted(top_after)  # the same four candidates
        titles = split.dataset.item_titles(top_after)
        assert titles == sorted(titles, reverse=True)  # in the language model's order
        np.testing.assert_array_equal(before[user][4:n_unseen], after[user][4:n_unseen])  # the rest keep theirs
        np.testing.assert_array_equal(reranked[user][seen[user].indices], base[user][seen[user].indices])
    assert (model.report_.users, model.report_.requests, model.report_.failed_requests) == (4, 8, 0)


def test_a_failed_generation_keeps_the_base_order_for_that_user_and_is_counted() -> None:
    model, split = fitted(TitleRanker(failing=["u1"]), n_candidates=4, repeats=3)
    users = np.arange(4)
    before = ranking(model.base_.score_users(users), split, users)
    after = ranking(model.score_users(users), split, users)
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.array_equal(after[0][:4], before[0][:4])
    report = model.report_
    assert (report.failed_requests, report.users_kept_model_order) == (3, 1)
    assert report.errors[0].startswith("u1: HTTP 503")


def test_the_model_is_shown_the_most_recent_history_by_time() -> None:
    generator = TitleRanker()
    model, split = fitted(generator, n_candidates=3, repeats=1, history=2)
    model.score_users(np.array([0]))
    [request] = generator.requests
    history = json.loads(request.prompt.split("<history>", 1)[1].split("</history>", 1)[0])["history"]
    assert history == split.dataset.item_titles([2, 0])  # times 20 and 30: the latest two, oldest first


def test_around_wraps_a_fitted_model_without_training_it_again() -> None:
    split = titled_split()
    base = build_model("pop").fit(split)
    model = LLMReranked.around(base, TitleRanker(), n_candidates=3, llm_weight=1.0)
    assert model.base_ is base and model.get_params()["base"] == "pop"
    assert model.score_users(np.arange(4)).shape == (4, N_ITEMS)
    with pytest.raises(ModelError, match="not fitted"):
        LLMReranked.around(build_model("pop"))


def test_the_stage_is_a_configuration_checked_before_data() -> None:
    check_model_params("llm-rerank", {"base": "ease", "base_params": {"l2": 10.0}, "n_candidates": 20, "repeats": 2})
    with pytest.raises(ConfigError, match="cannot itself be 'llm-rerank'"):
        check_model_params("llm-rerank", {"base": "llm-rerank"})
    with pytest.raises(ConfigError, match="n_candidates"):
        check_model_params("llm-rerank", {"base": "pop", "n_candidates": 1})
    with pytest.raises(ConfigError, match="l3"):
        check_model_params("llm-rerank", {"base": "ease", "base_params": {"l3": 1.0}})


def test_a_wrapper_reads_content_when_its_base_does() -> None:
    assert reads_content("llm-rerank", {"base": "fusiongraph"}) and reads_content("llm-rerank", {})
    assert not reads_content("llm-rerank", {"base": "ease"}) and not reads_content("staged", {"base": "lightgcn"})
    assert reads_content("vbpr") and not reads_content("ease")


@pytest.fixture(scope="module")
def ranking_server() -> Iterator[FakeServer]:
    """An OpenAI-compatible server that ranks the shown titles alphabetically (the same in every shuffle)."""
    server = FakeServer()

    def answer(request: dict[str, Any]) -> Any:
        numbered = dict(json.loads(request["messages"][-1]["content"].split("<candidates>")[1].split("</cand")[0]))
        return chat(json.dumps({"ranking": [int(n) for n, _ in sorted(numbered.items(), key=lambda p: p[1])]}))

    server.default = answer
    yield server
    server.close()


CHECKS: list[Callable[[ModelFactory, Split], None]] = list(CONTRACT_CHECKS)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_stage_meets_the_contract(check: Callable[[ModelFactory, Split], None], ranking_server: FakeServer) -> None:
    split = checkerboard_split(n_users=12, n_items=14, seed=3)

    def factory() -> LLMReranked:
        return LLMReranked(
            base="itemknn", base_params={"k": 5}, n_candidates=5, repeats=2, url=ranking_server.url, cache="none"
        )

    check(factory, split)
