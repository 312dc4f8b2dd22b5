"""inner_screen.py SEED: one TUNED TikTok model (one member) trained on train', early stopping on valid half A.

Keeps the model's vectors (eval mode) as $SCREEN_VECTORS/inner-SEED.npz and appends one line to inner_screen.jsonl
with its half-A, half-B and inner figures. The real test part is replaced by the inner items before anything runs.
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
from common import VECTORS, one_model_params  # noqa: E402

from fusionrec.evaluation import evaluate_model  # noqa: E402
from fusionrec.evaluation.benchmark import build_for_seed  # noqa: E402

torch.set_num_threads(1)
LOG = Path(__file__).with_name("inner_screen.jsonl")

seed = int(sys.argv[1])
full = inner_split(tiktok())
split = valid_half(full, valid_half_a(full))
t = time.time()
model = build_for_seed(
    "fusiongraph", one_model_params(), {"progress": False, "threads": 1, **TUNED[("tiktok", "fusiongraph")]["train"]}, seed
)
model.fit(split)


def figures(part_split, part):
    res = evaluate_model(model, part_split, part, (20,), ("recall", "ndcg"))
    return {k: round(float(v), 5) for k, v in res.summary().items()}


row = {
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
np.savez(VECTORS / f"inner-{seed}.npz", users=users, items=items)
