"""inner_train.py SEED [VARIANT]: one TUNED TikTok member trained on session 15's train', early stopping on half A.

Variants (README.md, step 1): ``base`` (the recipe), ``t010``, ``t015``, ``t025``, ``t030`` (softmax
temperature 0.10, 0.15, 0.25, 0.30 instead of 0.2). The EASE channel is left off here; the reader adds it to the ensembles. Keeps the model's vectors as $SCREEN_VECTORS/s16-VARIANT-SEED.npz and appends a line to
inner_train.jsonl with its half-A, half-B and inner figures. The real test part is replaced by the inner items
before anything runs; test is never read.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
sys.path.insert(0, str(HERE.parent / "session15"))
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import VECTORS, one_model_params  # noqa: E402
from inner import inner_split, tiktok, valid_half, valid_half_a  # noqa: E402
from multimodal import TUNED  # noqa: E402

from fusionrec.evaluation import evaluate_model  # noqa: E402
from fusionrec.evaluation.benchmark import build_for_seed  # noqa: E402

TEMPERATURES = (0.10, 0.15, 0.25, 0.30)
VARIANTS = {"base": {"temperature": 0.2}, **{f"t{round(t * 100):03d}": {"temperature": t} for t in TEMPERATURES}}
LOG = HERE / "inner_train.jsonl"


def figures(model, split, part):
    res = evaluate_model(model, split, part, (20,), ("recall", "ndcg"))
    return {k: round(float(v), 5) for k, v in res.summary().items()}


def main(seed, variant):
    torch.set_num_threads(1)
    full = inner_split(tiktok())
    in_a = valid_half_a(full)
    split = valid_half(full, in_a)
    schedule = TUNED[("tiktok", "fusiongraph")]["train"]
    params = {**one_model_params(), "ease_weight": 0.0, **VARIANTS[variant]}  # the reader adds EASE to the pairs
    started = time.time()
    model = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1, **schedule}, seed)
    model.fit(split)
    row = {
        "variant": variant,
        "seed": seed,
        "valid_a": figures(model, split, "valid"),
        "valid_b": figures(model, valid_half(full, ~in_a), "valid"),
        "inner": figures(model, full, "test"),
        "s": round(time.time() - started),
        "best_epoch": model.history_.best_epoch,
    }
    print(json.dumps(row), flush=True)
    with open(LOG, "a") as f:
        f.write(json.dumps(row) + "\n")
    VECTORS.mkdir(parents=True, exist_ok=True)
    users, items = model.user_embeddings(np.arange(full.n_users)), model.item_embeddings()
    np.savez(VECTORS / f"s16-{variant}-{seed}.npz", users=users, items=items)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "base")
