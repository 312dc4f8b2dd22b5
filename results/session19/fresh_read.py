"""fresh_read.py: README.md's third question. A prior beta * c / (c + d_i) for items with few (c = 0: no) training
interactions, added to the recipe's score, chosen on valid half A and read once on half B over the 28 pairs of the
`s19-B` models. Writes fresh.json. Test is never read.
"""

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, score_ranks, tiktok  # noqa: E402
from linear_read import MAX_SEEDS_LOWER, RECIPE, SEEDS, halves, linear_weights, mean_figures  # noqa: E402

BETAS, PRIORS = (0.01, 0.02, 0.03, 0.05, 0.075, 0.1), (0.0, 1.0, 3.0)


def item_prior(degrees, beta, c):
    """float32 (n_items,) beta * c / (c + d); c = 0: beta for items without interactions, else 0."""
    fade = (degrees == 0).astype(np.float64) if c == 0 else c / (c + degrees)
    return (beta * fade).astype(np.float32)


def per_user(half, channel, prior):
    """{pair: (2, n) hit and NDCG@20} of the recipe's score plus ``prior`` (n_items,)."""
    out = {}
    for pair, base in half.base.items():
        rank = score_ranks(base + np.float32(RECIPE[2]) * channel + prior, half.targets, half.seen)
        hit = (rank < 20).astype(np.float64)
        out[pair] = np.stack([hit, hit / np.log2(rank + 2)])
    return out


def main():
    split = tiktok()
    train = split.train.to_csr()
    degrees = np.diff(train.tocsc().indptr).astype(np.float64)
    half_a, half_b = halves(split)
    weights = linear_weights(RECIPE[0], RECIPE[1], train.astype(bool).astype(np.float64), None)
    channel_a, channel_b = half_a.channel(weights), half_b.channel(weights)
    none = np.zeros(split.n_items, np.float32)
    recipe_a = mean_figures(per_user(half_a, channel_a, none))
    report = {"recipe_A": recipe_a.round(5).tolist(), "cold_targets_A": int((degrees[half_a.targets] == 0).sum()),
              "cold_targets_B": int((degrees[half_b.targets] == 0).sum()), "A_screen": []}
    best = None
    for c in PRIORS:
        for beta in BETAS:
            figures = mean_figures(per_user(half_a, channel_a, item_prior(degrees, beta, c)))
            report["A_screen"].append({"beta": beta, "c": c, "A": figures.round(5).tolist()})
            print(beta, c, figures.round(5).tolist(), flush=True)
            if figures[0] >= recipe_a[0] and (best is None or figures[1] > best[1][1]):
                best = ({"beta": beta, "c": c}, figures)
    report["chosen"] = best and best[0]
    if best is not None:
        old = per_user(half_b, channel_b, none)
        new = per_user(half_b, channel_b, item_prior(degrees, **best[0]))
        report.update({"chosen_A": best[1].round(5).tolist(), **compare_ensembles(new, old, SEEDS, MAX_SEEDS_LOWER)})
        gain = np.mean(list(new.values()), 0) - np.mean(list(old.values()), 0)
        cold = degrees[half_b.targets] == 0
        report["gain_cold_targets_B"] = gain[:, cold].mean(1).round(5).tolist()
        report["gain_other_targets_B"] = gain[:, ~cold].mean(1).round(5).tolist()
    print(json.dumps({k: v for k, v in report.items() if k != "A_screen"}), flush=True)
    (HERE / "fresh.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
