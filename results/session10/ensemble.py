"""Score ensembles of screen.py runs on valid: ensemble.py SEED RUN_A RUN_B [W ...] (a run: NAME or NAME@SEED).

Each run's vectors are unit learned blocks (first `dim` columns) followed by the content channel. The ensemble's
score is w * cos_A + (1 - w) * cos_B + the channel of A (the channel is fixed, the same in every run).
Prints and appends one JSON line per weight to ensemble.jsonl. Test is never evaluated here. Lines without
"vectors": "eval" were scored on vectors that screen.py took in training mode, with the embedding noise on (see
README.md); they are kept as a record, not as evidence.
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "analysis"))
from common import VECTORS, tiktok, valid_half_a  # noqa: E402

from fusionrec.evaluation.ranking import evaluate_scores  # noqa: E402

seed, run_a, run_b = int(sys.argv[1]), sys.argv[2], sys.argv[3]
weights = [float(w) for w in sys.argv[4:] if "=" not in w] or [0.5]
options = dict(w.split("=") for w in sys.argv[4:] if "=" in w)
channel_scale = float(options.get("CH", "1"))  # CH=x scales the channel
split = tiktok()


def vectors(run):  # "name" (this seed) or "name@other_seed"
    name, _, other = run.partition("@")
    return np.load(VECTORS / f"{name}-{other or seed}.npz")


a, b = vectors(run_a), vectors(run_b)
da, db = int(a["dim"]), int(b["dim"])
train, valid = split.train.to_csr(), split.valid.to_csr()
if options.get("HALF") == "B":  # score half B of the valid users only
    valid = (valid.multiply(~valid_half_a(split)[:, None])).tocsr()
    valid.eliminate_zeros()
for w in weights:
    users = np.hstack([np.sqrt(w) * a["users"][:, :da], np.sqrt(1 - w) * b["users"][:, :db], channel_scale * a["users"][:, da:]])
    items = np.hstack([np.sqrt(w) * a["items"][:, :da], np.sqrt(1 - w) * b["items"][:, :db], a["items"][:, da:]])
    res = evaluate_scores(lambda u: users[u] @ items.T, train, valid, ks=(20,), metrics=("recall", "ndcg"))
    row = {"a": run_a, "b": run_b, "w": w, "channel": channel_scale, "half": options.get("HALF", "all"), "seed": seed, "vectors": "eval", "valid": {k: round(float(v), 5) for k, v in res.summary().items()}}
    print(json.dumps(row))
    with open(Path(__file__).with_name("ensemble.jsonl"), "a") as f:
        f.write(json.dumps(row) + "\n")
