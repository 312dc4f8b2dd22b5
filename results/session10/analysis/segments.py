"""Valid Recall@20 of screen.py runs by the target's training degree and the user's: segments.py RUN [RUN ...]."""

import sys

import numpy as np
from common import target_ranks, tiktok, vectors

split = tiktok()
train, valid = split.train.to_csr(), split.valid.to_csr()
item_degree, user_degree = np.asarray(train.sum(0)).ravel(), np.diff(train.indptr)
users = np.flatnonzero(np.diff(valid.indptr))
targets = valid.indices[valid.indptr[users]]
for run in sys.argv[1:]:
    hit = target_ranks(*vectors(run), users, targets, train) < 20
    print(run, "recall", round(hit.mean(), 4))
    for low, high in [(0, 0), (1, 2), (3, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 10**6)]:
        chosen = (item_degree[targets] >= low) & (item_degree[targets] <= high)
        print(f"  target degree {low}-{high}: share {chosen.mean():.3f} recall {hit[chosen].mean():.3f}")
    for low, high in [(1, 1), (2, 2), (3, 5), (6, 10**6)]:
        chosen = (user_degree[users] >= low) & (user_degree[users] <= high)
        print(f"  user degree {low}-{high}: share {chosen.mean():.3f} recall {hit[chosen].mean():.3f}")
