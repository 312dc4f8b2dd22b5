"""The service on the real ml100k-mm catalog: titles, poster files and recommendations for real users."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fusionrec.data import read_mmrec
from fusionrec.models.artifact import save_artifact
from fusionrec.serve.demo import ContentFactors

pytestmark = pytest.mark.realdata


def test_serving_ml100k_shows_titles_posters_and_skips_seen_movies(data_dir: Path, tmp_path: Path) -> None:
    from fusionrec.serve.app import create_app
    from fusionrec.serve.settings import ServeSettings

    split = read_mmrec(data_dir / "ml100k-mm")
    path = save_artifact(ContentFactors(dim=32).fit(split), tmp_path / "ml100k")
    settings = ServeSettings(artifact=path, store_url=f"sqlite:///{tmp_path / 'events.sqlite3'}", api_key="k")
    with TestClient(create_app(settings)) as client:
        body = client.get("/v1/users/196/recommendations", params={"k": 10}).json()
        assert body["strategy"] == "model" and len(body["items"]) == 10
        seen = {entry["item"]["item_id"] for entry in client.get("/v1/users/196/history?limit=1000").json()["items"]}
        assert seen and not seen & {item["item_id"] for item in body["items"]}
        first = body["items"][0]
        assert "(19" in first["title"]  # MovieLens titles carry the year
        poster = client.get(first["poster_url"])
        assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"  # a JPEG file from media_root
        assert client.get("/v1/items/1").json()["metadata"]["genres"] == "Animation|Children|Comedy"
