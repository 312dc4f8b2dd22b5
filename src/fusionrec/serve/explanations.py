"""Why an item scores what it does for a user: each modality's share of the score, and the closest history items.

The shares come from the model itself where it can say: a
:class:`~fusionrec.models.base.ContentAware` model's trained items split into
one vector per modality (``decomposition``), an item added through the
service splits by occlusion (``occlusion``, see
:mod:`fusionrec.serve.placement`), any other item is one ``id`` part
(``total``). A model whose score adds an EASE channel reports the channel as
a ``co-occurrence`` part, so the parts sum to the score the ranking used.

Example:
    >>> explainer.explain(state, item=12, n_because=3).contributions  # doctest: +SKIP
    [('id', 0.41), ('image', 0.12), ('text', 0.30)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fusionrec.serve.index import ItemIndex
    from fusionrec.serve.ranking import Ranker
    from fusionrec.serve.user_state import UserState


@dataclass
class Explanation:
    """Why ``item`` scores what it does for a user."""

    item: int
    score: float
    strategy: str
    method: str
    contributions: list[tuple[str, float]] = field(default_factory=list)
    because: list[tuple[int, float]] = field(default_factory=list)
    degraded: bool = False


class Explainer:
    """Explains scores of the served model.

    Args:
        index: the item index.
        ranker: the service's ranker (its popularity and its EASE channel).
        modality_parts: ``{modality: float32 (n_trained, d)}`` parts of the trained items' vectors, or None.
        added_parts: ``{item: {modality: float32 (d,)}}`` parts of items added through the service (kept current
            by the catalog's updates).
        n_trained: items the model was trained with.
    """

    def __init__(
        self,
        index: ItemIndex,
        ranker: Ranker,
        modality_parts: dict[str, np.ndarray] | None,
        added_parts: dict[int, dict[str, np.ndarray]],
        n_trained: int,
    ) -> None:
        self.index, self.ranker, self.modality_parts = index, ranker, modality_parts
        self.added_parts, self.n_trained = added_parts, n_trained

    def explain(self, state: UserState, item: int, n_because: int = 3) -> Explanation:
        """Each part of ``item``'s score for the user in ``state``, and the ``n_because`` closest history items."""
        if state.query is None:
            popularity = self.ranker.popularity
            score = float(popularity[item]) if item < len(popularity) else 0.0
            return Explanation(item, score, "popularity", "popularity", degraded=state.degraded)
        vector = self.index.vectors(np.array([item]))[0]
        contributions, method = self._contributions(state.query, item, vector)
        score = float(state.query @ vector)
        channel = self.ranker.channel_score(state.history, item)
        if channel is not None:  # the EASE channel's part of the score
            contributions.append(("co-occurrence", channel))
            score += channel
        because = self._because(state.history, item, vector, n_because)
        return Explanation(item, score, state.strategy, method, contributions, because, state.degraded)

    def _contributions(self, query: np.ndarray, item: int, vector: np.ndarray) -> tuple[list[tuple[str, float]], str]:
        if item in self.added_parts:
            return [(m, float(query @ part)) for m, part in self.added_parts[item].items()], "occlusion"
        if self.modality_parts is not None and item < self.n_trained:
            return [(m, float(query @ parts[item])) for m, parts in self.modality_parts.items()], "decomposition"
        return [("id", float(query @ vector))], "total"

    def _because(self, history: list[int], item: int, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        candidates = np.array(sorted(set(history) - {item}), dtype=np.int64)
        if not len(candidates) or n < 1:
            return []
        vectors = self.index.vectors(candidates)  # (m, d)
        norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(vector)), 1e-12)
        cosine = vectors @ vector / np.maximum(norms, 1e-12)
        best = np.argsort(-cosine, kind="stable")[:n]
        return [(int(candidates[b]), float(cosine[b])) for b in best]


__all__ = ["Explainer", "Explanation"]
