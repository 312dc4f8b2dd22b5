"""The evaluation protocol of a split: which items are excluded and which may be ranked.

Full ranking over all items (warm) or over the part's own items (cold);
the user's training items are never ranked; metrics are averaged over the
users with at least one held-out (candidate) item. The same users' top
lists give the beyond-accuracy metrics, over the part's candidates as the
catalog, with training counts for popularity and the items' content (or
the model's item vectors) for intra-list diversity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fusionrec.errors import ConfigError, ModelError
from fusionrec.evaluation.beyond import ItemStatistics
from fusionrec.evaluation.metrics import METRICS
from fusionrec.evaluation.ranking import DEFAULT_KS, Evaluation, evaluate_scores
from fusionrec.models.diversity import similarity_vectors

if TYPE_CHECKING:
    import scipy.sparse as sp

    from fusionrec.data.dataset import Part, Split
    from fusionrec.models.base import Recommender

EVALUATED_PARTS = ("valid", "test")


def evaluate_model(
    model: Recommender,
    split: Split,
    part: Part = "test",
    ks: tuple[int, ...] = DEFAULT_KS,
    metrics: tuple[str, ...] = METRICS,
    chunk_size: int | None = None,
    beyond: bool = True,
) -> Evaluation:
    """Evaluate a fitted model on ``split.valid`` or ``split.test``.

    Candidates come from ``split.candidates(part)`` (cold protocol: that
    part's items; warm: every item) and each user's training items are
    excluded from the ranking.

    Args:
        model: a fitted :class:`~fusionrec.models.base.Recommender`.
        split: the split the model was fitted on (same users and items).
        part: ``"valid"`` or ``"test"``.
        ks: cut-offs.
        metrics: metric names.
        chunk_size: users scored at once; None sizes chunks to about 128 MiB of scores.
        beyond: also compute the beyond-accuracy metrics (:attr:`Evaluation.beyond`) at ``ks``.

    Returns:
        Per-user values for every ``metric@k`` (and the beyond-accuracy values of all lists).

    Example:
        >>> evaluation = evaluate_model(model.fit(split), split, "test", ks=(20,))  # doctest: +SKIP
        >>> evaluation.summary()["ndcg@20"]  # doctest: +SKIP
    """
    if part not in EVALUATED_PARTS:
        raise ValueError(f"part must be one of {EVALUATED_PARTS}, got {part!r}; train is never evaluated")
    _check_fitted_on(model, split)
    train = train_matrix(split)
    return evaluate_scores(
        model.score_users,
        train,
        split.part(part).to_csr(),
        ks=ks,
        metrics=metrics,
        candidates=split.candidates(part),
        chunk_size=chunk_size,
        items=item_statistics(model, split, part, train) if beyond else None,
    )


def train_matrix(split: Split) -> sp.csr_matrix:
    """(n_users, n_items) binary CSR of the training items excluded from every ranking."""
    return split.train.to_csr()


def item_statistics(model: Recommender, split: Split, part: Part, train: sp.csr_matrix | None = None) -> ItemStatistics:
    """The catalog of ``part`` for the beyond-accuracy metrics: training users per item, item vectors, candidates.

    Item vectors are the dataset's content (:func:`~fusionrec.models.diversity.content_vectors`),
    else the model's item vectors, else none (ILD is then left out and ``vectors_source`` says why).
    """
    matrix = (train_matrix(split) if train is None else train).tocsr().copy()
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    counts = np.bincount(matrix.indices, minlength=split.n_items).astype(np.int64)
    try:
        vectors, source = similarity_vectors(model, split.dataset, "auto")
    except ConfigError:
        vectors, source = None, "none: the data has no content features and the model no item vectors"
    candidates = split.candidates(part)
    catalog = None if candidates is None else np.unique(np.asarray(candidates, dtype=np.int64))
    return ItemStatistics(counts, split.n_users, vectors, source, catalog)


def _check_fitted_on(model: Recommender, split: Split) -> None:
    fitted = model.split_
    if fitted is None:
        raise ModelError(f"{type(model).__name__} is not fitted; call model.fit(split) before evaluating it")
    if (fitted.n_users, fitted.n_items) != (split.n_users, split.n_items):
        raise ModelError(
            f"{type(model).__name__} was fitted on {fitted.n_users:,} users x {fitted.n_items:,} items but the "
            f"split to evaluate has {split.n_users:,} x {split.n_items:,}; evaluate on the split it was fitted on"
        )


__all__ = ["evaluate_model", "item_statistics", "train_matrix"]
