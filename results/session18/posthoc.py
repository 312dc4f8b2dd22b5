"""posthoc.py: the pre-registered screen of README.md, post-hoc signals on the recipe's inner-item pairs.

For each candidate signal: its settings are chosen on inner half I1 (session 16's, rng 2026) over the 45 pairs of
the ten ``inner_train.py`` models, scored as the recipe scores them (mean cosine, content channel, EASE channel
lambda 200 / weight 0.005), by NDCG@20 among the settings whose Recall@20 on I1 is at least the recipe's; then
read once on I2 against the recipe with session 16's ``compare`` (the rule). Writes posthoc.json. Test is never
read.

Candidates:
  rp3       + w * standardised(x_u W), W = RP3beta's item-item weights (alpha, beta) of train'
  userknn   + w * standardised(sum over u's k most cosine-similar users v of sim(u, v) x_v)
  easeact   the EASE channel's weight chosen per bucket of the user's train' items (1, 2-4, 5-19, 20+)
"""

import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session16"))
import read as s16  # noqa: E402  (session 16's inner-item helpers: split, I1, ensemble scores, compare)

from fusionrec.models.ease_channel import standardised  # noqa: E402

WEIGHTS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015)
RP3_ALPHAS, RP3_BETAS = (0.5, 1.0), (0.0, 0.25, 0.5)
USERKNN_KS = (20, 50, 200)
BUCKETS = ((1, 1), (2, 4), (5, 19), (20, 10**9))
EASE_WEIGHTS = (0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03)
PAIRS = list(s16.itertools.combinations(s16.SEEDS, 2))
TRAIN = s16.train.astype(np.float32).tocsr()
TRAIN.data[:] = 1.0


def rp3_signal(alpha, beta, users):
    """float32 (n, n_items): RP3beta's standardised scores of the users' train' rows (dense item-item W)."""
    user_deg = np.asarray(TRAIN.sum(1)).ravel()
    item_deg = np.asarray(TRAIN.sum(0)).ravel()
    p_ui = sp.diags(np.power(np.maximum(user_deg, 1), -alpha)) @ TRAIN
    p_iu = sp.diags(np.power(np.maximum(item_deg, 1), -alpha)) @ TRAIN.T
    w = (p_iu @ p_ui).toarray().astype(np.float32)
    w *= np.power(np.maximum(item_deg, 1), -beta).astype(np.float32)[None]
    np.fill_diagonal(w, 0.0)
    return standardised(np.asarray(TRAIN[users] @ w, dtype=np.float32))


def userknn_signal(k, users):
    """float32 (n, n_items): standardised user-kNN scores (cosine of binary train' rows, k neighbours)."""
    norm = sp.diags(1 / np.sqrt(np.maximum(np.asarray(TRAIN.sum(1)).ravel(), 1))) @ TRAIN
    sim = (norm[users] @ norm.T).toarray()
    sim[np.arange(len(users)), users] = 0.0
    cut = np.argpartition(-sim, k, axis=1)[:, k:]
    np.put_along_axis(sim, cut, 0.0, axis=1)
    return standardised((sp.csr_matrix(sim) @ TRAIN).toarray().astype(np.float32))


def bucket_of(users):
    """int (n,): each user's activity bucket (index into BUCKETS) by train' items."""
    counts = np.diff(TRAIN.indptr)[users]
    return np.select([(counts >= lo) & (counts <= hi) for lo, hi in BUCKETS], range(len(BUCKETS)), -1)


def choose(grid, base_key):
    """The setting with the highest NDCG among those with Recall at least the base's. grid: {key: (2,) figures}."""
    allowed = [k for k, v in grid.items() if v[0] >= grid[base_key][0]]
    return max(allowed, key=lambda k: grid[k][1])


