"""Shared by this folder's scripts: TikTok's valid half B and the two-member pair's figures on it."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session10" / "analysis"))
from common import VECTORS, half_b_users, target_ranks, tiktok, vectors  # noqa: E402, F401

DIM = 128
split = tiktok()
train, valid = split.train.to_csr(), split.valid.to_csr()
users = half_b_users(split)
targets = valid.indices[valid.indptr[users]]


def figures(user_vectors, item_vectors):
    """np.array([Recall@20, NDCG@20]) on half B."""
    rank = target_ranks(user_vectors, item_vectors, users, targets, train)
    hit = rank < 20
    return np.array([hit.mean(), (hit / np.log2(rank + 2)).mean()])


def pair(first, second):
    """Figures of the two-member ensemble of two runs' (users, items): mean cosine plus the first's content channel."""
    user_blocks = [m[0][:, :DIM] / np.sqrt(2) for m in (first, second)] + [first[0][:, DIM:]]
    item_blocks = [m[1][:, :DIM] / np.sqrt(2) for m in (first, second)] + [first[1][:, DIM:]]
    return figures(np.hstack(user_blocks), np.hstack(item_blocks))
