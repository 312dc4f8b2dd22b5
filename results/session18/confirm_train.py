"""confirm_train.py SEED: one member of the recipe (session 17's arm B: temperature 0.2, batch 2,048, 27 epochs)
trained on the full training set for fixed epochs, valid never read while training; vectors kept as
$SCREEN_VECTORS/s18-B-SEED.npz, a line appended to confirm_train.jsonl. Test is never read.
"""

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session17"))
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import one_model_params, tiktok, train_fixed_member  # noqa: E402
from fixed_screen import ARMS, TUNED  # noqa: E402


def main(seed):
    torch.set_num_threads(1)
    temperature, schedule, epochs = ARMS["B"]
    train = {**TUNED[("tiktok", "fusiongraph")]["train"], **schedule, "epochs": epochs, "eval_every": 10 * epochs}
    params = {**one_model_params(), "ease_weight": 0.0, "temperature": temperature}
    row = {"arm": "B", **train_fixed_member(tiktok(), params, train, seed, f"s18-B-{seed}")}
    print(json.dumps(row), flush=True)
    with open(HERE / "confirm_train.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]))
