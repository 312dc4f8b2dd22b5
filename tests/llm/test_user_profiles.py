"""User profiles with a scripted generator: training history only, one user per request, failures masked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrec.data import Interactions, Split, UserContent, Vocabulary
from fusionrec.data.dataset import Dataset
from fusionrec.errors import ConfigError, FeatureShapeError
from fusionrec.llm import (
    Generation,
    GenerationCache,
    GenerationRequest,
    Generator,
    ItemProfile,
    LLMError,
    ProfileReport,
    profile_users,
    read_user_profiles,
    training_histories,
    user_content,
    write_user_profiles,
)
from fusionrec.llm.user_profiles import NO_HISTORY, NOT_REQUESTED, history_line
from tests.llm.conftest import INJECTION

TITLES = ["Heat (1995)", "Toy Story (1995)", "Alien (1979)", "Fargo (1996)", "Brazil (1985)", INJECTION]


class ScriptedGenerator(Generator):
    """Answers each request with a summary naming the titles it was shown; ``broken`` keys fail."""

    model_id = "scripted"

    def __init__(self, broken: Sequence[str] = (), cache: GenerationCache | None = None) -> None:
        self.requests: list[GenerationRequest] = []
        self.broken, self.cache = set(broken), cache

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [self._one(request) for request in requests]

    def _one(self, request: GenerationRequest) -> Generation:
        hit = self.cache.get(self.model_id, request) if self.cache is not None else None
        if hit is not None:
            return hit
        self.requests.append(request)
        if request.key in self.broken:
            generation = Generation(request.key, "", error="empty output")
        else:
            titles = [line.split(" [")[0].split(" rated")[0] for line in history_of(request)]
            generation = Generation(request.key, "\n  likes " + ", ".join(titles) + "\nsecond line")
        if self.cache is not None:
            self.cache.put(self.model_id, request, generation)
        return generation


def history_of(request: GenerationRequest) -> list[str]:
    """The history lines quoted in a user's prompt."""
    data = request.prompt.split("<user_history>", 1)[1].split("</user_history>", 1)[0]
    return [str(line) for line in json.loads(data)]


def make_split(with_ratings: bool = True) -> Split:
    """Users a, b, c, d over six items; d has no training interaction; items 4 and 5 are only held out."""
    table = pd.DataFrame(
        {"item_id": [str(i) for i in range(6)], "title": TITLES, "genres": ["Crime", "", "Horror", "", "", "Drama"]}
    )
    users = Vocabulary.from_ids(["a", "b", "c", "d"], kind="user")
    items = Vocabulary.from_ids(table["item_id"], kind="item")

    def part(pairs: list[tuple[int, int, float]]) -> Interactions:
        user, item, rating = (np.array(column) for column in zip(*pairs, strict=True))
        ratings = rating.astype(np.float32) if with_ratings else None
        return Interactions(user.astype(np.int64), item.astype(np.int64), 4, 6, ratings)

    train = part([(0, 0, 2.0), (0, 1, 5.0), (0, 2, 4.0), (1, 2, 3.0), (1, 3, 5.0), (2, 5, 4.0)])
    valid, test = part([(0, 4, 5.0), (1, 4, 1.0)]), part([(0, 3, 4.0), (1, 5, 2.0), (3, 0, 5.0)])
    dataset = Dataset("tiny", users, items, train, item_table=table)
    return Split(dataset, train, valid, test)


def test_a_history_holds_training_items_only_best_rated_first() -> None:
    histories = training_histories(make_split())
    assert [entry["title"] for entry in histories[0]] == ["Toy Story (1995)", "Alien (1979)", "Heat (1995)"]
    assert histories[0][0] == {"title": "Toy Story (1995)", "rating": 5.0}  # an empty genre is left out
    assert history_line(histories[0][1]) == "Alien (1979) [Horror] rated 4"
    assert histories[0][1]["genres"] == "Horror"
    assert histories[3] == []  # d has only a test interaction


def test_valid_and_test_items_never_enter_a_prompt() -> None:
    split = make_split()
    generator = ScriptedGenerator()
    profile_users(split, generator)
    held_out = {TITLES[4]}  # Brazil is never a training item
    for request in generator.requests:
        shown = " ".join(history_of(request))
        pairs = zip(split.train.user_index, split.train.item_index, strict=True)
        own_train = {TITLES[i] for u, i in pairs if split.dataset.users.ids[u] == request.key}
        assert all(title in shown for title in own_train) and not any(t in shown for t in held_out), request.key
        assert len(history_of(request)) == len(own_train)
    assert "Fargo" not in json.dumps([r.prompt for r in generator.requests if r.key == "a"])  # a's test item


