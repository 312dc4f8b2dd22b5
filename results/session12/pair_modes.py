"""Half-B comparison of second_member.py's pairs with the recipe's: pair_modes.py MODE [MODE ...].

For each seed i: the pair (base i, member 2 of MODE) against the mean over j != i of the recipe's pairs
(base i, base j), all on valid half B. Prints the per-seed differences and their mean.
"""

import sys

import numpy as np
from halfb import VECTORS, figures, pair, vectors

seeds = range(10)
base = {s: vectors(f"base-halfA-{s}") for s in seeds}


reference = {i: np.mean([pair(base[i], base[j]) for j in seeds if j != i], 0) for i in seeds}
print("recipe pairs, per member-1 seed:", " ".join(f"{reference[i][0]:.4f}" for i in seeds))
for mode in sys.argv[1:]:
    done = [s for s in seeds if (VECTORS / f"pair-{mode}-halfA-{s}.npz").exists()]
    pairs = {s: figures(*vectors(f"pair-{mode}-halfA-{s}")) for s in done}
    diff = np.array([pairs[s] - reference[s] for s in done])
    print(f"{mode}: seeds {done}")
    print("  pair R@20:", " ".join(f"{pairs[s][0]:.4f}" for s in done))
    print("  minus recipe pairs R@20:", " ".join(f"{d:+.4f}" for d in diff[:, 0]))
    print(f"  mean pair {np.mean(list(pairs.values()), 0).round(4)}  mean difference R@20 {diff[:, 0].mean():+.4f} "
          f"N@20 {diff[:, 1].mean():+.4f}  R@20 positive on {(diff[:, 0] > 0).sum()} of {len(done)}")
