"""Ensembles of the base-halfA runs scored on valid half B (no selection bonus): ensembles_half_b.py [N_SEEDS].

For every pair and triple of seeds: the ensemble's Recall/NDCG@20 (mean of the members' cosines plus the fixed
content channel, as FusionGraph's members score) minus the mean of its members' own figures.
"""

import itertools
import sys

import numpy as np
from common import half_b_users, target_ranks, tiktok, vectors

split = tiktok()
train, valid = split.train.to_csr(), split.valid.to_csr()
users = half_b_users(split)
targets = valid.indices[valid.indptr[users]]
seeds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
runs = {seed: vectors(f"base-halfA-{seed}") for seed in seeds}
dim = 128


def figures(user_vectors, item_vectors):
    rank = target_ranks(user_vectors, item_vectors, users, targets, train)
    hit = rank < 20
    return np.array([hit.mean(), (hit / np.log2(rank + 2)).mean()])


def ensemble(members):
    n = len(members)
    user_blocks = [runs[s][0][:, :dim] / np.sqrt(n) for s in members] + [runs[members[0]][0][:, dim:]]
    item_blocks = [runs[s][1][:, :dim] / np.sqrt(n) for s in members] + [runs[members[0]][1][:, dim:]]
    return figures(np.hstack(user_blocks), np.hstack(item_blocks))


single = {seed: figures(*runs[seed]) for seed in seeds}
print("single models: Recall@20 %.4f NDCG@20 %.4f" % tuple(np.mean(list(single.values()), 0)))
for size in (2, 3):
    gains = np.array([ensemble(c) - np.mean([single[s] for s in c], 0) for c in itertools.combinations(seeds, size)])
    print(f"{size} members: gain over the members' mean Recall@20 {gains[:, 0].mean():+.4f} NDCG@20 "
          f"{gains[:, 1].mean():+.4f} (positive in {(gains > 0).mean(0)} of {len(gains)})")
