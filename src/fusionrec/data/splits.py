"""Splitters: turn a :class:`Dataset` into a train / valid / test :class:`Split`.

Every splitter is seeded and reproducible: the same dataset and seed give
the identical split, another seed gives another one. Each interaction
(row) lands in exactly one part. Users with too few interactions to give
one to every held-out part are kept entirely in train, and the split's
``description`` says how many.

* :func:`random_split` - per user, a random share of interactions per part.
* :func:`temporal_split` - per user, the latest interactions are held out.
* :func:`leave_one_out_split` - per user, the last (or a random) one is test,
  the one before it valid.
* :func:`cold_start_split` - items are partitioned; valid and test items never
  occur in train (``protocol="cold"``).
* :func:`split_from_file` - a fixed split from an MMRec ``.inter`` file with raw ids.

Example:
    >>> from fusionrec.data.demo import make_demo_catalog
    >>> split = random_split(make_demo_catalog(), ratios=(0.8, 0.1, 0.1), seed=0)
    >>> len(split.train) > len(split.test)
    True
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from fusionrec.data.dataset import Dataset, Protocol, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.mmrec import LABELS, read_inter
from fusionrec.data.validation import count_duplicate_pairs
from fusionrec.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

Ratios = tuple[float, float, float]
TRAIN, VALID, TEST = 0, 1, 2
SPLIT_KINDS = ("random", "temporal", "leave_one_out", "cold")


def check_ratios(ratios: Ratios) -> Ratios:
    """Validate ``(train, valid, test)`` shares: non-negative, train > 0, summing to 1."""
    values = tuple(float(r) for r in ratios)
    if len(values) != 3 or min(values) < 0 or values[0] <= 0 or abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(
            f"ratios must be three non-negative shares (train, valid, test) with train > 0 summing to 1, "
            f"got {tuple(ratios)}; for example (0.8, 0.1, 0.1)"
        )
    return values[0], values[1], values[2]


def random_split(dataset: Dataset, ratios: Ratios = (0.8, 0.1, 0.1), seed: int = 0, min_interactions: int = 3) -> Split:
    """Per user, hold out a random share of interactions for valid and test.

    A user with ``n`` interactions gives ``max(1, round(n * ratio))`` to each
    held-out part with a positive ratio; users with fewer than
    ``min_interactions`` stay entirely in train.

    Args:
        dataset: the interactions to split.
        ratios: ``(train, valid, test)`` shares; valid or test may be 0.
        seed: random seed; the same seed gives the same split.
        min_interactions: users below this count are kept in train.

    Example:
        >>> split = random_split(dataset, (0.8, 0.1, 0.1), seed=1)  # doctest: +SKIP
    """
    ratios = check_ratios(ratios)
    interactions = dataset.interactions
    key = np.random.default_rng(seed).random(len(interactions))
    n_valid, n_test, kept = _held_out_sizes(interactions, ratios, min_interactions)
    labels = _label_tail(interactions.user_index, key, n_valid, n_test)
    what = f"per-user random {_ratio_text(ratios)} split (seed {seed})"
    return _make_split(dataset, labels, "warm", what, kept, min_interactions)


def temporal_split(dataset: Dataset, ratios: Ratios = (0.8, 0.1, 0.1), min_interactions: int = 3) -> Split:
    """Per user, the latest interactions by timestamp go to test, the ones before to valid.

    Ties in time keep file order. Needs timestamps; sizes follow
    :func:`random_split`.

    Raises:
        DataError: the dataset has no timestamps.
    """
    ratios = check_ratios(ratios)
    interactions = dataset.interactions
    timestamp = _require_timestamps(dataset, "temporal_split")
    n_valid, n_test, kept = _held_out_sizes(interactions, ratios, min_interactions)
    labels = _label_tail(interactions.user_index, timestamp, n_valid, n_test)
    what = f"per-user temporal {_ratio_text(ratios)} split"
    return _make_split(dataset, labels, "warm", what, kept, min_interactions)


def leave_one_out_split(dataset: Dataset, seed: int = 0, min_interactions: int = 3) -> Split:
    """Per user, the last interaction is test and the second last valid.

    "Last" is by timestamp when the dataset has timestamps (``seed`` is
    then unused), else a seeded random choice. Users with fewer than
    ``min_interactions`` (at least 3) stay entirely in train.
    """
    if min_interactions < 3:
        raise ConfigError(
            f"min_interactions must be at least 3 for leave-one-out (train, valid, test), got {min_interactions}"
        )
    interactions = dataset.interactions
    counts = np.bincount(interactions.user_index, minlength=interactions.n_users)
    kept = counts >= min_interactions
    one = kept.astype(np.int64)
    if interactions.timestamp is not None:
        key, how = interactions.timestamp, "by time"
    else:
        key, how = np.random.default_rng(seed).random(len(interactions)), f"random, seed {seed}"
    labels = _label_tail(interactions.user_index, key, one, one)
    return _make_split(dataset, labels, "warm", f"leave-one-out split ({how})", kept, min_interactions)


def cold_start_split(dataset: Dataset, ratios: Ratios = (0.7, 0.1, 0.2), seed: int = 0) -> Split:
    """Partition the items that have interactions; every interaction follows its item.

    Valid and test items never occur in train, so the split has
    ``protocol="cold"`` and each part's candidates are that part's items.
    Items without any interaction belong to no part.

    Args:
        dataset: the interactions to split.
        ratios: ``(train, valid, test)`` shares of the items.
        seed: random seed for the item partition.
    """
    ratios = check_ratios(ratios)
    interactions = dataset.interactions
    items = np.random.default_rng(seed).permutation(interactions.items())
    n_train = int(np.floor(len(items) * ratios[0] + 0.5))
    n_valid = min(int(np.floor(len(items) * ratios[1] + 0.5)), len(items) - n_train)
    part_of_item = np.full(interactions.n_items, TRAIN, dtype=np.int8)
    part_of_item[items[n_train : n_train + n_valid]] = VALID
    part_of_item[items[n_train + n_valid :]] = TEST
    labels = part_of_item[interactions.item_index]
    sizes = f"{n_train:,} / {n_valid:,} / {len(items) - n_train - n_valid:,} items"
    what = f"cold-start item split {_ratio_text(ratios)} (seed {seed}; {sizes})"
    return _make_split(dataset, labels, "cold", what, None, 0)


def make_split(
    dataset: Dataset, kind: str, ratios: Ratios = (0.8, 0.1, 0.1), seed: int = 0, min_interactions: int = 3
) -> Split:
    """Split ``dataset`` with the splitter named ``kind`` (one of :data:`SPLIT_KINDS`).

    Example:
        >>> make_split(dataset, "cold", (0.7, 0.1, 0.2), seed=1)  # doctest: +SKIP
    """
    if kind == "random":
        return random_split(dataset, ratios, seed=seed, min_interactions=min_interactions)
    if kind == "temporal":
        return temporal_split(dataset, ratios, min_interactions=min_interactions)
    if kind == "leave_one_out":
        return leave_one_out_split(dataset, seed=seed, min_interactions=min_interactions)
    if kind == "cold":
        return cold_start_split(dataset, ratios, seed=seed)
    raise DataError(f"split kind {kind!r} is unknown; choose one of {', '.join(SPLIT_KINDS)}")


def split_from_file(dataset: Dataset, path: str | Path, protocol: Protocol | None = None) -> Split:
    """A fixed split read from an MMRec ``.inter`` file whose ids are the dataset's raw ids.

    Ratings and timestamps are taken from ``dataset`` for the pairs it holds.

    Raises:
        UnknownIdError: the file names users or items the dataset does not know.
    """
    path = Path(path)
    frame = read_inter(path)
    source = str(path)
    parts = Interactions(
        dataset.users.index(frame["userID"].to_numpy(), source=source),
        dataset.items.index(frame["itemID"].to_numpy(), source=source),
        dataset.n_users,
        dataset.n_items,
    )
    parts = _with_values_from(parts, dataset.interactions)
    labels = frame["x_label"].to_numpy()
    train, valid, test = (parts.select(labels == label) for label in sorted(LABELS))
    chosen: Protocol = protocol or ("cold" if path.stem.endswith("-cold") else "warm")
    return Split(dataset, train, valid, test, protocol=chosen, description=f"fixed split from {path.name}")


def _held_out_sizes(
    interactions: Interactions, ratios: Ratios, min_interactions: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-user int64 (n_users,) valid and test sizes, and bool (n_users,) users that are split."""
    n_parts = 1 + sum(r > 0 for r in ratios[1:])
    if min_interactions < n_parts:
        raise ConfigError(
            f"min_interactions must be at least {n_parts} for ratios {ratios} (one interaction per part), "
            f"got {min_interactions}"
        )
    counts = np.bincount(interactions.user_index, minlength=interactions.n_users)
    kept = counts >= min_interactions
    n_test = _share(counts, ratios[2]) * kept
    n_valid = np.minimum(_share(counts, ratios[1]), np.maximum(counts - 1 - n_test, 0)) * kept
    return n_valid, n_test, kept


