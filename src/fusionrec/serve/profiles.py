"""Online user profiles: a user's vector for the next request, from events recorded since training.

Each event weighs ``EVENT_WEIGHTS[kind]`` (a rating of 1-5 maps to -1..1).
The profile is a weighted mean of the event items' vectors; for a user the
model knows, it is blended with the trained vector, rescaled to the same
length, with weight ``n / (n + half_weight)`` where ``n`` is the total
absolute event weight, so ``half_weight`` events count as much as all of
training. No retraining happens.

Example:
    >>> base = np.array([1.0, 0.0], np.float32)
    >>> profile_vector(base, np.array([[0.0, 2.0]], np.float32), np.array([1.0]), half_weight=1.0).tolist()
    [0.5, 0.5]
"""

from __future__ import annotations

import numpy as np

EVENT_WEIGHTS: dict[str, float] = {"view": 0.5, "click": 0.5, "like": 1.0, "purchase": 1.0, "dislike": -1.0}
"""Weight of one event of each kind; ``rating`` events use their value."""

EVENT_KINDS = (*EVENT_WEIGHTS, "rating")


def event_weight(kind: str, value: float | None) -> float:
    """Weight of one event: ``EVENT_WEIGHTS[kind]``, or ``(value - 3) / 2`` for a 1-5 rating."""
    if kind == "rating":
        return 0.0 if value is None else float(np.clip((value - 3.0) / 2.0, -1.0, 1.0))
    return EVENT_WEIGHTS[kind]


def profile_vector(
    base: np.ndarray | None, event_vectors: np.ndarray, weights: np.ndarray, half_weight: float
) -> np.ndarray | None:
    """The user's vector after their events.

    Args:
        base: float32 (d,) trained user vector, or None for a user the model never saw.
        event_vectors: float32 (m, d) vectors of the items of the user's events.
        weights: float (m,) event weights (negative for dislikes).
        half_weight: total absolute event weight at which events and training count equally.

    Returns:
        float32 (d,) profile, ``base`` when there are no weighted events, None when there is nothing.
    """
    total = float(np.abs(weights).sum())
    if total == 0.0:
        return base
    mean = (weights[:, None] * event_vectors).sum(axis=0) / total  # (d,)
    if base is None:
        return mean.astype(np.float32)
    mean_norm, base_norm = float(np.linalg.norm(mean)), float(np.linalg.norm(base))
    if mean_norm == 0.0:
        return base
    if base_norm == 0.0:
        return mean.astype(np.float32)
    share = total / (total + half_weight)
    return ((1.0 - share) * base + share * (base_norm / mean_norm) * mean).astype(np.float32)


__all__ = ["EVENT_KINDS", "EVENT_WEIGHTS", "event_weight", "profile_vector"]
