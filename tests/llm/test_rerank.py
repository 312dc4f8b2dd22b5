"""Listwise reranking by a language model: shuffles, lenient reading of answers, Borda aggregation, failures."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from fusionrec.llm import Generation, GenerationRequest, Generator
from fusionrec.llm.rerank import (
    ListwiseReranker,
    RerankConfig,
    RerankInput,
    RerankReport,
    borda_points,
    ranking_schema,
    read_ranking,
    shuffles,
)
from fusionrec.llm.structured import parse_structured

CANDIDATES = ["Heat (1995)", "Alien (1979)", "Casino (1995)", "Fargo (1996)", "Babe (1995)"]
HISTORY = [f"Old {i} (1990)" for i in range(12)]
Answer = Callable[[dict[str, str]], list[object] | None]


def shown_titles(request: GenerationRequest) -> dict[str, str]:
    """The numbered candidates a request shows."""
    body = request.prompt.split("<candidates>", 1)[1].split("</candidates>", 1)[0]
    return dict(json.loads(body))


class FakeRanker(Generator):
    """Answers each request with ``answer(numbered titles)`` as the ranking, or fails where it returns None."""

    model_id = "fake-ranker"

    def __init__(self, answer: Answer) -> None:
        self.answer, self.requests = answer, []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.requests.extend(requests)
        out = []
        for request in requests:
            ranking = self.answer(shown_titles(request))
            if ranking is None:
                out.append(Generation(request.key, error="timeout after 1 s (after 4 tries)", tries=4))
            else:
                data = {"ranking": ranking}
                out.append(Generation(request.key, json.dumps(data), data, tries=1))
        return out


def alphabetical(numbered: dict[str, str]) -> list[object]:
    """The numbers of the shown titles in alphabetical order of title: the same preference in every shuffle."""
    return [int(number) for number, _ in sorted(numbered.items(), key=lambda pair: pair[1])]


def rerank(answer: Answer, **config: object) -> tuple[list[int], FakeRanker, RerankReport]:
    generator = FakeRanker(answer)
    reranker = ListwiseReranker(generator, RerankConfig.model_validate(config))
    [outcome] = reranker.rerank([RerankInput("u1", HISTORY, CANDIDATES)])
    return outcome.order, generator, RerankReport().add([outcome])


def test_borda_points_give_the_first_place_the_most() -> None:
    np.testing.assert_array_equal(borda_points([2, 0, 1]), [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(borda_points(range(4)), [3.0, 2.0, 1.0, 0.0])


def test_shuffles_depend_on_the_seed_and_the_user_only() -> None:
    first = shuffles("u1", 10, 3, seed=0)
    assert all(sorted(p.tolist()) == list(range(10)) for p in first)
    assert [p.tolist() for p in first] == [p.tolist() for p in shuffles("u1", 10, 3, seed=0)]
    assert len({tuple(p) for p in first}) == 3  # each repeat shows another order
    assert [p.tolist() for p in shuffles("u2", 10, 3, seed=0)] != [p.tolist() for p in first]
    assert [p.tolist() for p in shuffles("u1", 10, 3, seed=1)] != [p.tolist() for p in first]


def test_invented_numbers_are_ignored_and_omitted_candidates_follow_in_the_model_order() -> None:
    shown = np.array([3, 1, 4, 0, 2])  # number 1 shows candidate 3, number 2 candidate 1, ...
    read = read_ranking([2, 9, 0, -1, 2, 5, "x", True], shown)
    assert read.order == [1, 2, 0, 3, 4]  # numbers 2 and 5 (candidates 1 and 2), then 0, 3, 4 in model order
    assert (read.invented, read.duplicates, read.omitted) == (5, 1, 3)


def test_the_same_preference_in_every_shuffle_decides_the_order_at_full_weight() -> None:
    order, generator, report = rerank(alphabetical, n_candidates=5, repeats=4, llm_weight=1.0)
    assert [CANDIDATES[p] for p in order] == sorted(CANDIDATES)
    assert len({tuple(shown_titles(r).values()) for r in generator.requests}) == 4  # four different shuffles
    assert (report.requests, report.failed_requests, report.omitted, report.invented) == (4, 0, 0, 0)


def test_weight_zero_keeps_the_model_order_and_ties_go_to_the_model() -> None:
    assert rerank(alphabetical, repeats=2, llm_weight=0.0)[0] == [0, 1, 2, 3, 4]
    # half weight: the LLM swaps the model's first two (Heat, Alien) and agrees on the rest
    swap = {"Alien (1979)": 0, "Heat (1995)": 1, "Casino (1995)": 2, "Fargo (1996)": 3, "Babe (1995)": 4}

    def prefers_alien(numbered: dict[str, str]) -> list[object]:
        return [int(n) for n, _ in sorted(numbered.items(), key=lambda pair: swap[pair[1]])]

    assert rerank(prefers_alien, repeats=2, llm_weight=0.5)[0] == [0, 1, 2, 3, 4]  # 4+3 vs 3+4: tie, model wins
    assert rerank(prefers_alien, repeats=2, llm_weight=0.6)[0] == [1, 0, 2, 3, 4]


def test_answers_that_name_too_few_or_unknown_numbers_are_counted_and_read_leniently() -> None:
    def only_babe_and_nonsense(numbered: dict[str, str]) -> list[object]:
        babe = next(int(n) for n, title in numbered.items() if title == "Babe (1995)")
        return [99, babe, babe]

    order, _, report = rerank(only_babe_and_nonsense, repeats=3, llm_weight=1.0)
    assert order == [4, 0, 1, 2, 3]  # Babe first, the rest in the model's order
    assert (report.invented, report.duplicates, report.omitted) == (3, 3, 12)


def test_a_user_whose_generations_all_fail_keeps_the_model_order_and_is_reported() -> None:
    order, _, report = rerank(lambda numbered: None, repeats=3, llm_weight=1.0)
    assert order == [0, 1, 2, 3, 4]
    assert (report.users, report.requests, report.failed_requests, report.users_kept_model_order) == (1, 3, 3, 1)
    assert "timeout" in report.errors[0] and "1 users kept the model order" in report.to_text().replace(",", "")


def test_failed_repeats_leave_the_order_to_the_answered_ones() -> None:
    calls = iter(range(100))

    def fails_first(numbered: dict[str, str]) -> list[object] | None:
        return None if next(calls) == 0 else alphabetical(numbered)

    order, _, report = rerank(fails_first, repeats=3, llm_weight=1.0)
    assert [CANDIDATES[p] for p in order] == sorted(CANDIDATES)
    assert (report.failed_requests, report.users_kept_model_order) == (1, 0)


def test_the_prompt_quotes_recent_history_and_shuffled_candidates_as_data() -> None:
    _, generator, _ = rerank(alphabetical, repeats=1, history=3)
    [request] = generator.requests
    history = json.loads(request.prompt.split("<history>", 1)[1].split("</history>", 1)[0])["history"]
    assert history == HISTORY[-3:]
    assert sorted(shown_titles(request).values()) == sorted(CANDIDATES)
    assert request.template == "rerank.v1" and request.schema == ranking_schema(5)
    assert request.key.startswith("u1:")


def test_the_schema_accepts_a_list_of_numbers_and_refuses_anything_else() -> None:
    schema = ranking_schema(3)
    assert parse_structured('{"ranking": [3, 1, 2]}', schema).data == {"ranking": [3, 1, 2]}
    assert parse_structured('{"ranking": ["Heat"]}', schema).error.startswith("schema:")
    assert parse_structured('{"ranking": []}', schema).error.startswith("schema:")


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="n_candidates"):
        RerankConfig(n_candidates=1)
    with pytest.raises(ValueError, match="llm_weight"):
        RerankConfig(llm_weight=1.5)
