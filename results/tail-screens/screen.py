"""Valid-only screen on TikTok (session 9): screen.py SEED VARIANT [ARG] [PARAMS_JSON] [TAIL_PRIOR=c].

Variants: base (the TUNED recipe, PARAMS_JSON on top), masked (the softmax leaves the user's other training items
out of its denominator), tailgraph (the content-graph term of an item times 1 + ARG * c / (c + d), d its training
interactions; c = TAIL_PRIOR, default 10; the same as item_graph_boost = ARG, item_graph_prior = c),
smoothfinal (the content graph smooths the behaviour-propagated item vectors instead of the layer-0 ones).
Reads FUSIONREC_DATA; appends one JSON line per run to screen.jsonl beside it.
"""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import torch
torch.set_num_threads(1)
from multimodal import TUNED, load_dataset
from fusionrec.models import fusion_graph as fg, fusion_graph_net as fgn
from fusionrec.models.content import interaction_fade

seed, variant = int(sys.argv[1]), sys.argv[2]
arg = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
for setting in sys.argv[5:]:  # NAME=VALUE environment settings
    os.environ[setting.split("=")[0]] = setting.split("=")[1]


def masked_softmax_loss(users, items, rows, positives, temperature, bf16=False):
    """-log softmax with the row's other positives left out of the denominator."""
    import torch.nn.functional as F
    scaled = F.normalize(users, dim=1) / temperature
    unit = F.normalize(items, dim=1)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = scaled @ unit.T
    logits = logits.float()
    pos = logits[rows, positives]
    negatives = logits.index_put((rows, positives), torch.tensor(float("-inf")))
    log_neg = torch.logsumexp(negatives, dim=1)
    return (torch.logaddexp(log_neg[rows], pos) - pos).mean()


if variant == "masked":
    fg.softmax_loss = masked_softmax_loss
elif variant in ("tailgraph", "smoothfinal"):
    def propagate_items(self, users, items):
        perturbation = self.perturbation if self.training else None
        final = fgn.propagate(self.user_graph, torch.cat([users, items]), self.n_layers, perturbation)
        fu, fi = final[: self.n_users], final[self.n_users :]
        if variant == "tailgraph":
            fi = fi + self.item_graph_weight * self.tail_scale * self.item_graph_power(items)
        else:  # smooth the behaviour-propagated item vectors, not the layer-0 ones
            fi = fi + self.item_graph_weight * self.item_graph_power(fi)
        return fu, fi
    fgn.FusionGraphNet.propagate_items = propagate_items
elif variant != "base":
    raise SystemExit(f"unknown variant {variant}")

from fusionrec.evaluation.benchmark import build_for_seed
from fusionrec.evaluation import evaluate_model
split = load_dataset(Path(os.environ["FUSIONREC_DATA"]), "tiktok")
if variant == "tailgraph":  # 1 + arg * 10 / (10 + d)
    fgn.FusionGraphNet.tail_scale = torch.from_numpy(1.0 + arg * interaction_fade(split, float(os.environ.get("TAIL_PRIOR", "10"))))
params = {**TUNED[("tiktok", "fusiongraph")]["params"], **extra}
t = time.time()
model = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1}, seed)
model.fit(split)
res = evaluate_model(model, split, "valid", (20,), ("recall", "ndcg"))
row = {"variant": variant + ("" if os.environ.get("TAIL_PRIOR", "10") == "10" else "-c" + os.environ["TAIL_PRIOR"]), "arg": arg, "extra": extra, "seed": seed, "valid": {k: float(v) for k, v in res.summary().items()},
       "s": round(time.time() - t), "best_epoch": getattr(model, "history_", None) and model.history_.best_epoch}
print(json.dumps(row, default=str))
with open(Path(__file__).with_name("screen.jsonl"), "a") as f:
    f.write(json.dumps(row, default=str) + "\n")
