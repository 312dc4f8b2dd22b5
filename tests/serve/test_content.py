"""New items with raw content (text fields, a poster) encoded by the server with the artifact's own encoders.

A small catalog of four topics whose text and posters both reveal the topic
is encoded with the shipped encoders (all-MiniLM-L6-v2, EfficientNet-Lite0),
a content-aware model is trained on it and saved with its encoder specs,
and items are then added through the API from raw content alone.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusionrec.data.dataset import Dataset, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.vocabulary import Vocabulary
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.serve.demo import ContentFactors
from tests.serve.conftest import API_KEY

pytest.importorskip("sentence_transformers")
pytest.importorskip("efficientnet_lite_pytorch")

WRITE = {"X-API-Key": API_KEY}
TOPICS = {
    "space": ("Science Fiction", "astronauts fly a starship to a distant galaxy", "a rocket launch and alien planets"),
    "cooking": ("Food", "a chef cooks recipes in a busy restaurant kitchen", "bread, soup and a baking contest"),
    "football": ("Sports", "a football team trains for the championship final", "goals, a stadium and a coach"),
    "ocean": ("Nature", "divers explore coral reefs and whales in the deep sea", "sharks, waves and a submarine"),
}
COLOURS = {"space": (20, 20, 90), "cooking": (200, 120, 30), "football": (30, 160, 40), "ocean": (40, 170, 220)}
PER_TOPIC, N_USERS = 8, 80


def poster_pixels(topic: str, variant: int) -> np.ndarray:
    """uint8 (96, 64, 3): the topic's colour in stripes whose width and shade vary by item."""
    base = np.array(COLOURS[topic], dtype=np.int64)
    rows = np.arange(96)[:, None] // (6 + variant)
    shade = np.where((rows % 2 == 0), 1.0, 0.6 + 0.03 * variant)  # (96, 1)
    pixels = (base[None, None, :] * shade[..., None]).clip(0, 255)  # (96, 1, 3)
    return np.broadcast_to(pixels, (96, 64, 3)).astype(np.uint8)


def write_poster(path: Path, topic: str, variant: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(poster_pixels(topic, variant)).save(path)


def content_of(topic: str, variant: int) -> dict[str, str]:
    genre, plot, detail = TOPICS[topic]
    return {"title": f"{topic.title()} story {variant}", "genres": genre, "overview": f"{plot}; {detail} ({variant})"}


def topic_catalog(media: Path) -> Split:
    """Four topics x 8 items; each user likes items of one topic; posters written under ``media``."""
    import pandas as pd

    rows, topics = [], []
    for topic in TOPICS:
        for variant in range(PER_TOPIC):
            raw = f"{topic}-{variant}"
            write_poster(media / "posters" / f"{raw}.png", topic, variant)
            rows.append({"item_id": raw, **content_of(topic, variant), "poster": f"posters/{raw}.png"})
            topics.append(topic)
    rng = np.random.default_rng(0)
    users, items = [], []
    for user in range(N_USERS):
        liked = np.flatnonzero(np.array(topics) == list(TOPICS)[user % len(TOPICS)])
        chosen = rng.choice(liked, size=6, replace=False)
        users += [user] * len(chosen)
        items += chosen.tolist()
    n_items = len(rows)
    train = Interactions(np.array(users), np.array(items), N_USERS, n_items)
    dataset = Dataset(
        "topics",
        Vocabulary(tuple(f"u{u}" for u in range(N_USERS)), "user"),
        Vocabulary(tuple(row["item_id"] for row in rows), "item"),
        train,
        item_table=pd.DataFrame(rows),
        media_root=media,
    )
    empty = Interactions.empty(N_USERS, n_items)
    return Split(dataset, train, empty, empty)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Split, Path]:
    """The catalog encoded with the default specs of its item table, and an artifact that records them."""
    from fusionrec.encoders import encode_dataset, resolve_specs

    split = topic_catalog(tmp_path_factory.mktemp("media"))
    specs = resolve_specs(split.dataset)
    encode_dataset(split.dataset, specs, use_cache=False)
    model = ContentFactors(dim=8).fit(split)
    path = save_artifact(model, tmp_path_factory.mktemp("artifacts") / "topics", encoders=specs)
    return split, path


