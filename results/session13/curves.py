"""One TikTok model's whole valid curve, kept for schedule rules: curves.py SEED [NAME] [PARAMS_JSON] (valid only).

Trains the TUNED TikTok single model (as screen.py does; VARIANTS or PARAMS_JSON may change settings, and
its "train" key the training settings) with early stopping on valid half A and the recipe's patience, but goes on to at least
$MIN_EPOCHS epochs (default 60) so that every rule of rules.py can be read off one run: the training is the same
whatever the patience, since evaluation draws no random numbers. After every epoch it records half A's
Recall@20 (what stopping reads), half B's Recall/NDCG@20 and the model's unit vectors (float16) in eval mode with
the weight average swapped in, i.e. exactly what a run stopped at that epoch would keep. Test is never read.

Writes $SCREEN_VECTORS/curves-NAME-SEED.npz (epochs, vectors, content channel) and appends one JSON line to
$SCREEN_LOG (default curves.jsonl here).
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session12"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session10" / "analysis"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from common import one_model_params, valid_half, valid_half_a
from halfb import DIM, VECTORS, figures, split

from fusionrec.evaluation.benchmark import build_for_seed
from fusionrec.models import training

torch.set_num_threads(1)
LOG = Path(os.environ.get("SCREEN_LOG", Path(__file__).with_name("curves.jsonl")))
MIN_EPOCHS = int(os.environ.get("MIN_EPOCHS", "60"))
seed = int(sys.argv[1])
name = sys.argv[2] if len(sys.argv) > 2 else "base"
# the variants screened in this session (README.md), by name; PARAMS_JSON overrides
VARIANTS = {
    "base": {},
    "lr15": {"train": {"lr": 0.015}},
    "b2048": {"train": {"batch_size": 2048, "lr": 0.014, "average_decay": 0.94}},
}
extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else dict(VARIANTS[name])
train_extra = extra.pop("train", {})

model = build_for_seed("fusiongraph", {**one_model_params(), **extra}, {"progress": False, "threads": 1, **train_extra}, seed)
curve: list[dict] = []
kept: dict[str, list] = {"epochs": [], "users": [], "items": []}
channel: dict[str, np.ndarray] = {}
original_update = training._BestTracker.update


def recording_update(self, epoch, value):
    """Record the epoch (the average is swapped in, the vectors refreshed), then stop only past MIN_EPOCHS."""
    users, items = model.user_embeddings(np.arange(split.n_users)), model.item_embeddings()
    recall_b, ndcg_b = figures(users, items)
    curve.append(
        {"epoch": epoch, "a": round(float(value), 5), "b": [round(float(recall_b), 5), round(float(ndcg_b), 5)]}
    )
    kept["epochs"].append(epoch)
    kept["users"].append(users[:, :DIM].astype(np.float16))
    kept["items"].append(items[:, :DIM].astype(np.float16))
    channel.setdefault("users", users[:, DIM:])
    channel.setdefault("items", items[:, DIM:])
    return original_update(self, epoch, value) and epoch >= MIN_EPOCHS


training._BestTracker.update = recording_update
started = time.time()
model.fit(valid_half(split, valid_half_a(split)))
row = {
    "name": name,
    "seed": seed,
    "extra": {**extra, **({"train": train_extra} if train_extra else {})},
    "s": round(time.time() - started),
    "s_per_epoch": round(model.history_.seconds_per_epoch, 3),
    "curve": curve,
}
print(json.dumps({k: v for k, v in row.items() if k != "curve"}), f"{len(curve)} epochs")
with open(LOG, "a") as f:
    f.write(json.dumps(row) + "\n")
VECTORS.mkdir(parents=True, exist_ok=True)
np.savez(
    VECTORS / f"curves-{name}-{seed}.npz",
    epochs=np.array(kept["epochs"]),
    users=np.stack(kept["users"]),
    items=np.stack(kept["items"]),
    channel_users=channel["users"],
    channel_items=channel["items"],
)
