"""Every ranking the service gives, pinned: the lists and scores of each path on five kinds of served model.

The golden file holds, for each model kind (content factors, ID factors
without a content path, a model with no vectors, a model whose score adds
an EASE channel, a model with a second stage), what every route's ranking
returned: trained users, a user with events, a new user, an unknown user,
a forgotten user, an ad-hoc history, a free-text preference, similar items,
a newly added item, an explanation and the readiness check. A change to how
the service ranks shows here as a different list.

Regenerate the file only for an intended change of the rankings::

    PYTHONPATH=src python -m tests.serve.test_ranking_regression
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from fusionrec.data.dataset import Split
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.models.base import Recommender
from fusionrec.models.ease_channel import EaseChannel
from fusionrec.serve.content import ContentEncoder, EncodedContent
from fusionrec.serve.demo import ContentFactors, synthetic_split
from fusionrec.serve.errors import ServeError
from fusionrec.serve.service import RecommendationService
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.store import EventStore, NewEvent
from tests.serve.conftest import CountScores, IdFactors

GOLDEN = Path(__file__).with_name("ranking_golden.json")
K = 8
PREFERENCE_SEED = 7  # the stand-in text encoder's features of a preference


class EaseFactors(ContentFactors):
    """Content factors whose score adds an EASE channel fitted on the training matrix (closed form)."""

    name: ClassVar[str] = "ease-factors"

    def ease_channel(self) -> EaseChannel | None:
        assert self.train_matrix_ is not None
        return EaseChannel.fit(self.train_matrix_, l2=5.0, weight=0.5)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        channel = self.ease_channel()
        assert channel is not None and self.train_matrix_ is not None
        return super().score_users(user_index) + channel.scores(self.train_matrix_[user_index])


class StagedFactors(ContentFactors):
    """Content factors with a stand-in second stage: each query's 6 best unseen items reordered by popularity."""

    name: ClassVar[str] = "staged-factors"
    candidates: ClassVar[int] = 6

    def second_stage(self) -> object:
        return self  # anything but None: the service asks query_scores for the full score

    def query_scores(self, query: np.ndarray, items: np.ndarray, history: np.ndarray, seen: np.ndarray) -> np.ndarray:
        scores = (items @ query).astype(np.float32)  # (n_items,)
        assert self.train_matrix_ is not None
        counts = np.zeros(len(items), np.float32)
        trained = np.asarray(self.train_matrix_.sum(axis=0)).ravel()[: len(items)]
        counts[: len(trained)] = trained
        open_scores = scores.copy()
        open_scores[seen] = -np.inf
        best = np.argsort(-open_scores, kind="stable")[: self.candidates]
        order = best[np.argsort(-counts[best], kind="stable")]
        lifted = scores.copy()
        lifted[order] = scores.max() + 1.0 + np.arange(len(order), 0, -1, dtype=np.float32)
        return lifted


MODELS: dict[str, Callable[[], Recommender]] = {
    "content-factors": lambda: ContentFactors(dim=8),
    "id-factors": lambda: IdFactors(dim=8),
    "count-scores": lambda: CountScores(),
    "ease-factors": lambda: EaseFactors(dim=8),
    "staged-factors": lambda: StagedFactors(dim=8),
}


def stand_in_preference(self: ContentEncoder, text: str) -> EncodedContent:
    """Fixed text features of a preference (no text model is loaded in these tests)."""
    values = np.random.default_rng(PREFERENCE_SEED).standard_normal(16)
    return EncodedContent(features={"text": [float(v) for v in values]})


def ranked(answer: Any) -> dict[str, Any]:
    return {
        "strategy": answer.strategy,
        "degraded": answer.degraded,
        "items": [int(i) for i in answer.items],
        "scores": [float(s) for s in answer.scores],
    }


def attempt(call: Callable[[], Any], shape: Callable[[Any], Any] = ranked) -> Any:
    """What the call gives, or the error class it raises (a path a model does not support)."""
    try:
        return shape(call())
    except ServeError as exc:
        return {"error": type(exc).__name__}


def explained(answer: Any) -> dict[str, Any]:
    return {
        "item": answer.item,
        "score": answer.score,
        "strategy": answer.strategy,
        "method": answer.method,
        "contributions": [[name, value] for name, value in answer.contributions],
        "because": [[item, value] for item, value in answer.because],
    }


