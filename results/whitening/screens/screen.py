"""Valid-only screen of a FusionGraph variant on TikTok: screen.py SEED PARAMS_JSON TAG [GRAPH_VARIANT]."""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import numpy as np, scipy.sparse as sp, torch
torch.set_num_threads(1)
from multimodal import TUNED, load_dataset
from fusionrec.models import fusion_graph as fg
from fusionrec.models.knn_graph import knn_graph, Whitening, normalized_weights
from fusionrec.models.graph import symmetric_normalize

seed, extra, tag = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
variant = sys.argv[4] if len(sys.argv) > 4 else ""

def variant_graph(self, split):
    ds = split.dataset; masks = ds.all_feature_masks(); p = self.params
    share = normalized_weights(list(ds.features), p["modality_weights"])
    total = None
    for name, values in ds.features.items():
        mask = masks.get(name)
        white = Whitening.fit(values, mask)(values)
        if variant == "mix":
            g = 0.5 * symmetric_normalize(knn_graph(values, p["knn_k"], mask)) + 0.5 * symmetric_normalize(knn_graph(white, p["knn_k"], mask))
        elif variant.startswith("w") and variant[1:].isdigit():
            r = int(variant[1:]); tr = Whitening.fit(values, mask)
            tr = Whitening(mean=tr.mean, projection=tr.projection[:, -r:])
            g = symmetric_normalize(knn_graph(tr(values), p["knn_k"], mask))
        elif variant.startswith("v") and variant[1:].isdigit():
            frac = float("0." + variant[1:]); tr = Whitening.fit(values, mask)
            var = 1.0 / (tr.projection ** 2).sum(axis=0)
            order = np.argsort(-var); share_c = np.cumsum(var[order]) / var.sum()
            keep = order[: int((share_c < frac).sum()) + 1]
            print(name, "keeps", len(keep), "of", len(var), file=sys.stderr)
            tr = Whitening(mean=tr.mean, projection=tr.projection[:, keep])
            g = symmetric_normalize(knn_graph(tr(values), p["knn_k"], mask))
        elif variant == "sym":
            a = knn_graph(white, p["knn_k"], mask); a = a.maximum(a.T).tocsr()
            g = symmetric_normalize(a)
        else:
            raise SystemExit(variant)
        g = g * share[name]
        total = g if total is None else total + g
    return total.tocsr().astype(np.float32)

if variant in ("mix", "sym") or (variant[:1] in "wv" and variant[1:].isdigit()):
    fg.FusionGraph._catalog_graph = variant_graph

from fusionrec.evaluation.benchmark import build_for_seed
from fusionrec.evaluation import evaluate_model
split = load_dataset(Path(os.environ["FUSIONREC_DATA"]), "tiktok")
if variant == "whiteinput":
    ds = split.dataset
    for name in list(ds.features):
        mask = ds.feature_mask(name)
        ds.add_feature(name, Whitening.fit(ds.features[name], mask)(ds.features[name]), mask)
params = {**TUNED[("tiktok", "fusiongraph")]["params"], **extra}
t = time.time()
model = build_for_seed("fusiongraph", params, {"progress": False, "threads": 1}, seed)
model.fit(split)
res = evaluate_model(model, split, "valid", (20,), ("recall", "ndcg"))
row = {"tag": tag, "seed": seed, "extra": extra, "variant": variant, "valid": {k: float(v) for k, v in res.summary().items()}, "s": round(time.time() - t)}
print(json.dumps(row))
with open(Path(__file__).with_name("screen.jsonl"), "a") as f:
    f.write(json.dumps(row) + "\n")
