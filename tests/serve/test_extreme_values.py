"""Property: extreme numbers through every write path give a 4xx or finite, full rankings; never a 5xx.

Values thrown: +-1e38, 3.4e38 and 1e39 (beyond float32), 1e20, subnormals,
huge lists, through item features, item content text (an encoder that
reads numbers from text, so text becomes extreme features), events and
ad-hoc histories. After each write the affected rankings must hold ``k``
items with finite scores: an empty list would mean NaN got in.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fusionrec.data.dataset import Split
from fusionrec.encoders.config import EncoderSpec
from fusionrec.encoders.registry import register_encoder
from fusionrec.encoders.text import TextEncoder
from fusionrec.models.artifact import save_artifact
from fusionrec.serve.demo import ContentFactors
from tests.serve.conftest import API_KEY

WRITE = {"X-API-Key": API_KEY}
DIM, K = 16, 5
EXTREMES = [1e38, -1e38, 3.4e38, -3.4e38, 1e39, 1e20, -1e20, 1e18, 1e6, 1e6 + 1, 5e-324, -1e-310, 1e-45, 0.0, 1.0]
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)", re.IGNORECASE)
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class NumbersInText(TextEncoder):
    """Every feature is the first number in the text (inf and nan included), else 0.5."""

    name = "numbers-in-text"

    @property
    def dim(self) -> int:
        return DIM

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        values = [float(match.group()) if (match := NUMBER.search(t)) else 0.5 for t in texts]
        with np.errstate(over="ignore"):  # 1e39 becomes inf in float32, as a real encoder's overflow would
            return np.repeat(np.array(values, np.float32)[:, None], DIM, axis=1)


register_encoder("numbers-in-text", NumbersInText)

values = st.one_of(st.sampled_from(EXTREMES), st.floats(allow_nan=False, allow_infinity=False))
in_range = st.one_of(st.sampled_from([1e6, -1e6, 5e-324, -1e-310, 1e-45, 0.0]), st.floats(-1e6, 1e6))
feature_lists = st.one_of(
    st.lists(in_range, min_size=DIM, max_size=DIM),  # accepted: the vector and every score must stay finite
    st.lists(values, min_size=DIM, max_size=DIM),
    st.lists(values, min_size=0, max_size=DIM + 2),
    st.builds(lambda v, n: [v] * n, values, st.sampled_from([DIM, 9000, 20_000])),  # huge lists
)
texts = st.one_of(
    st.sampled_from(["1e20", "-1e38", "1e39", "5e-324", "nan", "inf", "-inf", "1e6", "3.4e38 stars"]),
    st.text(max_size=40),
)


@pytest.fixture(scope="module")
def client(serve_split: Split, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from fusionrec.serve.app import create_app
    from fusionrec.serve.settings import ServeSettings

    folder = tmp_path_factory.mktemp("extreme")
    spec = EncoderSpec(modality="text", name="numbers-in-text", template="{title}")
    path = save_artifact(ContentFactors(dim=8).fit(serve_split), folder / "artifact", encoders=[spec])
    store = f"sqlite:///{folder / 'events.sqlite3'}"
    settings_ = ServeSettings(artifact=path, store_url=store, api_key=API_KEY, sync_interval_s=0, web_page=False)
    with TestClient(create_app(settings_)) as test_client:
        yield test_client


_ids = itertools.count()


def new_id() -> str:
    return f"x{next(_ids)}"


def assert_no_server_error(response: Any) -> None:
    event(f"answered {response.status_code}")  # --hypothesis-show-statistics shows how many writes got through
    assert response.status_code < 500, response.text


def assert_full_and_finite(response: Any) -> None:
    assert response.status_code == 200, response.text
    scores = [item["score"] for item in response.json()["items"]]
    assert len(scores) == K and all(math.isfinite(s) for s in scores), scores


def assert_item_ranks_finitely(client: TestClient, item_id: str) -> None:
    """Everything that reads the item's vector gives full, finite lists."""
    assert_full_and_finite(client.get(f"/v1/items/{item_id}/similar", params={"k": K}))
    assert_full_and_finite(client.post("/v1/recommendations", json={"history": [item_id, "i1"], "k": K}))
    user = new_id()
    like = {"user_id": user, "item_id": item_id, "type": "like"}
    assert client.post("/v1/events", json=like, headers=WRITE).status_code == 201
    assert_full_and_finite(client.get(f"/v1/users/{user}/recommendations", params={"k": K}))
    assert_full_and_finite(client.get("/v1/users/u3/recommendations", params={"k": K}))


@EXAMPLES
@given(image=feature_lists, text=st.one_of(st.none(), feature_lists))
def test_item_features(client: TestClient, image: list[float], text: list[float] | None) -> None:
    item_id = new_id()
    features = {"image": image} if text is None else {"image": image, "text": text}
    response = client.put(f"/v1/items/{item_id}", json={"features": features}, headers=WRITE)
    assert_no_server_error(response)
    if response.status_code == 201:
        assert_item_ranks_finitely(client, item_id)


@EXAMPLES
@given(title=texts, image=st.one_of(st.none(), feature_lists))
def test_item_content_text(client: TestClient, title: str, image: list[float] | None) -> None:
    item_id = new_id()
    body: dict[str, Any] = {"content": {"text": {"title": title}}}
    if image is not None:
        body["features"] = {"image": image}
    response = client.put(f"/v1/items/{item_id}", json=body, headers=WRITE)
    assert_no_server_error(response)
    if response.status_code == 201:
        assert_item_ranks_finitely(client, item_id)


@EXAMPLES
@given(
    user=st.sampled_from(["u1", "u2", "newcomer", "u7"]),
    item=st.sampled_from(["i0", "i5", "i17", "i99"]),
    kind=st.sampled_from(["view", "click", "like", "purchase", "dislike", "rating"]),
    value=st.one_of(st.none(), values),
)
def test_events(client: TestClient, user: str, item: str, kind: str, value: float | None) -> None:
    event = {"user_id": user, "item_id": item, "type": kind, "value": value}
    assert_no_server_error(client.post("/v1/events", json=event, headers=WRITE))
    assert_full_and_finite(client.get(f"/v1/users/{user}/recommendations", params={"k": K}))


@EXAMPLES
@given(history=st.lists(st.sampled_from(["i0", "i3", "i50", "i119", "nope"]), min_size=1, max_size=1000))
def test_histories(client: TestClient, history: list[str]) -> None:
    response = client.post("/v1/recommendations", json={"history": history, "k": K})
    if "nope" in history:
        assert response.status_code == 404
    else:
        assert_full_and_finite(response)


def test_the_encoder_makes_extreme_features(tmp_path: Path) -> None:
    """The content path really carries extreme values (else the property above tests nothing)."""
    encoded = NumbersInText().encode(["1e20", "no number", "1e39"]).values
    assert encoded[0, 0] == np.float32(1e20) and encoded[1, 0] == 0.5 and np.isinf(encoded[2, 0])
