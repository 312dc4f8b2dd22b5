"""Shared set-up of the session-10 analysis scripts: TikTok's split and the vectors screen.py kept."""

import math
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from multimodal import TUNED, load_dataset  # noqa: E402

VECTORS = Path(os.environ.get("SCREEN_VECTORS", "/tmp/s10emb"))


def tiktok():
    """TikTok's split, read through FUSIONREC_DATA."""
    return load_dataset(Path(os.environ["FUSIONREC_DATA"]), "tiktok")


def one_model_params():
    """TikTok's TUNED flagship settings for one model (without the recipe's two members), as the screens train it."""
    tuned = TUNED[("tiktok", "fusiongraph")]["params"]
    return {k: v for k, v in tuned.items() if k not in ("members", "member_training")}


def vectors(run):
    """(users, items) of a screen.py run, e.g. 'base-0' or 'base-halfA-3'."""
    saved = np.load(VECTORS / f"{run}.npz")
    return saved["users"], saved["items"]


def valid_half_a(split):
    """bool (n_users,): the users of half A (a fixed random half of the valid users; half B is the rest)."""
    users = split.valid.users()
    chosen = np.random.default_rng(12345).permutation(users)[: len(users) // 2]
    mask = np.zeros(split.n_users, dtype=bool)
    mask[chosen] = True
    return mask


def valid_half(split, in_half):
    """The split with its valid users restricted to those where in_half (bool per user) holds."""
    return replace(split, valid=split.valid.select(in_half[split.valid.user_index]))


def half_b_users(split):
    """int (n,) valid users of half B."""
    matrix = split.valid.to_csr()
    return np.flatnonzero((np.diff(matrix.indptr) > 0) & ~valid_half_a(split))


def target_ranks(users_vectors, items_vectors, users, targets, train):
    """int (n,) rank of each user's held-out target among the items outside the user's training items."""
    return score_ranks(users_vectors[users] @ items_vectors.T, targets, train[users].nonzero())


def score_ranks(scores, targets, seen):
    """int (n,) rank of each row's target in scores (n, n_items), overwritten: the (rows, items) of seen left out."""
    scores[seen] = -np.inf
    target = scores[np.arange(len(scores)), targets]
    return (scores > target[:, None]).sum(1)


def cosine_learning_rate(horizon):
    """Patch this process's training: learning rate lr * (1 + cos(pi * e / horizon)) / 2 at epoch e, at least 1 % of lr.

    The screens' ``cosine`` variant (session 10's screen.py, session 15's inner_screen.py).
    """
    from fusionrec.models import training

    original_epoch, calls = training._run_epoch, [0]

    def scheduled_epoch(model, module, optimizer, split, rng, average=None):
        factor = (1 + math.cos(math.pi * min(calls[0], horizon) / horizon)) / 2
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lr"] = group["initial_lr"] * max(factor, 0.01)
        calls[0] += 1
        return original_epoch(model, module, optimizer, split, rng, average)

    training._run_epoch = scheduled_epoch


def unit_layer0_vectors():
    """Patch this process's training: layer-0 user and item vectors scaled to unit length, times their mean length,
    before propagation. The screens' ``egonorm`` variant (session 10's screen.py, session 15's inner_screen.py,
    session 19's hetero_train.py).
    """
    import torch

    from fusionrec.models import fusion_graph_net as fgn

    original = fgn.FusionGraphNet.propagate_items

    def propagate_items(self, users, items):
        users = torch.nn.functional.normalize(users, dim=1) * users.norm(dim=1).mean().detach()
        items = torch.nn.functional.normalize(items, dim=1) * items.norm(dim=1).mean().detach()
        return original(self, users, items)

    fgn.FusionGraphNet.propagate_items = propagate_items


def recipe_valid_hits(split, dim=128, ease_weight=0.005, ease_l2=200.0):
    """per_user(runs, members[, ease_weight]) -> (2, n_valid_users) hit@20 and NDCG@20 of an ensemble, all valid users.

    Scored as the TikTok recipe scores it: the members' mean cosine, the first member's content-channel columns
    (``dim`` onwards) and ``ease_weight`` times EASE's standardised item-item scores fitted on the full training set.
    ``runs`` maps a member to its (users, items) vectors; ``ease_weight`` (here or per call) is a float or a float
    array (n_users,) of one weight per user. Session 16's, 17's and 18's fixed-epoch reads.
    """
    from fusionrec.models.ease import ease_weights
    from fusionrec.models.ease_channel import standardised

    train, valid = split.train.to_csr(), split.valid.to_csr()
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    targets = valid.indices[valid.indptr[users]]
    ease = standardised(np.asarray(train[users] @ ease_weights(train, ease_l2), dtype=np.float32))
    seen = train[users].nonzero()
    default_weight = ease_weight

    def per_user(runs, members, ease_weight=default_weight):
        weight = ease_weight[users, None] if np.ndim(ease_weight) else ease_weight
        first = runs[members[0]]
        score = first[0][users, dim:] @ first[1][:, dim:].T + weight * ease
        for m in members:
            score += runs[m][0][users, :dim] @ runs[m][1][:, :dim].T / len(members)
        rank = score_ranks(score, targets, seen)
        hit = (rank < 20).astype(np.float64)
        return np.stack([hit, hit / np.log2(rank + 2)])

    per_user.n_users = len(users)
    return per_user


def train_fixed_member(split, params, train, seed, name):
    """Train one flagship member on the full training set with ``train`` (fixed epochs, valid unread), read it on
    all valid users, keep its vectors as $SCREEN_VECTORS/NAME.npz and return its log row (``s``: fit seconds).

    Session 16's fixed_epochs.py and session 17's fixed_screen.py.
    """
    import time

    from fusionrec.evaluation import evaluate_model
    from fusionrec.evaluation.benchmark import build_for_seed

    started = time.time()
    model = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1, **train}, seed)
    model.fit(split)
    seconds = time.time() - started
    res = evaluate_model(model, split, "valid", (20,), ("recall", "ndcg"))
    row = {"seed": seed, "valid_all": {k: round(float(v), 5) for k, v in res.summary().items()},
           "s": round(seconds), "epochs_run": model.history_.epochs_run}
    VECTORS.mkdir(parents=True, exist_ok=True)
    users, items = model.user_embeddings(np.arange(split.n_users)), model.item_embeddings()
    np.savez(VECTORS / f"{name}.npz", users=users, items=items)
    return row


