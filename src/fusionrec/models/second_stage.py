"""A second stage that reorders the first stage's top candidates, learned on valid.

The flagship's score adds its parts (the members' cosines, the content
channel, the EASE channel) with one weight for every user and item. How much
each should count depends on who asks and what is ranked: on TikTok the
held-out items are each user's latest, and the first stage, trained on the
whole history, puts the catalog's most-trained items in 35 % of its top-20
places where 7 % of the held-out items are that popular. A second stage
learns this from valid's held-out items: a small gradient-boosted classifier
over a few features of each of a user's ``CANDIDATES`` best items reorders
them (see ``docs/decisions/0005-second-stage.md``).

Features of a (user, candidate), in :data:`FEATURES` order: the first stage's
score, the members' mean cosine, the EASE channel's score, the content
channel's score, the absolute difference of the members' cosines (0 for one
member), the candidate's position in the first stage, log(1 + the item's
training interactions) and log(1 + the user's).

The classifier is scikit-learn's histogram gradient boosting, fitted once
with the fixed settings of :data:`BOOSTING`; its trees are then kept as plain
arrays (:class:`BoostedTrees`), so an artifact stores them like any weights
and scoring needs no pickled estimator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingClassifier

from fusionrec.errors import ConfigError

CANDIDATES = 100
"""How many of a user's best first-stage items the second stage reorders."""

FEATURES = (
    "score",
    "cosine",
    "ease",
    "content",
    "disagreement",
    "position",
    "log_item_degree",
    "log_user_degree",
)

GENERIC_FEATURES = ("score", "position", "log_item_degree", "log_user_degree")
"""Features of a (user, candidate) for any scorer (:class:`~fusionrec.models.staged.Staged`)."""

BOOSTING = {
    "max_iter": 100,
    "learning_rate": 0.05,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 200,
    "early_stopping": False,
    "random_state": 0,
}
"""Settings of the classifier, fixed before it was first read on valid and never tuned."""


@dataclass(frozen=True)
class ScoreParts:
    """The first stage's score of ``n`` users over the catalog, by part: each float (n, n_items).

    ``cosines`` holds one array per member; the score is their mean plus ``content`` plus ``ease``.
    """

    cosines: tuple[np.ndarray, ...]
    content: np.ndarray
    ease: np.ndarray

    @property
    def cosine(self) -> np.ndarray:
        return np.mean(self.cosines, axis=0) if len(self.cosines) > 1 else self.cosines[0]

    @property
    def score(self) -> np.ndarray:
        return self.cosine + self.content + self.ease