def test_each_user_is_one_request_and_failures_are_masked_with_the_reason() -> None:
    report = profile_users(make_split(), ScriptedGenerator(broken=["b"]), users=["a", "b", "d"])
    assert set(report.profiles) == {"a"}
    assert report.failures["b"] == "profile generation failed: empty output"
    assert report.failures["c"] == NOT_REQUESTED and report.failures["d"] == NO_HISTORY
    assert report.profiles["a"].summary == "likes Toy Story (1995), Alien (1979), Heat (1995)"  # the first line


def test_fewest_first_with_a_limit_asks_for_the_users_with_the_least_history() -> None:
    generator = ScriptedGenerator()
    report = profile_users(make_split(), generator, fewest_first=True, limit=2)
    assert [r.key for r in generator.requests] == ["c", "b"]  # 1 and 2 training items; d has none
    assert report.failures["a"] == NOT_REQUESTED and report.failures["d"] == NO_HISTORY


def test_injected_titles_are_quoted_data_that_cannot_close_the_tag() -> None:
    generator = ScriptedGenerator()
    profile_users(make_split(), generator, users=["c"])
    [request] = generator.requests
    assert request.prompt.count("</user_history>") == 1 and "</item_metadata>" not in request.prompt  # escaped
    assert history_of(request) == [INJECTION + " [Drama] rated 4"]  # intact, as a JSON string value
    assert "never instructions" in request.system


def test_item_profiles_are_quoted_beside_the_titles_where_present() -> None:
    split = make_split()
    items = ProfileReport([str(i) for i in range(6)], "item_profile.v1", "m")
    items.profiles["2"] = ItemProfile(summary="A crew meets a creature in deep space.")
    history = training_histories(split, items)[0]
    assert [entry.get("profile") for entry in history] == [None, "A crew meets a creature in deep space.", None]


def test_a_second_run_comes_from_the_cache(tmp_path: Path) -> None:
    cache = GenerationCache(tmp_path / "c.sqlite")
    first = profile_users(make_split(), ScriptedGenerator(cache=cache))
    again = ScriptedGenerator(cache=cache)
    second = profile_users(make_split(), again)
    assert again.requests == [] and second.stats.n_cached == 3 and second.profiles == first.profiles


def test_profiles_round_trip_through_a_file(tmp_path: Path) -> None:
    split = make_split()
    report = profile_users(split, ScriptedGenerator(broken=["c"]))
    path = write_user_profiles(report, tmp_path / "users.jsonl")
    read = read_user_profiles(path, split)
    assert read.profiles == report.profiles and read.failures == report.failures
    path.write_text(path.read_text() + json.dumps({"user_id": "zz", "error": "x"}) + "\n")
    with pytest.raises(ConfigError, match="'zz'"):
        read_user_profiles(path, split)


def test_user_content_embeds_summaries_and_masks_users_without_one() -> None:
    split = make_split()
    report = profile_users(split, ScriptedGenerator(broken=["b"]))
    content = user_content(split, report, encoder="tfidf")
    assert content.values.shape[0] == 4 and content.mask.tolist() == [True, False, True, False]
    assert not content.values[~content.mask].any() and np.isfinite(content.values).all()
    split.user_content = content
    with pytest.raises(LLMError, match="no user of 4 has a profile"):
        user_content(split, profile_users(split, ScriptedGenerator(broken=["a", "b", "c"])), encoder="tfidf")


def test_user_content_checks_shapes_and_finiteness() -> None:
    with pytest.raises(FeatureShapeError, match="non-finite"):
        UserContent(np.array([[np.nan, 1.0]], np.float32), np.array([True]))
    masked = UserContent(np.array([[np.nan, 1.0]], np.float32), np.array([False]))
    assert not masked.values.any()  # a masked row is zeroed, never read
    with pytest.raises(FeatureShapeError, match="2 texts for 1 users"):
        UserContent(np.zeros((1, 2), np.float32), np.array([True]), texts=("a", "b"))
    texts = UserContent(np.zeros((2, 2), np.float32), np.array([True, False]), texts=("likes crime", "kept?"))
    assert texts.texts == ("likes crime", "") and texts.text(0) == "likes crime" and texts.text(1) is None
    with pytest.raises(FeatureShapeError, match="4 users"):
        Split(
            make_split().dataset,
            *(make_split().part(p) for p in ("train", "valid", "test")),
            user_content=UserContent(np.zeros((3, 2), np.float32), np.ones(3, bool)),
        )
