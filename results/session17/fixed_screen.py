"""fixed_screen.py ARM SEED: one TikTok member of an arm of README.md, trained on the full training set for fixed epochs.

Valid is never read during training (no early stopping), so every valid user is held out; the model is read on
all of them and its vectors kept as $SCREEN_VECTORS/s17-ARM-SEED.npz. Appends a line to fixed_screen.jsonl.
Test is never read.
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

NEW_SCHEDULE = {"batch_size": 2048, "lr": 0.014, "average_decay": 0.94}
OLD_SCHEDULE = {"batch_size": 1024, "lr": 0.01, "average_decay": 0.97}
ARMS = {  # arm: (temperature, schedule, epochs), README.md's table
    "A": (0.25, NEW_SCHEDULE, 25),
    "B": (0.2, NEW_SCHEDULE, 27),
    "C": (0.2, OLD_SCHEDULE, 33),
    "D": (0.25, OLD_SCHEDULE, 31),
}
LOG = HERE / "fixed_screen.jsonl"


def main(arm, seed, prefix="s17"):
    """Train the member; its vectors are kept as PREFIX-ARM-SEED.npz and its row appended to LOG."""
    torch.set_num_threads(1)
    temperature, schedule, epochs = ARMS[arm]
    train = {**TUNED[("tiktok", "fusiongraph")]["train"], **schedule, "epochs": epochs, "eval_every": 10 * epochs}
    params = {**one_model_params(), "ease_weight": 0.0, "temperature": temperature}
    row = {"arm": arm, **train_fixed_member(tiktok(), params, train, seed, f"{prefix}-{arm}-{seed}")}
    print(json.dumps(row), flush=True)
    with open(LOG, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