@dataclass(frozen=True)
class Candidates:
    """Each user's ``CANDIDATES`` best first-stage items (``items``, best first) and their features."""

    items: np.ndarray  # int64 (n, c)
    first_scores: np.ndarray  # float (n, c)
    features: np.ndarray  # float64 (n * c, len(FEATURES))

    @classmethod
    def build(
        cls, parts: ScoreParts, seen: sp.csr_matrix, item_degree: np.ndarray, user_degree: np.ndarray
    ) -> Candidates:
        """Candidates of the users whose parts are given; ``seen`` (n, n_items) items are never candidates."""
        cosine = parts.cosine
        score = np.array(cosine + parts.content + parts.ease, dtype=np.float64)  # parts.score, cosine computed once
        score[seen.nonzero()] = -np.inf
        count = min(CANDIDATES, score.shape[1])
        items = _best_first(score, count)
        at = np.arange(len(score))[:, None], items
        usable = np.isfinite(score[at])
        position = np.broadcast_to(np.arange(count, dtype=np.float64), items.shape)
        member_cosines = [c[at] for c in parts.cosines]  # only the candidates' (n, c)
        columns = [
            score[at],
            cosine[at],
            parts.ease[at],
            parts.content[at],
            np.max(member_cosines, axis=0) - np.min(member_cosines, axis=0),
            position,
            np.log1p(item_degree[items]),
            np.broadcast_to(np.log1p(user_degree)[:, None], items.shape),
        ]
        features = np.stack([np.where(usable, c, 0.0) for c in columns], axis=-1).reshape(-1, len(FEATURES))
        return cls(items, np.where(usable, score[at], -np.inf), features)

    @classmethod
    def generic(
        cls,
        scores: np.ndarray,
        seen: sp.csr_matrix,
        item_degree: np.ndarray,
        user_degree: np.ndarray,
        count: int = CANDIDATES,
    ) -> Candidates:
        """Candidates of any scorer, by :data:`GENERIC_FEATURES`: the score, its position, log(1 + degree) of
        the item and of the user; ``seen`` (n, n_items) items are never candidates."""
        score = np.array(scores, dtype=np.float64)  # a copy: seen items are set to -inf
        score[seen.nonzero()] = -np.inf
        count = min(count, score.shape[1])
        items = _best_first(score, count)
        at = np.arange(len(score))[:, None], items
        usable = np.isfinite(score[at])
        columns = [
            score[at],
            np.broadcast_to(np.arange(count, dtype=np.float64), items.shape),
            np.log1p(item_degree[items]),
            np.broadcast_to(np.log1p(user_degree)[:, None], items.shape),
        ]
        features = np.stack([np.where(usable, c, 0.0) for c in columns], axis=-1).reshape(-1, len(GENERIC_FEATURES))
        return cls(items, np.where(usable, score[at], -np.inf), features)

    def labels(self, targets: sp.csr_matrix) -> np.ndarray:
        """bool (n * c,): whether each candidate is one of its user's ``targets`` (n, n_items)."""
        rows = np.repeat(np.arange(len(self.items)), self.items.shape[1])
        return np.asarray(targets[rows, self.items.ravel()]).ravel() > 0

    def order(self, decision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(items, usable): int64 (n, c) the candidates reordered by ``decision`` (n * c,), ties by the first
        stage, and bool (n, c) whether each is a real candidate (not a seen item filling a short row)."""
        usable = np.isfinite(self.first_scores)
        value = np.where(usable, decision.reshape(self.items.shape), -np.inf)
        ranks = np.lexsort((-self.first_scores, -value), axis=1)
        return np.take_along_axis(self.items, ranks, axis=1), np.take_along_axis(usable, ranks, axis=1)


def _best_first(score: np.ndarray, count: int) -> np.ndarray:
    """int64 (n, count) the columns of each row's ``count`` largest scores, largest first."""
    if count < score.shape[1]:
        top = np.argpartition(-score, count - 1, axis=1)[:, :count]
    else:
        top = np.broadcast_to(np.arange(score.shape[1]), score.shape).copy()
    order = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1).astype(np.int64)