def additive_candidate(name, settings, runs, ease):
    """Choose (setting, w) of an additive signal on I1, read it on I2. settings: {setting: signal(users)}."""
    i1, i2 = s16.USERS[s16.I1], s16.USERS[~s16.I1]
    signals = {key: make(i1) for key, make in settings.items()}
    grid = {("none", 0.0): []}
    grid.update({(key, w): [] for key in signals for w in WEIGHTS})
    for c in PAIRS:
        score = s16.ensemble_score(runs, c, s16.I1) + ease[s16.I1]
        for key, w in grid:
            extra = 0.0 if key == "none" else w * signals[key]
            grid[(key, w)].append(s16.per_user(score + extra, s16.I1).mean(1))
        print(name, "I1", c, flush=True)
    grid = {k: np.mean(v, 0) for k, v in grid.items()}
    chosen = choose(grid, ("none", 0.0))
    report = {"I1_grid": {f"{k} {w}": v.round(5).tolist() for (k, w), v in grid.items()}, "chosen": str(chosen)}
    if chosen == ("none", 0.0):
        report["I2"] = "nothing beat the recipe on I1; nothing to read"
        return report
    signal = chosen[1] * settings[chosen[0]](i2)
    old, new = {}, {}
    for c in PAIRS:
        score = s16.ensemble_score(runs, c, ~s16.I1) + ease[~s16.I1]
        old[c] = s16.per_user(score.copy(), ~s16.I1)
        new[c] = s16.per_user(score + signal, ~s16.I1)
    report["I2"] = s16.compare(new, old)
    return report


def easeact_candidate(runs, ease_unit):
    """EASE's weight chosen per activity bucket on I1 (each bucket's users alone), read on I2."""
    buckets = {"I1": bucket_of(s16.USERS[s16.I1]), "I2": bucket_of(s16.USERS[~s16.I1])}
    grid = {w: [] for w in EASE_WEIGHTS}
    for c in PAIRS:
        score = s16.ensemble_score(runs, c, s16.I1)
        for w in EASE_WEIGHTS:
            grid[w].append(s16.per_user(score + w * ease_unit[s16.I1], s16.I1))
        print("easeact I1", c, flush=True)
    grid = {w: np.mean(v, 0) for w, v in grid.items()}  # (2, n_I1) per user
    chosen, by_bucket = [], {}
    for b, bounds in enumerate(BUCKETS):
        mask = buckets["I1"] == b
        if not mask.any():  # train' has no user with 5-19 items (TikTok's users have 1-4 items or hundreds)
            chosen.append(s16.EASE_WEIGHT)
            by_bucket[str(bounds)] = {"users_I1": 0, "chosen": s16.EASE_WEIGHT}
            continue
        figures = {w: v[:, mask].mean(1) for w, v in grid.items()}
        chosen.append(choose(figures, s16.EASE_WEIGHT))
        by_bucket[str(bounds)] = {"users_I1": int(mask.sum()), "chosen": chosen[-1],
                                  "grid": {w: f.round(5).tolist() for w, f in figures.items()}}
    report = {"I1_by_bucket": by_bucket, "chosen": chosen}
    if all(w == s16.EASE_WEIGHT for w in chosen):
        report["I2"] = "the recipe's weight was chosen in every bucket; nothing to read"
        return report
    weights = np.asarray(chosen, np.float32)[buckets["I2"]][:, None]
    old, new = {}, {}
    for c in PAIRS:
        score = s16.ensemble_score(runs, c, ~s16.I1)
        old[c] = s16.per_user(score + s16.EASE_WEIGHT * ease_unit[~s16.I1], ~s16.I1)
        new[c] = s16.per_user(score + weights * ease_unit[~s16.I1], ~s16.I1)
    report["I2"] = s16.compare(new, old)
    return report


def main(names):
    runs = s16.load("base")
    ease_unit = s16.ease_signal(s16.EASE_LAMBDA)
    ease = s16.EASE_WEIGHT * ease_unit
    report = {}
    for name in names:
        if name == "rp3":
            settings = {f"a{a}b{b}": (lambda users, a=a, b=b: rp3_signal(a, b, users))
                        for a in RP3_ALPHAS for b in RP3_BETAS}
            report[name] = additive_candidate(name, settings, runs, ease)
        elif name == "userknn":
            settings = {f"k{k}": (lambda users, k=k: userknn_signal(k, users)) for k in USERKNN_KS}
            report[name] = additive_candidate(name, settings, runs, ease)
        elif name == "easeact":
            report[name] = easeact_candidate(runs, ease_unit)
        else:
            raise SystemExit(f"unknown candidate {name!r}: rp3, userknn or easeact")
        print(name, json.dumps({k: v for k, v in report[name].items() if "grid" not in k and "bucket" not in k}),
              flush=True)
        out = HERE / "posthoc.json"
        saved = json.loads(out.read_text()) if out.exists() else {}
        out.write_text(json.dumps({**saved, name: report[name]}, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or ["rp3", "userknn", "easeact"])
