"""Does a popularity offset fitted on one half of valid help the other? calibration.py RUN [RUN ...].

score + a log(1 + d) + b log(1 + d)^2 + c [d = 0], d = the item's training degree; (a, b, c) from a grid,
chosen on one random half of the valid users and scored on the other, both ways.
"""

import itertools
import sys

import numpy as np
from common import tiktok, vectors

split = tiktok()
train, valid = split.train.to_csr(), split.valid.to_csr()
degree = np.asarray(train.sum(0)).ravel()
log_degree, cold = np.log1p(degree), (degree == 0).astype(np.float32)
users = np.flatnonzero(np.diff(valid.indptr))
targets = valid.indices[valid.indptr[users]]
half = np.random.default_rng(0).random(len(users)) < 0.5
grid = list(itertools.product([-0.02, -0.01, 0, 0.01, 0.02], [-0.004, -0.002, 0, 0.002], [0, 0.05, 0.1]))


def recall(scores, chosen, offset):
    shifted = scores[chosen] + offset[None, :]
    target = shifted[np.arange(chosen.sum()), targets[chosen]]
    return ((shifted > target[:, None]).sum(1) < 20).mean()


for run in sys.argv[1:]:
    user_vectors, item_vectors = vectors(run)
    scores = user_vectors[users] @ item_vectors.T
    scores[train[users].nonzero()] = -np.inf
    none = np.zeros_like(log_degree)
    for fit in (half, ~half):
        best = max((recall(scores, fit, a * log_degree + b * log_degree**2 + c * cold), (a, b, c)) for a, b, c in grid)
        a, b, c = best[1]
        transferred = recall(scores, ~fit, a * log_degree + b * log_degree**2 + c * cold)
        print(f"{run}: fitted half {recall(scores, fit, none):.4f} -> {best[0]:.4f} {best[1]}; "
              f"other half {recall(scores, ~fit, none):.4f} -> {transferred:.4f}")
