"""Valid-only screen on TikTok (session 10): screen.py SEED VARIANT [PARAMS_JSON] [NAME=VALUE ...].

Trains the TUNED TikTok flagship (one model, not the recipe's two members) with one change, scores valid only, appends one JSON line to screen.jsonl
and keeps the fitted user/item vectors under $SCREEN_VECTORS (default /tmp/s10emb) so that ensembles of runs can
be scored afterwards (ensemble.py). Test is never evaluated here.

Variants: base (TUNED + PARAMS_JSON), itemusers (a user's layer-0 vector gains ALPHA times the mean of its
training items' layer-0 vectors; ALPHA=1 by default),
heavy, cosine, egonorm, userdrop (see their comments). HALF=A: early stopping on half A of the valid users, half B
reported as valid_b. SCREEN_LOG names another file to append to (e.g. for a re-run that checks a recorded line).
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "analysis"))
from common import VECTORS, cosine_learning_rate, one_model_params, tiktok, valid_half, valid_half_a  # noqa: E402

from fusionrec.evaluation import evaluate_model  # noqa: E402
from fusionrec.evaluation.benchmark import build_for_seed  # noqa: E402
from fusionrec.models import fusion_graph as fg  # noqa: E402
from fusionrec.models import fusion_graph_net as fgn  # noqa: E402
from fusionrec.models.graph import SparseOperator  # noqa: E402

torch.set_num_threads(1)
LOG = Path(os.environ.get("SCREEN_LOG", Path(__file__).with_name("screen.jsonl")))


seed, variant = int(sys.argv[1]), sys.argv[2]
extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
settings = dict(s.split("=", 1) for s in sys.argv[4:])
tag = settings.pop("TAG", "")

split = tiktok()
full_split = split
if settings.get("HALF") == "A":
    # early stopping reads half A of the valid users only, so that half B scores the chosen model without the bonus
    # of having been chosen on it (valid_halves in ensemble.py draws the same halves)
    split = valid_half(split, valid_half_a(split))

if variant == "itemusers":
    alpha = float(settings.get("ALPHA", "1"))
    train = split.train.to_csr().astype(np.float32)
    counts = np.maximum(np.diff(train.indptr), 1).astype(np.float32)
    mean_items = SparseOperator(sp.diags(1.0 / counts) @ train)
    original = fgn.FusionGraphNet.propagate_items

    def propagate_items(self, users, items):
        return original(self, users + alpha * (mean_items @ items), items)

    fgn.FusionGraphNet.propagate_items = propagate_items
elif variant == "heavy":
    # users with more than HEAVY training items (TikTok: 103 users, 70 % of the training interactions) are left out
    # of the loss (HEAVY_LOSS=0) and/or of the propagation graph (HEAVY_GRAPH=0)
    train = split.train.to_csr()
    heavy = np.diff(train.indptr) > int(settings.get("HEAVY", "100"))
    if settings.get("HEAVY_GRAPH", "1") == "0":
        original_adjacency = fg.normalized_adjacency

        def light_adjacency(matrix):
            return original_adjacency(sp.diags((~heavy).astype(np.float32)) @ matrix)

        fg.normalized_adjacency = light_adjacency
    if settings.get("HEAVY_LOSS", "1") == "0":
        light_positives = (np.flatnonzero((np.diff(train.indptr) > 0) & ~heavy), train)
elif variant == "cosine":
    # learning rate lr * (1 + cos(pi * e / EPOCHS)) / 2 at epoch e (0 from EPOCHS on), instead of a constant
    cosine_learning_rate(int(settings.get("EPOCHS", "40")))
elif variant in ("egonorm", "userdrop"):
    # egonorm: layer-0 user and item vectors are scaled to unit length (times their mean norm) before propagation;
    # userdrop: dropout P on the layer-0 user vectors in training
    original = fgn.FusionGraphNet.propagate_items
    rate = float(settings.get("P", "0.2"))

    def propagate_items(self, users, items):
        if variant == "egonorm":
            users = F.normalize(users, dim=1) * users.norm(dim=1).mean().detach()
            items = F.normalize(items, dim=1) * items.norm(dim=1).mean().detach()
        elif self.training:
            users = F.dropout(users, rate)
        return original(self, users, items)

    fgn.FusionGraphNet.propagate_items = propagate_items
elif variant != "base":
    raise SystemExit(f"unknown variant {variant}")

train_extra = extra.pop("train", {})  # training keys, e.g. {"train": {"lr": 0.005}}
# one model, as screened in session 10 (session 11 made the TikTok recipe two members trained apart)
params = {**one_model_params(), **extra}
t = time.time()
model = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1, **train_extra}, seed)
if variant == "heavy" and settings.get("HEAVY_LOSS", "1") == "0":
    model._positives = light_positives
model.fit(split)
res = evaluate_model(model, split, "valid", (20,), ("recall", "ndcg"))
name = variant + (f"-{tag}" if tag else "") + ("-halfA" if settings.get("HALF") == "A" else "")
row = {"variant": name, "extra": {**extra, **({"train": train_extra} if train_extra else {})}, "settings": settings, "seed": seed,
       "valid": {k: round(float(v), 5) for k, v in res.summary().items()},
       "s": round(time.time() - t), "best_epoch": model.history_.best_epoch,
       "s_per_epoch": round(model.history_.seconds_per_epoch, 2)}
if settings.get("HALF") == "A":
    half_b = valid_half(full_split, ~valid_half_a(full_split))
    res_b = evaluate_model(model, half_b, "valid", (20,), ("recall", "ndcg"))
    row["valid_b"] = {k: round(float(v), 5) for k, v in res_b.summary().items()}
print(json.dumps(row, default=str))
with open(LOG, "a") as f:
    f.write(json.dumps(row, default=str) + "\n")
# the vectors the model scores with (eval mode: calling model.embed on the module directly would run it in
# training mode, with the embedding noise on; session 10's ensembles were scored on such vectors)
users, items = model.user_embeddings(np.arange(split.n_users)), model.item_embeddings()
VECTORS.mkdir(parents=True, exist_ok=True)
np.savez(VECTORS / f"{name}-{seed}.npz", users=users, items=items, dim=params.get("embedding_dim", 128))