def _share(counts: np.ndarray, ratio: float) -> np.ndarray:
    """``max(1, round(count * ratio))`` per user, or 0 where ``ratio`` is 0."""
    if ratio <= 0:
        return np.zeros_like(counts)
    return np.maximum(1, np.floor(counts * ratio + 0.5).astype(np.int64))


def _label_tail(user_index: np.ndarray, key: np.ndarray, n_valid: np.ndarray, n_test: np.ndarray) -> np.ndarray:
    """int8 (n,) part labels: per user, order rows by ``key`` and hold out the tail.

    The last ``n_test[u]`` rows of user ``u`` (by key, ties by row order)
    become test, the ``n_valid[u]`` before them valid, the rest train.
    """
    rows = np.arange(len(user_index))
    order = np.lexsort((rows, key, user_index))
    sorted_users = user_index[order]
    counts = np.bincount(user_index, minlength=len(n_test))
    first = np.searchsorted(sorted_users, sorted_users, side="left")
    from_end = counts[sorted_users] - 1 - (rows - first)  # 0 for each user's last row
    labels_sorted = np.where(
        from_end < n_test[sorted_users], TEST, np.where(from_end < (n_test + n_valid)[sorted_users], VALID, TRAIN)
    )
    labels = np.empty(len(user_index), dtype=np.int8)
    labels[order] = labels_sorted
    return labels


