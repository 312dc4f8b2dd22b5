"""Uploaded images are decoded under a memory budget; an over-budget one is masked, naming the budget.

The defect this pins: an 876 KB PNG of 13000x13000 RGBA pixels (under the
pixel cap) was decoded in full and took +1.96 GB; three at once 3.97 GB.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fusionrec.encoders.config import EncoderSpec
from fusionrec.models.artifact import save_artifact
from fusionrec.serve.content import ContentEncoder
from fusionrec.serve.demo import ContentFactors, synthetic_split
from fusionrec.testing.images import write_flat_png
from tests.serve.conftest import API_KEY

WRITE = {"X-API-Key": API_KEY}
SPEC = EncoderSpec(modality="image", name="color-histogram", bins=2)  # 8 features


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from fusionrec.serve.app import create_app
    from fusionrec.serve.settings import ServeSettings

    folder = tmp_path_factory.mktemp("uploads")
    split = synthetic_split(n_users=60, n_items=40, modalities=("image",), feature_dim=8)
    path = save_artifact(ContentFactors(dim=4).fit(split), folder / "artifact", encoders=[SPEC])
    store = f"sqlite:///{folder / 'events.sqlite3'}"
    settings = ServeSettings(artifact=path, store_url=store, api_key=API_KEY, sync_interval_s=0, web_page=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def upload(path: Path) -> dict[str, Any]:
    return {"content": {"image": {"base64": base64.b64encode(path.read_bytes()).decode()}}}


def test_a_huge_png_upload_is_refused_by_the_decoding_budget(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    assert write_flat_png(path, 13000, 13000, "RGBA") < 900_000
    response = client.put("/v1/items/bomb", json=upload(path), headers=WRITE)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "13000x13000 RGBA PNG needs 1,289 MiB, over the 160 MiB budget" in message


def test_an_image_within_the_budget_is_placed(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "large.png"
    write_flat_png(path, 3000, 3000, "RGB")
    response = client.put("/v1/items/large", json=upload(path), headers=WRITE)
    assert response.status_code == 201, response.text
    assert response.json()["placed_from"] == ["image"]


def test_image_decodes_wait_for_a_free_slot(tmp_path: Path) -> None:
    """With one slot, a second upload's decode starts only after the first one's ends."""
    path = tmp_path / "small.png"
    write_flat_png(path, 8, 8, "RGB")
    encoder = ContentEncoder([SPEC], {"image": 8}, media_root=tmp_path, max_concurrent_images=1)
    inside, release, overlap = threading.Event(), threading.Event(), []
    original = ContentEncoder._encode_one

    def held(self: ContentEncoder, spec: EncoderSpec, raw: Any) -> Any:
        overlap.append(inside.is_set())
        inside.set()
        release.wait(timeout=30)
        return original(self, spec, raw)

    encoder._encode_one = held.__get__(encoder)  # type: ignore[method-assign]
    content = {"image": {"path": "small.png"}}
    first = threading.Thread(target=encoder.encode, args=(content,))
    first.start()
    assert inside.wait(timeout=30)
    second = threading.Thread(target=encoder.encode, args=(content,))
    second.start()
    second.join(timeout=0.5)  # time for the second decode to start, were there no slot to wait for
    assert second.is_alive() and overlap == [False]
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert len(overlap) == 2 and not second.is_alive()