@dataclass(frozen=True)
class BoostedTrees:
    """Binary gradient-boosted trees as plain arrays: ``decision(x) = baseline + sum of each tree's leaf value``.

    ``feature``, ``threshold``, ``left``, ``right``, ``is_leaf`` and ``value`` hold every tree's nodes one
    tree after another; ``offsets`` (n_trees + 1,) delimit them. A row goes left where
    ``x[feature] <= threshold`` (features are never missing here).
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    offsets: np.ndarray
    baseline: float

    @classmethod
    def from_sklearn(cls, model: object) -> BoostedTrees:
        """The trees of a fitted binary ``HistGradientBoostingClassifier`` without categorical features."""
        trees = [predictors[0].nodes for predictors in model._predictors]  # type: ignore[attr-defined]
        offsets = np.cumsum([0] + [len(t) for t in trees])
        nodes = np.concatenate(trees)
        shift = np.repeat(offsets[:-1], [len(t) for t in trees])
        return cls(
            feature=nodes["feature_idx"].astype(np.int64),
            threshold=nodes["num_threshold"].astype(np.float64),
            left=nodes["left"].astype(np.int64) + shift,
            right=nodes["right"].astype(np.int64) + shift,
            is_leaf=nodes["is_leaf"].astype(bool),
            value=nodes["value"].astype(np.float64),
            offsets=offsets.astype(np.int64),
            baseline=float(np.ravel(model._baseline_prediction)[0]),  # type: ignore[attr-defined]
        )

    def decision(self, features: np.ndarray) -> np.ndarray:
        """float64 (n,) the raw decision (log-odds) of each row of ``features`` (n, n_features)."""
        rows = np.arange(len(features))
        total = np.full(len(features), self.baseline)
        for root in self.offsets[:-1]:
            node = np.full(len(features), root)
            inner = ~self.is_leaf[node]
            while inner.any():
                at = node[inner]
                goes_left = features[rows[inner], self.feature[at]] <= self.threshold[at]
                node[inner] = np.where(goes_left, self.left[at], self.right[at])
                inner = ~self.is_leaf[node]
            total += self.value[node]
        return total

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The trees as named arrays (for an artifact); :meth:`from_arrays` reads them back."""
        fields = {name: getattr(self, name) for name in ("feature", "threshold", "left", "right", "is_leaf")}
        fields |= {"value": self.value, "offsets": self.offsets, "baseline": np.array([self.baseline])}
        return {prefix + name: array for name, array in fields.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> BoostedTrees:
        get = {name: np.asarray(arrays[prefix + name]) for name in ("feature", "threshold", "left", "right")}
        return cls(
            **get,
            is_leaf=np.asarray(arrays[prefix + "is_leaf"]).astype(bool),
            value=np.asarray(arrays[prefix + "value"]),
            offsets=np.asarray(arrays[prefix + "offsets"]),
            baseline=float(np.asarray(arrays[prefix + "baseline"])[0]),
        )


def fit_trees(features: np.ndarray, labels: np.ndarray, boosting: dict[str, Any] | None = None) -> BoostedTrees:
    """The classifier of :data:`BOOSTING` (``boosting`` overrides some keys) fitted on candidates' ``features``
    and ``labels``, as arrays."""
    if not labels.any():
        raise ConfigError(
            "second_stage found no held-out item among the valid users' candidates, so it has nothing to learn "
            "from; give the split a valid part with held-out items, or turn second_stage off"
        )
    if not np.isfinite(features).all():
        raise ConfigError("second stage: the candidates' features hold non-finite values; the scores must be finite")
    model = HistGradientBoostingClassifier(**{**BOOSTING, **(boosting or {})}).fit(features, labels)
    return BoostedTrees.from_sklearn(model)


def reranked_scores(scores: np.ndarray, candidates: Candidates, trees: BoostedTrees) -> np.ndarray:
    """``scores`` (n, n_items) with each user's candidates lifted above every other item in the stage's order.

    The candidates take ``row maximum + 1 + (c - place)`` (exact in float32 for c up to 100), so ranking the
    result lists them in the second stage's order, then the rest in the first stage's.
    """
    ordered, usable = candidates.order(trees.decision(candidates.features))
    top = np.where(np.isfinite(scores), scores, -np.inf).max(axis=1, keepdims=True)
    lift = top + 1 + np.arange(ordered.shape[1], 0, -1)[None, :]
    result = scores.copy()
    kept = np.take_along_axis(scores, ordered, axis=1)
    np.put_along_axis(result, ordered, np.where(usable, lift, kept).astype(scores.dtype), axis=1)
    return result


@runtime_checkable
class WithSecondStage(Protocol):
    """A model whose ranking may pass through a second stage (the service must rank by its full score)."""

    def second_stage(self) -> BoostedTrees | None:
        """The fitted second stage, or None when the model ranks by its first stage alone."""
        ...

    def query_scores(self, query: np.ndarray, items: np.ndarray, history: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """float32 (n_items,) the model's full score of one query vector over ``items``."""
        ...
