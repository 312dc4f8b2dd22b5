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
