"""cold_diagnostic.py: descriptive only, half A, pair (8, 9): where untouched targets rank under the recipe, its content
channel alone and the rest of its score, over the whole catalog and among the 465 untouched items. Decides nothing.
"""
import sys, itertools, numpy as np
sys.path.insert(0, "results/session19"); sys.path.insert(0, "results/session10/analysis")
from common import tiktok, valid_half_a, vectors, score_ranks
from linear_read import Half, linear_weights, RECIPE, SEEDS
split = tiktok(); train = split.train.to_csr(); deg = np.diff(train.tocsc().indptr)
valid = split.valid.to_csr(); wv = np.diff(valid.indptr) > 0; a = valid_half_a(split)
runs = {s: vectors(f"s19-B-{s}") for s in SEEDS}
half = Half(np.flatnonzero(wv & a), split, runs, [(8, 9)])
W = linear_weights(*RECIPE[:2], train.astype(bool).astype(np.float64), None)
score = half.base[(8, 9)] + 0.005 * half.channel(W)
cold_t = deg[half.targets] == 0
cold_items = np.flatnonzero(deg == 0)
u, i = runs[8]
chan = u[half.users, 128:] @ i[:, 128:].T  # content channel alone (w 0.2, faded)
learned = score - chan
for name, s in [("recipe", score), ("channel", chan), ("learned+ease", learned)]:
    r = score_ranks(s.copy(), half.targets, half.seen)
    # rank among cold items only
    sc = s.copy(); sc[half.seen] = -np.inf
    tgt = sc[np.arange(len(sc)), half.targets]
    rc = (sc[:, cold_items] > tgt[:, None]).sum(1)
    print(name, "cold targets", cold_t.sum(), "R@20 all", (r[cold_t] < 20).mean().round(4), "median rank", np.median(r[cold_t]),
          "within-cold top20", (rc[cold_t] < 20).mean().round(3), "median within-cold", np.median(rc[cold_t]))
# how many cold items are in recipe top20 on average
sc = score.copy(); sc[half.seen] = -np.inf
top = np.argpartition(-sc, 20, axis=1)[:, :20]
print("cold items per top20", (deg[top] == 0).sum(1).mean())
print("history size of cold-target users", np.bincount(np.minimum(np.diff(train.indptr)[half.users][cold_t], 6)))
