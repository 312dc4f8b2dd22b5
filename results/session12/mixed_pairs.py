"""Pairs of members scored on valid half B (no selection bonus): mixed_pairs.py RUN_A RUN_B [N_SEEDS].

RUN_A and RUN_B name screen.py runs without the seed (e.g. base-halfA and raw-halfA). For seeds i != j it scores
the two-member ensemble (mean of the members' cosines plus the fixed content channel, as FusionGraph's members
score) of A-i with A-j, of A-i with B-j and of B-i with B-j, and prints the mean Recall/NDCG@20 of each kind with
its paired difference. The same seed is never paired with itself: two runs of one seed share their initialisation.
"""

import itertools
import sys

import numpy as np
from halfb import figures, pair, vectors

run_a, run_b = sys.argv[1], sys.argv[2]
seeds = range(int(sys.argv[3]) if len(sys.argv) > 3 else 10)
runs = {(name, s): vectors(f"{name}-{s}") for name in (run_a, run_b) for s in seeds}


single = {key: figures(*value) for key, value in runs.items()}
for name in (run_a, run_b):
    values = np.array([single[(name, s)] for s in seeds])
    print(f"{name} single: R@20 {values[:, 0].mean():.4f} ± {values[:, 0].std(ddof=1):.4f}  N@20 {values[:, 1].mean():.4f}")
kinds = {
    f"{run_a} + {run_a}": [((run_a, i), (run_a, j)) for i, j in itertools.combinations(seeds, 2)],
    f"{run_a} + {run_b}": [((run_a, i), (run_b, j)) for i in seeds for j in seeds if i != j],
    f"{run_b} + {run_b}": [((run_b, i), (run_b, j)) for i, j in itertools.combinations(seeds, 2)],
}
means = {}
for kind, pairs in kinds.items():
    values = np.array([pair(runs[a], runs[b]) for a, b in pairs])
    means[kind] = values.mean(0)
    gain = values - np.array([(single[a] + single[b]) / 2 for a, b in pairs])
    print(f"{kind}: {len(pairs)} pairs  R@20 {values[:, 0].mean():.4f}  N@20 {values[:, 1].mean():.4f}  "
          f"gain over members' mean {gain[:, 0].mean():+.4f} / {gain[:, 1].mean():+.4f}")
mixed, same = means[f"{run_a} + {run_b}"], means[f"{run_a} + {run_a}"]
print(f"mixed minus {run_a} pairs: R@20 {mixed[0] - same[0]:+.4f}  N@20 {mixed[1] - same[1]:+.4f}")