@pytest.fixture(scope="module")
def content_client(encoded: tuple[Split, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from fusionrec.serve.app import create_app
    from fusionrec.serve.settings import ServeSettings

    store = tmp_path_factory.mktemp("store") / "events.sqlite3"
    settings = ServeSettings(
        artifact=encoded[1], store_url=f"sqlite:///{store}", api_key=API_KEY, sync_interval_s=0, web_page=False
    )
    with TestClient(create_app(settings)) as client:
        yield client


def topic_of(item_id: str) -> str:
    return item_id.split("-")[0]


def poster_base64(topic: str, variant: int, tmp_path: Path) -> str:
    path = tmp_path / f"{topic}-{variant}.png"
    write_poster(path, topic, variant)
    return base64.b64encode(path.read_bytes()).decode()


def test_the_artifact_records_its_encoders_and_the_model_route_lists_them(
    encoded: tuple[Split, Path], content_client: Any
) -> None:
    specs = load_artifact(encoded[1]).encoders
    assert [(s.modality, s.encoder_name) for s in specs] == [("text", "minilm"), ("image", "efficientnet-lite0")]
    listed = {e["modality"]: e for e in content_client.get("/v1/model").json()["encoders"]}
    assert listed["text"]["text_fields"] == ["title", "genres", "overview"]
    assert listed["text"]["required"] == ["overview"]
    assert (listed["image"]["kind"], listed["image"]["encoder"]) == ("image", "efficientnet-lite0")


def test_a_new_item_with_raw_text_and_poster_lands_among_its_topic(
    encoded: tuple[Split, Path], content_client: Any
) -> None:
    media = encoded[0].dataset.media_root
    assert media is not None
    write_poster(media / "posters" / "new-ocean.png", "ocean", 9)
    body = {
        "title": "Ocean story 9",
        "poster": "posters/new-ocean.png",
        "content": {"text": content_of("ocean", 9), "image": {"path": "posters/new-ocean.png"}},
    }
    response = content_client.put("/v1/items/new-ocean", json=body, headers=WRITE)
    assert response.status_code == 201, response.text
    written = response.json()
    assert (written["indexed"], written["placed_from"], written["masked"]) == (True, ["image", "text"], {})
    similar = content_client.get("/v1/items/new-ocean/similar", params={"k": 5}).json()["items"]
    assert sum(topic_of(item["item_id"]) == "ocean" for item in similar) >= 4, similar


def test_text_alone_places_an_item_among_its_topic(content_client: Any) -> None:
    body = {"content": {"text": content_of("space", 11)}}
    written = content_client.put("/v1/items/new-space", json=body, headers=WRITE).json()
    assert written["placed_from"] == ["text"]
    similar = content_client.get("/v1/items/new-space/similar", params={"k": 5}).json()["items"]
    assert sum(topic_of(item["item_id"]) == "space" for item in similar) >= 4, similar


def test_encoded_content_equals_what_encode_dataset_gives(encoded: tuple[Split, Path], content_client: Any) -> None:
    dataset, index = encoded[0].dataset, encoded[0].dataset.items.index(["cooking-3"])[0]
    service = content_client.app.state.service
    from_path = service.content.encode({"text": content_of("cooking", 3), "image": {"path": "posters/cooking-3.png"}})
    for modality in ("text", "image"):
        np.testing.assert_allclose(
            from_path.features[modality], dataset.features[modality][index], rtol=1e-5, atol=1e-5
        )
    body = {"content": {"text": content_of("cooking", 3), "image": {"path": "posters/cooking-3.png"}}}
    assert content_client.put("/v1/items/cooking-3-again", json=body, headers=WRITE).status_code == 201
    similar = content_client.get("/v1/items/cooking-3-again/similar", params={"k": 3}).json()["items"]
    assert "cooking-3" in [item["item_id"] for item in similar], similar


def test_an_uploaded_poster_is_encoded_like_the_same_file(
    encoded: tuple[Split, Path], content_client: Any, tmp_path: Path
) -> None:
    dataset, index = encoded[0].dataset, encoded[0].dataset.items.index(["football-2"])[0]
    image = {"base64": poster_base64("football", 2, tmp_path)}
    encoded_upload = content_client.app.state.service.content.encode({"image": image})
    np.testing.assert_allclose(encoded_upload.features["image"], dataset.features["image"][index], rtol=1e-5, atol=1e-5)
    response = content_client.put("/v1/items/uploaded", json={"content": {"image": image}}, headers=WRITE)
    assert response.status_code == 201 and response.json()["placed_from"] == ["image"]


def test_a_broken_image_is_masked_and_the_item_placed_from_its_text(content_client: Any) -> None:
    broken = base64.b64encode(b"\x89PNG\r\n\x1a\n this is not really an image").decode()
    body = {"content": {"text": content_of("cooking", 12), "image": {"base64": broken}}}
    response = content_client.put("/v1/items/broken-poster", json=body, headers=WRITE)
    assert response.status_code == 201, response.text
    written = response.json()
    assert written["placed_from"] == ["text"]
    assert set(written["masked"]) == {"image"} and "image" in written["masked"]["image"]
    similar = content_client.get("/v1/items/broken-poster/similar", params={"k": 5}).json()["items"]
    assert sum(topic_of(item["item_id"]) == "cooking" for item in similar) >= 4, similar


def test_content_that_is_all_unusable_is_422_naming_each_field(content_client: Any) -> None:
    broken = base64.b64encode(b"GIF89a garbage").decode()
    body = {"content": {"text": {"title": "No plot"}, "image": {"base64": broken}}}
    response = content_client.put("/v1/items/unusable", json=body, headers=WRITE)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "content.image (image)" in message and "content.text (text): no overview" in message
    assert content_client.get("/v1/items/unusable").status_code == 404


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"text": {"plot": "x"}}, "field(s) ['plot']"),
        ({"image": {"path": "../secret.txt"}}, "outside the media root"),
        ({"image": {"base64": "%%% not base64 %%%"}}, "not valid base64"),
        ({"image": {"path": "posters/a.png", "base64": "AAAA"}}, "exactly one of path or base64"),
    ],
)
def test_bad_content_is_422_naming_it(content_client: Any, content: dict[str, Any], expected: str) -> None:
    response = content_client.put("/v1/items/bad", json={"content": content}, headers=WRITE)
    assert response.status_code == 422, response.text
    assert expected in response.json()["error"]["message"]


def test_a_modality_sent_as_features_and_as_content_is_422(content_client: Any) -> None:
    body = {"features": {"text": [0.0] * 384}, "content": {"text": content_of("space", 1)}}
    response = content_client.put("/v1/items/both", json=body, headers=WRITE)
    assert response.status_code == 422 and "both as features and as content" in response.json()["error"]["message"]


def test_encoded_items_are_stored_as_features_and_replayed_without_encoding(content_client: Any) -> None:
    service = content_client.app.state.service
    body = {"content": {"text": content_of("football", 13)}}
    assert content_client.put("/v1/items/replayed", json=body, headers=WRITE).status_code == 201
    stored = [r for r in service.store.item_revisions(0) if r.item_id == "replayed"][-1].payload
    assert "content" not in stored and len(stored["features"]["text"]) == 384
