"""inner_screen.py SEED [VARIANT]: one TUNED TikTok model (one member) trained on train', early stopping on half A.

Keeps the model's vectors (eval mode) as $SCREEN_VECTORS/inner[-VARIANT]-SEED.npz and appends one line to
inner_screen.jsonl with its half-A, half-B and inner figures. The real test part is replaced by the inner items
before anything runs.

Variants (README.md, second screen): ``base`` (the recipe), ``egonorm`` (layer-0 user and item vectors scaled to
unit length times their mean length before propagation; session 10's screen.py), ``cosine`` (learning rate
lr * (1 + cos(pi * e / 60)) / 2 at epoch e, at least 1 % of lr; session 10's cosine variant with EPOCHS=60),
``oldschedule`` (session 11's schedule, the flagship's default one: batches of 1,024, lr 0.01, weight average 0.97,
patience 15; a calibration run that decides nothing, README.md).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from inner import inner_split, tiktok, valid_half, valid_half_a  # noqa: E402
from multimodal import TUNED  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session10" / "analysis"))
from common import VECTORS, cosine_learning_rate, one_model_params, unit_layer0_vectors  # noqa: E402

from fusionrec.evaluation import evaluate_model  # noqa: E402
from fusionrec.evaluation.benchmark import build_for_seed  # noqa: E402

torch.set_num_threads(1)
LOG = Path(__file__).with_name("inner_screen.jsonl")

seed = int(sys.argv[1])
variant = sys.argv[2] if len(sys.argv) > 2 else "base"
COSINE_EPOCHS = 60


def patch(variant):
    """Apply the variant's change to the training code of this process."""
    if variant == "egonorm":
        unit_layer0_vectors()
    elif variant == "cosine":
        cosine_learning_rate(COSINE_EPOCHS)
    elif variant not in ("base", "oldschedule"):
        raise SystemExit(f"unknown variant {variant}")


patch(variant)
full = inner_split(tiktok())
split = valid_half(full, valid_half_a(full))
t = time.time()
schedule = TUNED[("tiktok", "fusiongraph")]["train"]
if variant == "oldschedule":
    schedule = {"batch_size": 1024, "lr": 0.01, "average_decay": 0.97, "patience": 15}
model = build_for_seed("fusiongraph", one_model_params(), {"progress": False, "threads": 1, **schedule}, seed)
model.fit(split)


def figures(part_split, part):
    res = evaluate_model(model, part_split, part, (20,), ("recall", "ndcg"))
    return {k: round(float(v), 5) for k, v in res.summary().items()}


row = {
    "variant": variant,
    "seed": seed,
    "train_rows": len(full.train),
    "inner_rows": len(full.test),
    "valid_a": figures(split, "valid"),
    "valid_b": figures(valid_half(full, ~valid_half_a(full)), "valid"),
    "inner": figures(full, "test"),
    "s": round(time.time() - t),
    "best_epoch": model.history_.best_epoch,
}
print(json.dumps(row), flush=True)
with open(LOG, "a") as f:
    f.write(json.dumps(row) + "\n")
users, items = model.user_embeddings(np.arange(full.n_users)), model.item_embeddings()
VECTORS.mkdir(parents=True, exist_ok=True)
np.savez(VECTORS / f"inner{'' if variant == 'base' else '-' + variant}-{seed}.npz", users=users, items=items)
