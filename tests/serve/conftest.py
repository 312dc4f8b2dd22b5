"""Fixtures of the service tests: a small content-aware artifact with poster files, settings, a client."""

from __future__ import annotations

import socket
import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fusionrec.data.dataset import Split
from fusionrec.models.artifact import save_artifact
from fusionrec.models.base import Recommender
from fusionrec.serve.demo import ContentFactors, synthetic_split
from fusionrec.serve.store import EventStore

API_KEY = "test-key-123"
POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"


def write_png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (20, 30)) -> None:
    """A solid-colour PNG (so the browser test has real images to load)."""
    width, height = size
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def serve_split(tmp_path_factory: pytest.TempPathFactory) -> Split:
    """A synthetic catalog (200 users, 120 items, image + text features) whose posters exist on disk."""
    split = synthetic_split(n_users=200, n_items=120, seed=0)
    media = tmp_path_factory.mktemp("media")
    (media / "posters").mkdir()
    rng = np.random.default_rng(0)
    for raw in split.dataset.items.ids:
        write_png(media / "posters" / f"{raw}.png", tuple(int(v) for v in rng.integers(0, 255, 3)))  # type: ignore[arg-type]
    (media.parent / "secret.txt").write_text("outside the media root")
    split.dataset.media_root = media
    return split


@pytest.fixture(scope="session")
def artifact(serve_split: Split, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = ContentFactors(dim=8).fit(serve_split)
    return save_artifact(model, tmp_path_factory.mktemp("artifacts") / "content-factors")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.sqlite3'}"


@pytest.fixture
def settings(artifact: Path, store_url: str):  # type: ignore[no-untyped-def]
    from fusionrec.serve.settings import ServeSettings

    # generous store timeouts: a test must not fall back to a degraded answer because the machine is busy
    timeouts = {"store_timeout_s": 30.0, "store_write_timeout_s": 30.0}
    return ServeSettings(artifact=artifact, store_url=store_url, api_key=API_KEY, sync_interval_s=0, **timeouts)


@pytest.fixture
def client(settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from fusionrec.serve.app import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(url, table_prefix)`` of a SQLite file and of the local PostgreSQL (skipped when unreachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}", "fusionrec_"
        return
    if not postgres_available():
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432 (start one with trust auth and a database 'test')")
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    yield POSTGRES_URL, prefix
    cleanup = EventStore(POSTGRES_URL, prefix)
    cleanup.drop()
    cleanup.close()


class IdFactors(Recommender):
    """SVD factors with no content path: has embeddings but is not ContentAware."""

    name = "id-factors"

    def __init__(self, dim: int = 8) -> None:
        super().__init__(dim=dim)
        self.dim = dim
        self.users_: np.ndarray | None = None
        self.items_: np.ndarray | None = None

    def _fit(self, split: Split) -> None:
        from sklearn.utils.extmath import randomized_svd

        left, sigma, right = randomized_svd(self.train_matrix_, n_components=self.dim, random_state=0)
        self.users_, self.items_ = (left * sigma).astype(np.float32), right.T.astype(np.float32)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        assert self.users_ is not None and self.items_ is not None
        return self.users_[user_index] @ self.items_.T

    def item_embeddings(self) -> np.ndarray | None:
        return self.items_

    def user_embeddings(self, user_index: np.ndarray) -> np.ndarray | None:
        return None if self.users_ is None else self.users_[user_index]

    def state_arrays(self) -> dict[str, np.ndarray]:
        assert self.users_ is not None and self.items_ is not None
        return {"users": self.users_, "items": self.items_}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        self.split_, self.train_matrix_ = split, split.train.to_csr()
        self.users_, self.items_ = arrays["users"], arrays["items"]


class CountScores(Recommender):
    """Scores are training counts (popularity): no embeddings at all."""

    name = "count-scores"

    def _fit(self, split: Split) -> None:
        self.counts_ = np.asarray(self.train_matrix_.sum(axis=0)).ravel().astype(np.float32)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        return np.tile(self.counts_, (len(user_index), 1))

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        self.split_, self.train_matrix_, self.counts_ = split, split.train.to_csr(), arrays["counts"]


def client_for(model: Recommender, folder: Path, store_url: str):  # type: ignore[no-untyped-def]
    """A TestClient serving ``model`` (a test class, trusted explicitly)."""
    from fastapi.testclient import TestClient

    from fusionrec.models.artifact import load_artifact
    from fusionrec.serve.app import create_app
    from fusionrec.serve.service import RecommendationService
    from fusionrec.serve.settings import ServeSettings
    from fusionrec.serve.store import EventStore

    path = save_artifact(model, folder)
    settings = ServeSettings(artifact=path, store_url=store_url, api_key=API_KEY, sync_interval_s=0)
    loaded = load_artifact(path, trusted_modules=(type(model).__module__,))
    service = RecommendationService(loaded, EventStore(store_url), settings)
    return TestClient(create_app(settings, service))


@pytest.fixture
def store(any_store_url: tuple[str, str]) -> Iterator[EventStore]:
    """An open :class:`EventStore` on each store :func:`any_store_url` gives, closed after the test."""
    url, prefix = any_store_url
    opened = EventStore(url, prefix)
    yield opened
    opened.close()
