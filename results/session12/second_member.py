"""A second member trained for the pair, not alone: second_member.py SEED MODE (valid only; test never read).

Member 1 is the fixed run `base-halfA-SEED` of session10/screen.py (its vectors from $SCREEN_VECTORS). Member 2 is
the TUNED single model with seed SEED + 1000 (as `member_training="apart"` seeds it), trained on TikTok with early
stopping on valid half A, where the figure valid reads is the **pair's** (mean of the two members' cosines plus
the fixed content channel, as FusionGraph scores members). MODE:

* `stop`: member 2's loss is its own (as in the recipe); only its epoch is chosen for the pair.
* `boost`: member 2's loss is the softmax of the pair's score, member 1's cosines fixed:
  ``-log softmax_j((cos_1(u, j) + cos_2(u, j)) / (2 t))``, so member 2 learns what member 1 gets wrong.

Appends one JSON line (half A and half B figures of the pair) to $SCREEN_LOG (default screen.jsonl here) and keeps
the pair's vectors as `pair-MODE-halfA-SEED` under $SCREEN_VECTORS.
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session10" / "analysis"))
from common import VECTORS, one_model_params, tiktok, valid_half, valid_half_a, vectors  # noqa: E402

from fusionrec.evaluation import evaluate_model  # noqa: E402
from fusionrec.evaluation.benchmark import build_for_seed  # noqa: E402
from fusionrec.models import fusion_graph as fg  # noqa: E402
from fusionrec.models.losses import _CatalogSoftmax  # noqa: E402

torch.set_num_threads(1)
LOG = Path(os.environ.get("SCREEN_LOG", Path(__file__).with_name("screen.jsonl")))
DIM = 128
seed, mode = int(sys.argv[1]), sys.argv[2]
assert mode in ("stop", "boost"), mode

full_split = tiktok()
in_a = valid_half_a(full_split)
split = valid_half(full_split, in_a)
first_users, first_items = vectors(f"base-halfA-{seed}")
first_u = torch.from_numpy(np.ascontiguousarray(first_users[:, :DIM]))  # unit vectors of member 1
first_i = torch.from_numpy(np.ascontiguousarray(first_items[:, :DIM]))
channel_u, channel_i = first_users[:, DIM:], first_items[:, DIM:]


def pair_embed(self, module):
    """The pair's vectors: member 1's and member 2's unit vectors over sqrt(2), then the content channel."""
    users, items = module()
    users, items = F.normalize(users, dim=1).numpy(), F.normalize(items, dim=1).numpy()
    half = np.float32(np.sqrt(2))
    return (np.hstack([first_users[:, :DIM] / half, users / half, channel_u]).astype(np.float32),
            np.hstack([first_items[:, :DIM] / half, items / half, channel_i]).astype(np.float32))


fg.FusionGraph.embed = pair_embed

if mode == "boost":
    def boosted_member_loss(self, net, batch):
        users, rows, items = batch
        layer0 = sum(net.item_parts(None).values())
        all_users, all_items = net.propagate_items(net.user_embedding, layer0)
        t = self.params["temperature"]
        catalog_index, positions = self._softmax_items
        own = F.normalize(all_users[users], dim=1) @ F.normalize(all_items[catalog_index], dim=1).T
        with torch.no_grad():
            fixed = first_u[users] @ first_i[catalog_index].T
        logits = (own + fixed) / (2 * t)
        return _CatalogSoftmax.apply(logits, rows, positions[items])

    fg.FusionGraph._member_loss = boosted_member_loss

t = time.time()
model = build_for_seed("fusiongraph", one_model_params(), {"progress": False, "threads": 1}, seed + 1000)
assert model.params["id_dropout"] == 0 and not model.params["align_weight"] and model.params["negatives"] == "train"
model.fit(split)
half_b = valid_half(full_split, ~in_a)
row = {"variant": f"pair-{mode}-halfA", "seed": seed, "member_seed": seed + 1000,
       "valid": {k: round(float(v), 5) for k, v in evaluate_model(model, split, "valid", (20,), ("recall", "ndcg")).summary().items()},
       "valid_b": {k: round(float(v), 5) for k, v in evaluate_model(model, half_b, "valid", (20,), ("recall", "ndcg")).summary().items()},
       "s": round(time.time() - t), "best_epoch": model.history_.best_epoch,
       "s_per_epoch": round(model.history_.seconds_per_epoch, 2)}
print(json.dumps(row))
with open(LOG, "a") as f:
    f.write(json.dumps(row) + "\n")
users, items = model.user_embeddings(np.arange(split.n_users)), model.item_embeddings()
np.savez(VECTORS / f"pair-{mode}-halfA-{seed}.npz", users=users, items=items, dim=DIM)