def written(answer: Any) -> dict[str, Any]:
    return {"index": answer.info.index, "created": answer.created, "placed_from": answer.placed_from}


def scenarios(service: RecommendationService) -> dict[str, Any]:
    """Every ranking path, in an order where later calls see the events and items of earlier ones."""
    out: dict[str, Any] = {"check_model": service.check_model()}
    for user in ("u0", "u3", "u17"):
        out[f"user {user}"] = attempt(lambda user=user: service.recommend_user(user, K))  # type: ignore[misc]
    out["user u3 excluding"] = attempt(lambda: service.recommend_user("u3", K, exclude=["i0", "i1", "i2", "i5"]))
    out["unknown user"] = attempt(lambda: service.recommend_user("nobody", K, exclude=["i0"]))
    out["history"] = attempt(lambda: service.recommend_history(["i1", "i2", "i3"], K, exclude=["i4"]))
    out["preference"] = attempt(lambda: service.recommend_preference("sunny comedies", K))
    out["preference with history"] = attempt(lambda: service.recommend_preference("sunny comedies", K, ["i7"]))
    out["similar i5"] = attempt(lambda: service.similar("i5", K))
    for kind, value, item in (("like", None, "i9"), ("dislike", None, "i11"), ("rating", 5.0, "i30")):
        service.record_event(NewEvent("u3", item, kind, value))
    out["user u3 after events"] = attempt(lambda: service.recommend_user("u3", K))
    service.record_event(NewEvent("newcomer", "i40", "like"))
    out["new user with an event"] = attempt(lambda: service.recommend_user("newcomer", K))
    features = service.dataset.features
    added = {m: [float(v) for v in values[12] * 0.9] for m, values in features.items()}
    out["added item"] = attempt(lambda: service.upsert_item("fresh", {"title": "Fresh", "features": added}), written)
    out["similar to the added item"] = attempt(lambda: service.similar("fresh", K))
    out["user u0 after the added item"] = attempt(lambda: service.recommend_user("u0", K))
    out["explain u3 i12"] = attempt(lambda: service.explain("u3", "i12"), explained)
    out["explain nobody i12"] = attempt(lambda: service.explain("nobody", "i12"), explained)
    service.forget_user("u0")
    out["forgotten user"] = attempt(lambda: service.recommend_user("u0", K))
    return out


def run(name: str, split: Split, folder: Path) -> dict[str, Any]:
    """The scenarios on a fresh service of model ``name`` fitted on ``split``."""
    path = save_artifact(MODELS[name]().fit(split), folder / name)
    url = f"sqlite:///{folder / (name + '.sqlite3')}"
    settings = ServeSettings(artifact=path, store_url=url, api_key="key", sync_interval_s=0)
    loaded = load_artifact(path, trusted_modules=("fusionrec.", "tests.serve."))
    service = RecommendationService(loaded, EventStore(url), settings)
    try:
        return scenarios(service)
    finally:
        service.close()


@pytest.fixture(scope="module")
def split() -> Split:
    return synthetic_split(n_users=60, n_items=50, seed=3)


@pytest.fixture(autouse=True)
def fixed_preference(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(ContentEncoder, "encode_preference", stand_in_preference)
    yield


def assert_same(got: Any, expected: Any, where: str) -> None:
    """Equal, with float scores compared to 1e-4 relative (other platforms round the last bits differently)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(expected), f"{where}: keys {got} != {expected}"
        for key in expected:
            assert_same(got[key], expected[key], f"{where}/{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), f"{where}: {got} != {expected}"
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-5), f"{where}: {got} != {expected}"
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"


@pytest.mark.parametrize("name", list(MODELS))
def test_every_ranking_path_gives_the_pinned_lists(name: str, split: Split, tmp_path: Path) -> None:
    expected = json.loads(GOLDEN.read_text())[name]
    assert_same(run(name, split, tmp_path), expected, name)


def regenerate() -> None:
    """Write the golden file from the current code."""
    ContentEncoder.encode_preference = stand_in_preference  # type: ignore[method-assign]
    data = synthetic_split(n_users=60, n_items=50, seed=3)
    with tempfile.TemporaryDirectory() as folder:
        golden = {name: run(name, data, Path(folder)) for name in MODELS}
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    from tests.serve import test_ranking_regression as pinned  # the models' classes under their importable name

    pinned.regenerate()
