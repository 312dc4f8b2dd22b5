"""fixed_epochs.py SEED TEMPERATURE: one TUNED TikTok member trained on the full training set for a fixed 27 epochs.

Valid is never read during training (no early stopping), so every valid user is held out; the model is read on
all of them and its vectors kept as $SCREEN_VECTORS/fixed-tTEMP-SEED.npz. Appends a line to fixed_epochs.jsonl.
Test is never read. README.md, "Calibration": deciding nothing.
"""

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import one_model_params, tiktok, train_fixed_member  # noqa: E402
from multimodal import TUNED  # noqa: E402

EPOCHS = 27  # a member's epochs chosen at temperature 0.2 in session 15's and 16's benchmarks (55 for two)


def main(seed, temperature):
    torch.set_num_threads(1)
    schedule = {**TUNED[("tiktok", "fusiongraph")]["train"], "epochs": EPOCHS, "eval_every": 10 * EPOCHS}
    params = {**one_model_params(), "ease_weight": 0.0, "temperature": temperature}
    name = f"fixed-t{round(temperature * 100):03d}-{seed}"
    row = {"temperature": temperature, **train_fixed_member(tiktok(), params, schedule, seed, name)}
    print(json.dumps(row), flush=True)
    with open(HERE / "fixed_epochs.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
