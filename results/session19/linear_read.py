"""linear_read.py: README.md's second question. EASE's refinements (EDLAE, user-weighted EASE, EASE with content
side information) in place of the recipe's EASE channel, chosen on valid half A and read once on half B, over the
28 pairs of the `s19-B` models. Writes linear.json. Test is never read.
"""

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, score_ranks, tiktok, valid_half_a, vectors  # noqa: E402

SEEDS, DIM, MAX_SEEDS_LOWER = list(range(8, 16)), 128, 2
RECIPE = ("ease", {"l2": 200.0}, 0.005)
WEIGHTS = (0.0025, 0.005, 0.0075, 0.01, 0.015)
GRIDS = {
    "edlae": [{"l2": lam, "p": p} for lam in (10.0, 50.0, 200.0) for p in (0.1, 0.25, 0.5)],
    "uweight": [{"l2": lam, "b": b} for b in (0.25, 0.5, 1.0) for lam in (5.0, 20.0, 50.0, 200.0)],
    "cease": [{"l2": 200.0, "a": a} for a in (1.0, 3.0, 10.0, 30.0)],
}


def closed_form(gram, penalty):
    """EASE's zero-diagonal B of a Gram matrix with a per-item ridge penalty (float32)."""
    gram = gram.copy()
    gram[np.diag_indices_from(gram)] += penalty
    weights = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    weights /= -np.diag(weights)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def linear_weights(kind, setting, binary, content):
    """B of one candidate (``binary``: the float64 csr training matrix, ``content``: (n_items, D) unit vectors)."""
    if kind == "uweight":
        counts = np.asarray(binary.sum(1)).ravel()
        scale = np.where(counts > 0, np.maximum(counts, 1) ** -setting["b"], 0.0)
        gram = np.asarray((binary.T @ binary.multiply(scale[:, None]).tocsr()).todense())
    else:
        gram = np.asarray((binary.T @ binary).todense())
    penalty = np.full(len(gram), setting["l2"])
    if kind == "edlae":
        penalty = penalty + setting["p"] / (1 - setting["p"]) * np.diag(gram)
    if kind == "cease":
        gram = gram + setting["a"] * (content @ content.T).astype(np.float64)
    return closed_form(gram, penalty)


def standardised_rows(scores):
    centred = scores - scores.mean(1, keepdims=True)
    spread = centred.std(1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)


class Half:
    """One valid half: its users, targets, seen items and the 28 pairs' scores without the linear channel."""

    def __init__(self, users, split, runs, pairs):
        train, valid = split.train.to_csr(), split.valid.to_csr()
        self.users, self.targets = users, valid.indices[valid.indptr[users]]
        self.history = train[users]
        self.seen = self.history.nonzero()
        self.base = {}
        for pair in pairs:
            first = runs[pair[0]]
            score = first[0][users, DIM:] @ first[1][:, DIM:].T
            for m in pair:
                score += runs[m][0][users, :DIM] @ runs[m][1][:, :DIM].T / len(pair)
            self.base[pair] = score.astype(np.float32)

    def channel(self, weights):
        return standardised_rows(np.asarray(self.history @ weights, dtype=np.float32))

    def per_user(self, channel, w):
        out = {}
        for pair, base in self.base.items():
            rank = score_ranks(base + np.float32(w) * channel, self.targets, self.seen)
            hit = (rank < 20).astype(np.float64)
            out[pair] = np.stack([hit, hit / np.log2(rank + 2)])
        return out


def halves(split):
    """(half A, half B) of the valid users, each holding the 28 pairs of the `s19-B` models."""
    with_valid = np.diff(split.valid.to_csr().indptr) > 0
    in_a = valid_half_a(split)
    runs = {s: vectors(f"s19-B-{s}") for s in SEEDS}
    pairs = list(itertools.combinations(SEEDS, 2))
    return tuple(Half(np.flatnonzero(with_valid & side), split, runs, pairs) for side in (in_a, ~in_a))


def mean_figures(per_user):
    return np.mean([v.mean(1) for v in per_user.values()], 0)


def main():
    split = tiktok()
    from fusionrec.models.content_channel import ContentChannel

    content = ContentChannel.build(split, weight=1.0).space.transform(
        split.dataset.features, split.dataset.all_feature_masks())
    binary = split.train.to_csr().astype(bool).astype(np.float64)
    half_a, half_b = halves(split)
    recipe_weights = linear_weights(RECIPE[0], RECIPE[1], binary, content)
    recipe_a = mean_figures(half_a.per_user(half_a.channel(recipe_weights), RECIPE[2]))
    report = {"users_A": len(half_a.users), "users_B": len(half_b.users), "recipe_A": recipe_a.round(5).tolist()}
    print("recipe on A", recipe_a, flush=True)
    recipe_b = half_b.per_user(half_b.channel(recipe_weights), RECIPE[2])
    for kind, grid in GRIDS.items():
        screened, best = [], None
        for setting in grid:
            started = time.time()
            weights = linear_weights(kind, setting, binary, content)
            channel = half_a.channel(weights)
            for w in WEIGHTS:
                figures = mean_figures(half_a.per_user(channel, w))
                screened.append({**setting, "w": w, "A": figures.round(5).tolist()})
                if figures[0] >= recipe_a[0] and (best is None or figures[1] > best[1][1]):
                    best = ({**setting, "w": w}, figures, weights)
            print(kind, setting, f"{time.time() - started:.0f}s", [r["A"] for r in screened[-len(WEIGHTS):]],
                  flush=True)
        entry = {"A_screen": screened}
        if best is None:
            entry["chosen"] = None
        else:
            chosen, figures, weights = best
            new = half_b.per_user(half_b.channel(weights), chosen["w"])
            entry.update({"chosen": chosen, "chosen_A": figures.round(5).tolist(),
                          **compare_ensembles(new, recipe_b, SEEDS, MAX_SEEDS_LOWER)})
        report[kind] = entry
        print(kind, json.dumps({k: v for k, v in entry.items() if k != "A_screen"}), flush=True)
    qualified = [k for k in GRIDS if report[k].get("qualifies")]
    report["taken"] = max(qualified, key=lambda k: report[k]["gain"][1]) if qualified else None
    print("taken:", report["taken"], flush=True)
    (HERE / "linear.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
