"""Tiny known-answer data sets for contract tests of models.

* :func:`checkerboard_split` - two groups of users, each liking one half of
  the items (the "checkerboard" of implicit's test suite). Any reasonable
  model ranks the user's own half first; :func:`preferred_items` gives it.
* :func:`image_only_split` / :func:`text_only_split` - only one modality
  explains preference (the other is pure noise), and valid / test items are
  cold (never in train). A model that reads that modality must beat an
  ID-only one, which knows nothing about cold items.

All are deterministic for a given seed and small enough to train in a
second.

Example:
    >>> split = checkerboard_split()
    >>> split.n_users, split.n_items
    (20, 20)
"""

from __future__ import annotations

import numpy as np

from fusionrec.data.dataset import Dataset, Protocol, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.splits import cold_start_split, random_split
from fusionrec.data.vocabulary import Vocabulary

FEATURE_DIM = 8


def checkerboard_split(n_users: int = 20, n_items: int = 20, density: float = 0.6, seed: int = 0) -> Split:
    """Users ``A..`` like items ``A..``, users ``B..`` like items ``B..``; nothing crosses.

    Each user interacts with a random ``density`` share of their group's
    items; those are split per user 6:2:2, so valid and test items are
    always in the user's own half. "text" and "image" features mark the
    half (plus small noise), so content models can learn it too.

    Args:
        n_users: even number of users (half per group).
        n_items: even number of items (half per group).
        density: share of its half each user interacts with.
        seed: random seed.

    Example:
        >>> split = checkerboard_split(seed=1)
        >>> bool(np.isin(split.test.item_index[split.test.user_index == 0], preferred_items(split, 0)).all())
        True
    """
    rng = np.random.default_rng(seed)
    user_group, item_group = _groups(n_users), _groups(n_items)
    users, items = [], []
    for user in range(n_users):
        own = np.flatnonzero(item_group == user_group[user])
        chosen = rng.choice(own, size=max(3, round(density * len(own))), replace=False)
        users.append(np.full(len(chosen), user))
        items.append(chosen)
    user_ids = [f"{'AB'[g]}{u:02d}" for u, g in enumerate(user_group)]  # the group letter is visible
    item_ids = [f"{'AB'[g]}-item{i:02d}" for i, g in enumerate(item_group)]
    dataset = _dataset("checkerboard", user_ids, item_ids, np.concatenate(users), np.concatenate(items))
    half = np.eye(2)[item_group]  # (n_items, 2)
    for modality in ("text", "image"):
        dataset.add_feature(modality, _noisy(rng, half, noise=0.1), source=f"checkerboard {modality}")
    return random_split(dataset, ratios=(0.6, 0.2, 0.2), seed=seed)


def preferred_items(split: Split, user_index: int) -> np.ndarray:
    """Item indices of the half that user ``user_index`` of a checkerboard split likes."""
    group = split.dataset.users.ids[user_index][0]
    return np.array([i for i, raw in enumerate(split.dataset.items.ids) if raw[0] == group], dtype=np.int64)


def image_only_split(
    n_users: int = 120,
    n_items: int = 160,
    n_classes: int = 4,
    seed: int = 0,
    protocol: Protocol = "cold",
) -> Split:
    """A catalog where only the "image" features explain preference; "text" is noise.

    Each item belongs to one of ``n_classes`` hidden classes, visible only
    in its image features; each user likes one class and interacts with
    about a third of its items. With ``protocol="cold"`` items are split
    60/20/20 so valid and test items never occur in train: an ID-only model
    ranks them by chance (about 1 / n_classes of its top picks are right)
    while a model reading images can rank them nearly perfectly.
    ``protocol="warm"`` splits each user's interactions 6:2:2 instead.

    Example:
        >>> split = image_only_split()
        >>> split.protocol, split.dataset.modalities
        ('cold', ['image', 'text'])
    """
    return _content_only_split("image", n_users, n_items, n_classes, seed, protocol)


def text_only_split(
    n_users: int = 120,
    n_items: int = 160,
    n_classes: int = 4,
    seed: int = 0,
    protocol: Protocol = "cold",
) -> Split:
    """Like :func:`image_only_split` with the roles swapped: only "text" explains preference."""
    return _content_only_split("text", n_users, n_items, n_classes, seed, protocol)


def _content_only_split(
    informative: str, n_users: int, n_items: int, n_classes: int, seed: int, protocol: Protocol
) -> Split:
    rng = np.random.default_rng(seed)
    item_class = rng.permutation(np.arange(n_items) % n_classes)
    user_class = rng.permutation(np.arange(n_users) % n_classes)
    users, items = [], []
    for user in range(n_users):
        own = np.flatnonzero(item_class == user_class[user])
        chosen = rng.choice(own, size=max(3, len(own) // 3), replace=False)
        users.append(np.full(len(chosen), user))
        items.append(chosen)
    user_ids, item_ids = [f"u{u:03d}" for u in range(n_users)], [f"i{i:03d}" for i in range(n_items)]  # no class hint
    dataset = _dataset(f"{informative}-only", user_ids, item_ids, np.concatenate(users), np.concatenate(items))
    one_hot = np.eye(n_classes)[item_class]  # (n_items, n_classes)
    for modality in ("image", "text"):
        signal = one_hot if modality == informative else np.zeros_like(one_hot)
        dataset.add_feature(modality, _noisy(rng, signal, noise=0.1 if modality == informative else 1.0))
    if protocol == "cold":
        return cold_start_split(dataset, ratios=(0.6, 0.2, 0.2), seed=seed)
    return random_split(dataset, ratios=(0.6, 0.2, 0.2), seed=seed)


def _groups(n: int) -> np.ndarray:
    """int64 (n,) group labels 0 for the first half, 1 for the second."""
    return (np.arange(n) >= n // 2).astype(np.int64)


def _dataset(
    name: str, user_ids: list[str], item_ids: list[str], user_index: np.ndarray, item_index: np.ndarray
) -> Dataset:
    n_users, n_items = len(user_ids), len(item_ids)
    timestamp = np.arange(len(user_index), dtype=np.int64)  # file order doubles as time
    interactions = Interactions(
        user_index.astype(np.int64), item_index.astype(np.int64), n_users, n_items, timestamp=timestamp
    )
    return Dataset(
        name=name,
        users=Vocabulary.from_ids(user_ids, kind="user"),
        items=Vocabulary.from_ids(item_ids, kind="item"),
        interactions=interactions,
    )


def _noisy(rng: np.random.Generator, signal: np.ndarray, noise: float) -> np.ndarray:
    """float32 (n, FEATURE_DIM): ``signal`` through a random linear map plus Gaussian noise."""
    mixing = rng.normal(size=(signal.shape[1], FEATURE_DIM))  # (k, FEATURE_DIM)
    values = signal @ mixing + noise * rng.normal(size=(signal.shape[0], FEATURE_DIM))
    return values.astype(np.float32)