def compare_ensembles(new, old, seeds, max_seeds_lower=None, draws=2000):
    """Session 16's rule on per-user figures of two sets of ensembles ({members tuple: (2, n) hit and NDCG}).

    Gains with a bootstrap standard error over users, the gain per seed (over the ensembles that hold it) and the
    verdict: NDCG@20 gain at least +0.0003 and two errors, Recall@20 gain not below minus one error and, unless
    ``max_seeds_lower`` is None, the NDCG gain negative for at most that many seeds. Session 16's and 18's reads.
    """
    gain = np.mean(list(new.values()), 0) - np.mean(list(old.values()), 0)  # (2, n)
    rng = np.random.default_rng(0)
    n = gain.shape[1]
    se = np.std([gain[:, rng.integers(0, n, n)].mean(1) for _ in range(draws)], axis=0)

    def holding(figures, seed):
        return np.mean([v.mean(1) for c, v in figures.items() if seed in c], 0)

    by_seed = {s: (holding(new, s) - holding(old, s)).round(5).tolist() for s in seeds}
    g = gain.mean(1)
    lower = int(sum(v[1] < 0 for v in by_seed.values()))
    seeds_ok = max_seeds_lower is None or lower <= max_seeds_lower
    return {
        "old": np.mean([v.mean(1) for v in old.values()], 0).round(5).tolist(),
        "new": np.mean([v.mean(1) for v in new.values()], 0).round(5).tolist(),
        "gain": g.round(5).tolist(),
        "gain_se_over_users": se.round(5).tolist(),
        "gain_by_seed_R_N": by_seed,
        "seeds_lower_N": lower,
        "qualifies": bool(g[1] >= 0.0003 and g[1] >= 2 * se[1] and g[0] >= -se[0] and seeds_ok),
    }
