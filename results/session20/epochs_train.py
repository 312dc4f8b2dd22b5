"""epochs_train.py SEED: one TikTok recipe member of README.md, trained on the full training set for 45 epochs,
valid never read while training, its averaged vectors kept after every epoch as $SCREEN_VECTORS/s20-SEED.npz
(``users`` / ``items``: (45, n, 128) learned columns; ``channel_users`` / ``channel_items``: the content channel's
columns, fixed). Logged to epochs_train.jsonl. Test is never read.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import VECTORS, one_model_params, tiktok  # noqa: E402
from multimodal import TUNED  # noqa: E402

from fusionrec.evaluation.benchmark import build_for_seed  # noqa: E402
from fusionrec.models import training  # noqa: E402

EPOCHS, DIM = 45, 128
SCHEDULE = {"batch_size": 2048, "lr": 0.014, "average_decay": 0.94}
LOG = HERE / "epochs_train.jsonl"


class EpochKeeper:
    """Stands in for training's validator: keeps the averaged model's vectors instead of reading valid."""

    def __init__(self, model, n_users):
        self.model, self.all_users = model, np.arange(n_users)
        self.users, self.items, self.channel = [], [], None

    def __call__(self, epoch):
        self.model.refresh_vectors()
        users, items = self.model.user_embeddings(self.all_users), self.model.item_embeddings()
        self.users.append(users[:, :DIM].copy())
        self.items.append(items[:, :DIM].copy())
        if self.channel is None:
            self.channel = users[:, DIM:].copy(), items[:, DIM:].copy()
        return float(epoch), 0.0  # rises every epoch, so nothing stops early


def main(seed, name=None, log_extra=None):
    torch.set_num_threads(1)
    split = tiktok()
    train = {**TUNED[("tiktok", "fusiongraph")]["train"], **SCHEDULE, "epochs": EPOCHS, "eval_every": 1}
    params = {**one_model_params(), "ease_weight": 0.0}
    assert params["unit_layer0"] and params["temperature"] == 0.2, params
    model = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1, **train}, seed)
    keeper = EpochKeeper(model, split.n_users)
    training._Validator = lambda *args: keeper
    started = time.time()
    model.fit(split)
    seconds = time.time() - started
    VECTORS.mkdir(parents=True, exist_ok=True)
    np.savez(VECTORS / f"{name or f's20-{seed}'}.npz", users=np.stack(keeper.users), items=np.stack(keeper.items),
             channel_users=keeper.channel[0], channel_items=keeper.channel[1])
    row = {**(log_extra or {}), "seed": seed, "epochs": len(keeper.users), "s": round(seconds), "train_s": round(model.history_.train_seconds)}
    print(json.dumps(row), flush=True)
    with open(LOG, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]))
