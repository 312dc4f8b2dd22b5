"""hetero_train.py KIND SEED: one TikTok member of README.md's table, trained on the full training set for fixed
epochs, valid never read while training; logged to hetero_train.jsonl, vectors kept as
$SCREEN_VECTORS/s19-KIND-SEED.npz. Test is never read.
"""

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import one_model_params, tiktok, train_fixed_member, unit_layer0_vectors  # noqa: E402
from multimodal import TUNED  # noqa: E402

SCHEDULE = {"batch_size": 2048, "lr": 0.014, "average_decay": 0.94}
KINDS = {  # kind: (parameter overrides, epochs, without content), README.md's table
    "B": ({}, 27, False),
    "raw": ({"graph_whitening": None}, 27, False),
    "t25": ({"temperature": 0.25}, 25, False),
    "behaviour": ({}, 20, True),
    "egonorm": ({}, 27, False),  # README.md's fourth question: unit-length layer-0 vectors
    "unit": ({"unit_layer0": True}, 27, False),  # the same through the flagship's option (a check of it)
}
LOG = HERE / "hetero_train.jsonl"


def main(kind, seed):
    torch.set_num_threads(1)
    overrides, epochs, no_content = KINDS[kind]
    if kind == "egonorm":
        unit_layer0_vectors()
    split = tiktok()
    if no_content:
        split = split.with_modalities([])
    train = {**TUNED[("tiktok", "fusiongraph")]["train"], **SCHEDULE, "epochs": epochs, "eval_every": 10 * epochs}
    params = {**one_model_params(), "ease_weight": 0.0, "temperature": 0.2, **overrides}
    row = {"kind": kind, **train_fixed_member(split, params, train, seed, f"s19-{kind}-{seed}")}
    print(json.dumps(row), flush=True)
    with open(LOG, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