def _make_split(
    dataset: Dataset, labels: np.ndarray, protocol: Protocol, what: str, kept: np.ndarray | None, min_interactions: int
) -> Split:
    interactions = dataset.interactions
    train, valid, test = (interactions.select(labels == label) for label in (TRAIN, VALID, TEST))
    notes = [what, f"{len(train):,} / {len(valid):,} / {len(test):,} interactions"]
    if kept is not None:
        n_short = int(np.count_nonzero(~kept & (np.bincount(interactions.user_index, minlength=len(kept)) > 0)))
        notes.append(f"{n_short:,} users with fewer than {min_interactions} interactions kept entirely in train")
    duplicates = count_duplicate_pairs(interactions)
    if duplicates:
        notes.append(f"{duplicates:,} duplicate user-item rows may fall in different parts")
        logger.warning(
            "%s: the dataset has %d duplicate user-item rows; deduplicate before splitting", what, duplicates
        )
    return Split(dataset, train, valid, test, protocol=protocol, description="; ".join(notes))


def _require_timestamps(dataset: Dataset, caller: str) -> np.ndarray:
    timestamp = dataset.interactions.timestamp
    if timestamp is None:
        raise DataError(
            f"{caller} needs timestamps but dataset {dataset.name!r} has none; read it with a timestamp column "
            "(CatalogColumns(timestamp=...)) or use random_split / leave_one_out_split"
        )
    return timestamp


def _with_values_from(parts: Interactions, source: Interactions) -> Interactions:
    """``parts`` with rating and timestamp looked up from ``source`` by user-item pair."""
    if source.rating is None and source.timestamp is None:
        return parts
    source_keys = source.user_index * source.n_items + source.item_index
    order = np.argsort(source_keys, kind="stable")
    keys = parts.user_index * parts.n_items + parts.item_index
    at = np.clip(np.searchsorted(source_keys[order], keys), 0, max(len(order) - 1, 0))
    found = source_keys[order][at] == keys if len(order) else np.zeros(len(keys), dtype=bool)
    if not found.all():
        logger.info("%d of %d split rows are not in the dataset; no ratings or times", (~found).sum(), len(keys))
        return parts
    rows = order[at]
    rating = None if source.rating is None else source.rating[rows]
    timestamp = None if source.timestamp is None else source.timestamp[rows]
    return Interactions(parts.user_index, parts.item_index, parts.n_users, parts.n_items, rating, timestamp)


def _ratio_text(ratios: Ratios) -> str:
    return "/".join(f"{r:g}" for r in ratios)
