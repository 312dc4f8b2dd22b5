"""A visitor's free-text preference: encoded by the served text encoder and placed like a new item's text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from fusionrec.data import Dataset, Interactions, Vocabulary
from fusionrec.data.splits import random_split
from fusionrec.encoders import encode_dataset
from fusionrec.encoders.config import EncoderSpec
from fusionrec.models.artifact import save_artifact
from fusionrec.serve.app import create_app
from fusionrec.serve.demo import ContentFactors
from fusionrec.serve.settings import ServeSettings

GENRES = {
    "horror": ["a haunted house", "a vengeful ghost", "a masked killer stalks teenagers", "a demonic possession"],
    "romance": ["two strangers fall in love in Paris", "a wedding planner finds love", "a love letter lost"],
    "science fiction": ["astronauts travel to a distant galaxy", "a robot learns to feel", "time travel paradox"],
}
TEXT = EncoderSpec(modality="text", name="minilm", template="{title} | {genres} | {overview}")


@pytest.fixture(scope="module")
def genre_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """90 films in three genres, users who each like one genre, content factors over MiniLM text."""
    rng = np.random.default_rng(0)
    ids, genre_of, rows = [], {}, []
    for g, (genre, plots) in enumerate(GENRES.items()):
        for i in range(30):
            item = f"{genre[:3]}{i:02d}"
            ids.append(item)
            genre_of[item] = genre
            rows.append({"item_id": item, "title": f"Film {g}-{i}", "genres": genre, "overview": plots[i % len(plots)]})
    users, items = [], []
    for user in range(150):
        liked = np.flatnonzero(np.array([genre_of[i] for i in ids]) == list(GENRES)[user % 3])
        for item in rng.choice(liked, size=8, replace=False):
            users.append(user)
            items.append(item)
    dataset = Dataset(
        name="genres",
        users=Vocabulary.from_ids([f"u{u}" for u in range(150)], kind="user"),
        items=Vocabulary.from_ids(ids, kind="item"),
        interactions=Interactions(np.array(users), np.array(items), 150, len(ids)),
        item_table=pd.DataFrame(rows),
    )
    encode_dataset(dataset, [TEXT], tmp_path_factory.mktemp("cache"))
    split = random_split(dataset, ratios=(0.8, 0.1, 0.1), seed=0)
    model = ContentFactors(dim=8).fit(split)
    path = save_artifact(model, tmp_path_factory.mktemp("artifacts") / "genres", encoders=[TEXT])
    return path, genre_of


def test_a_preference_naming_a_genre_ranks_that_genre_above_its_base_rate(
    genre_artifact: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, genre_of = genre_artifact
    settings = ServeSettings(artifact=path, store_url=f"sqlite:///{tmp_path / 'e.sqlite3'}", sync_interval_s=0)
    with TestClient(create_app(settings)) as client:
        for genre, words in (("horror", "a terrifying horror film with ghosts"), ("romance", "a romantic love story")):
            answer = client.post("/v1/recommendations", json={"preference": words, "k": 10})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["strategy"] == "preference"
            share = np.mean([genre_of[item["item_id"]] == genre for item in body["items"]])
            assert share > 1 / 3, f"{words!r}: {share:.0%} of the top 10 are {genre}, base rate 33%"


def test_a_preference_and_a_history_together_exclude_the_history(
    genre_artifact: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, _ = genre_artifact
    settings = ServeSettings(artifact=path, store_url=f"sqlite:///{tmp_path / 'e.sqlite3'}", sync_interval_s=0)
    with TestClient(create_app(settings)) as client:
        body = client.post("/v1/recommendations", json={"preference": "space", "history": ["sci00"], "k": 5}).json()
        assert len(body["items"]) == 5 and "sci00" not in [item["item_id"] for item in body["items"]]
        empty = client.post("/v1/recommendations", json={"k": 5})
        assert empty.status_code == 422 and "a preference in words" in empty.text


def test_a_model_without_text_refuses_a_preference_and_says_why(client: TestClient) -> None:
    answer = client.post("/v1/recommendations", json={"preference": "something scary", "k": 5})
    assert answer.status_code in (409, 422) and "preference" in answer.text
