"""Guards that keep non-finite and overflowing numbers out of the index, the store and every ranking.

Three places let numbers in: features a client sends (or an encoder gives
for sent content), vectors the model computes from them, and query
vectors built from a user's events. Features are bounded by
:data:`MAX_FEATURE_MAGNITUDE`; a computed item vector must be finite and
no longer than :data:`MAX_VECTOR_NORM`, so that the inner product of any
two vectors (at most ``MAX_VECTOR_NORM ** 2`` = 1e24) stays far inside
float32's range (3.4e38) and a score can never become inf or NaN.

Example:
    >>> vector_problem(np.array([1.0, np.nan], np.float32))
    '1 of 2 values are not finite'
    >>> vector_problem(np.ones(3, np.float32)) is None
    True
"""

from __future__ import annotations

import numpy as np

from fusionrec.serve.errors import InvalidInputError

MAX_FEATURE_MAGNITUDE = 1e6
"""Largest absolute feature value accepted. Encoders give values of order 1 (at most about 100);
1e6 leaves room for unnormalised features, while 1e20 made NaN vectors."""

MAX_VECTOR_NORM = 1e12
"""Longest item or query vector that is indexed or searched with (see the module docstring)."""


def check_features(modality: str, row: np.ndarray) -> None:
    """Raise InvalidInputError naming the first value of ``row`` (float (1, d)) that is non-finite or out of range."""
    bad = np.flatnonzero(~np.isfinite(row[0]) | (np.abs(row[0]) > MAX_FEATURE_MAGNITUDE))
    if len(bad):
        position = int(bad[0])
        raise InvalidInputError(
            f"features[{modality!r}] has {len(bad)} value(s) that are not finite or lie outside the allowed range "
            f"[-{MAX_FEATURE_MAGNITUDE:g}, {MAX_FEATURE_MAGNITUDE:g}] (the first: {float(row[0, position]):g} at "
            f"position {position}); send the features the {modality} encoder gives"
        )


def vector_problem(vector: np.ndarray) -> str | None:
    """Why ``vector`` (any shape) must not be indexed or searched with, or None when it is fine."""
    values = np.asarray(vector, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        return f"{int((~finite).sum())} of {values.size} values are not finite"
    norm = float(np.linalg.norm(values))
    if norm > MAX_VECTOR_NORM:
        return f"its length {norm:.3g} exceeds {MAX_VECTOR_NORM:g}"
    return None


def check_item_vector(item_id: str, vector: np.ndarray, parts: dict[str, np.ndarray]) -> None:
    """Raise InvalidInputError when the model's vector for ``item_id`` (or a modality's part of it) is unusable."""
    for name, values in {"vector": vector, **{f"{m} part": part for m, part in parts.items()}}.items():
        problem = vector_problem(values)
        if problem is not None:
            raise InvalidInputError(
                f"item {item_id!r}: the model's {name} for the sent features is unusable ({problem}); the features "
                "are probably far from those the model was trained on. Send features like the model's own, or "
                "its raw content"
            )


__all__ = ["MAX_FEATURE_MAGNITUDE", "MAX_VECTOR_NORM", "check_features", "check_item_vector", "vector_problem"]
