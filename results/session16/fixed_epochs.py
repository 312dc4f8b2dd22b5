"""fixed_epochs.py SEED TEMPERATURE: one TUNED TikTok member trained on the full training set for a fixed 27 epochs.

Valid is never read during training (no early stopping), so every valid user is held out; the model is read on
all of them and its vectors kept as $SCREEN_VECTORS/fixed-tTEMP-SEED.npz. Appends a line to fixed_epochs.jsonl.
Test is never read. README.md, "Calibration": deciding nothing.
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

from fusionrec.evaluation import evaluate_model  # noqa: E402
from fusionrec.evaluation.benchmark import build_for_seed  # noqa: E402

EPOCHS = 27  # a member's epochs chosen at temperature 0.2 in session 15's and 16's benchmarks (55 for two)


def main(seed, temperature):
    torch.set_num_threads(1)
    split = tiktok()
    schedule = {**TUNED[("tiktok", "fusiongraph")]["train"], "epochs": EPOCHS, "eval_every": 10 * EPOCHS}
    params = {**one_model_params(), "ease_weight": 0.0, "temperature": temperature}
    started = time.time()
    model = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1, **schedule}, seed)
    model.fit(split)
    res = evaluate_model(model, split, "valid", (20,), ("recall", "ndcg"))
    row = {"temperature": temperature, "seed": seed, "valid_all": {k: round(float(v), 5) for k, v in
                                                                 res.summary().items()},
           "s": round(time.time() - started), "epochs_run": model.history_.epochs_run}
    print(json.dumps(row), flush=True)
    with open(HERE / "fixed_epochs.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    VECTORS.mkdir(parents=True, exist_ok=True)
    users, items = model.user_embeddings(np.arange(split.n_users)), model.item_embeddings()
    np.savez(VECTORS / f"fixed-t{round(temperature * 100):03d}-{seed}.npz", users=users, items=items)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
