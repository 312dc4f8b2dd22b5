"""The inner split of README.md: each user's largest-id training item (users with >= 2) set aside; shared helpers."""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session10" / "analysis"))
from common import tiktok, valid_half, valid_half_a  # noqa: E402, F401


def inner_rows(train, raw_item_ids):
    """bool (n,) over train's rows: the row of each user's largest raw item id, for users with >= 2 rows."""
    raw = np.asarray([int(raw_item_ids[i]) for i in train.item_index])
    order = np.lexsort((raw, train.user_index))  # by user, then raw id
    users = train.user_index[order]
    last = np.r_[users[1:] != users[:-1], True]
    counts = np.bincount(train.user_index, minlength=train.n_users)
    pick = np.zeros(len(train), dtype=bool)
    pick[order[last & (counts[users] >= 2)]] = True
    return pick


def inner_split(split):
    """TikTok's split with train' as train, valid as is, and the inner items in place of test (test is dropped)."""
    pick = inner_rows(split.train, split.dataset.items.ids)
    return replace(split, train=split.train.select(~pick), test=split.train.select(pick))
