"""What TikTok's split looks like (train and valid only; test is not read): data_shape.py."""

import numpy as np
from common import tiktok

split = tiktok()
train, valid = split.train.to_csr(), split.valid.to_csr()
user_degree, item_degree = np.diff(train.indptr), np.asarray(train.sum(0)).ravel()
valid_count = np.asarray(valid.sum(0)).ravel()
heavy = user_degree > 100
print(f"training items per user: {np.bincount(np.minimum(user_degree, 5))} (0, 1, 2, 3, 4, 5+)")
print(f"users with > 100 training items: {heavy.sum()}, holding {user_degree[heavy].sum():,} of {train.nnz:,}")
only_heavy = (np.asarray(train[heavy].sum(0)).ravel() == item_degree) & (item_degree > 0)
print(f"items whose every training interaction is a heavy user's: {only_heavy.sum():,}")
print("valid targets per item by training degree:")
for low, high in [(0, 0), (1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 200), (201, 10**6)]:
    chosen = (item_degree >= low) & (item_degree <= high)
    print(f"  {low}-{high}: {chosen.sum():5d} items, {valid_count[chosen].mean():.3f} valid targets per item")
print("by item index decile (the released data appears to number items over time):")
for decile, part in enumerate(np.array_split(np.arange(split.n_items), 10)):
    print(f"  {decile}: {valid_count[part].mean():.3f} valid per item, {item_degree[part].mean():.2f} training")
